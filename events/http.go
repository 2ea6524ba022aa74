package events

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// IngestResponse is the body of POST /api/events answers.
type IngestResponse struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []Rejection `json:"errors"`
	// Error explains a failure of the whole batch (400, 413, 503).
	Error string `json:"error,omitempty"`
}

// Handler serves POST /api/events: a JSON array or NDJSON of events (see
// Parse). Answers:
//
//	202  {"accepted":n,"rejected":m,"errors":[{"row","reason","detail"}]}:
//	     the accepted rows are published (durably for Redis) before the
//	     answer; rejected rows are listed
//	400  nothing parseable (empty body, not JSON), or every row rejected
//	413  more than lim.MaxEvents rows or lim.MaxBytes bytes: nothing accepted
//	503  stream busy (ErrBusy, Retry-After: 1) or unavailable: nothing
//	     accepted; retrying the same body is safe when rows carry ids
//	405  not POST
//
// now is the clock (nil: time.Now); log may be nil.
func Handler(s Stream, lim Limits, now func() time.Time, log *slog.Logger) http.Handler {
	lim = lim.withDefaults()
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, IngestResponse{Errors: []Rejection{}, Error: "use POST"})
			return
		}
		body := http.MaxBytesReader(w, r.Body, lim.MaxBytes+1)
		acc, rej, err := Parse(body, r.Header.Get("Content-Type"), lim, now())
		if rej == nil {
			rej = []Rejection{}
		}
		switch {
		case errors.Is(err, ErrTooLarge):
			writeJSON(w, http.StatusRequestEntityTooLarge, IngestResponse{Errors: rej, Error: err.Error()})
			return
		case err != nil:
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeJSON(w, http.StatusRequestEntityTooLarge, IngestResponse{Errors: rej, Error: "body too large"})
				return
			}
			writeJSON(w, http.StatusBadRequest, IngestResponse{Errors: rej, Error: err.Error()})
			return
		}
		if len(acc) == 0 {
			writeJSON(w, http.StatusBadRequest, IngestResponse{Rejected: len(rej), Errors: rej, Error: "no acceptable events"})
			return
		}
		if err := s.Publish(r.Context(), acc); err != nil {
			if log != nil {
				log.Warn("events: publish failed", "events", len(acc), "err", err)
			}
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, IngestResponse{Rejected: len(rej), Errors: rej, Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusAccepted, IngestResponse{Accepted: len(acc), Rejected: len(rej), Errors: rej})
	})
}

// RecItem is one entry of GET /api/recommendations.
type RecItem struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Brand    string  `json:"brand,omitempty"`
	Price    int64   `json:"price"`
	Currency string  `json:"currency,omitempty"`
	Image    string  `json:"image,omitempty"`
	Score    float64 `json:"score"`
	Reason   string  `json:"reason"`
}

// RecommendationsHandler serves GET /api/recommendations?user_id=&k=
// (session_id is accepted instead of user_id; k defaults to 10, at most
// 100): 200 {"user_id","items":[RecItem]}, 400 without an id or with a bad
// k, 503 when the profile store fails.
func RecommendationsHandler(rec *Recommender) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, k, ok := shopperAndK(w, r)
		if !ok {
			return
		}
		recs, err := rec.Recommend(r.Context(), id, k)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		items := make([]RecItem, len(recs))
		for i, x := range recs {
			items[i] = RecItem{ID: x.Product.ID, Title: x.Product.Title, Brand: x.Product.Brand, Price: x.Product.Price,
				Currency: x.Product.Currency, Image: x.Product.Image, Score: x.Score, Reason: x.Reason}
		}
		writeJSON(w, http.StatusOK, map[string]any{"user_id": id, "items": items})
	})
}

// ProfileHandler serves GET /api/profile?user_id= (or session_id=): the
// live Profile as JSON (an unknown shopper gets an empty profile). It is
// what `assistant bench events` polls to measure visibility latency;
// mount it behind the operator auth if profiles are sensitive.
func ProfileHandler(ps Profiles) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, ok := shopperAndK(w, r)
		if !ok {
			return
		}
		p, err := ps.Get(r.Context(), id)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
}

func shopperAndK(w http.ResponseWriter, r *http.Request) (string, int, bool) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET"})
		return "", 0, false
	}
	q := r.URL.Query()
	id := q.Get("user_id")
	if id == "" {
		id = q.Get("session_id")
	}
	if id == "" || len(id) > DefaultMaxFieldLen {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "user_id (or session_id) of 1..128 bytes is required"})
		return "", 0, false
	}
	k := 10
	if s := q.Get("k"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "k must be 1..100"})
			return "", 0, false
		}
		k = n
	}
	return id, k, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
