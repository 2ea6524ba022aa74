package catalog

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// MaxFeedBytes bounds the body of POST /api/catalog.
const MaxFeedBytes = 512 << 20

// Handler serves POST /api/catalog: the body is a feed (JSON array, JSON
// Lines or CSV, optionally gzip or zip; format from ?format= or the
// Content-Type, else sniffed), mapped with the shipped mapping named by
// ?mapping= (default, icecat, google-merchant; default when absent), and
// ingested into store; ?prune=1 removes products absent from the feed.
// Requests need "Authorization: Bearer <token>"; an empty token disables
// the endpoint. It answers the Summary as JSON, with up to 20 quarantined
// records in quarantine_sample: 200 when something was indexed, 422 when
// nothing usable was read, 413 past MaxFeedBytes, 429 while another feed
// is being ingested. onChange (may be nil) is called with the request's
// context after each batch written and after pruning, so the search index
// can follow.
func Handler(store *Store, token string, onChange func(ctx context.Context, upserted []Product, removed []string) error) http.Handler {
	busy := make(chan struct{}, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpError(w, http.StatusMethodNotAllowed, "POST a feed")
			return
		}
		if token == "" {
			httpError(w, http.StatusForbidden, "catalogue upload is disabled (no token configured)")
			return
		}
		auth := r.Header.Get("Authorization")
		got, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="catalog"`)
			httpError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		q := r.URL.Query()
		formatName := q.Get("format")
		if formatName == "" {
			formatName = r.Header.Get("Content-Type")
		}
		format, err := ParseFormat(formatName)
		if err != nil {
			format = FormatAuto // an unknown Content-Type: sniff
			if q.Get("format") != "" {
				httpError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		m := DefaultMapping()
		if name := q.Get("mapping"); name != "" {
			if m, err = ShippedMapping(name); err != nil {
				httpError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		select {
		case busy <- struct{}{}:
			defer func() { <-busy }()
		default:
			httpError(w, http.StatusTooManyRequests, "another feed is being ingested")
			return
		}
		ctx := r.Context()
		body := http.MaxBytesReader(w, r.Body, MaxFeedBytes)
		qs := &quarantineSample{max: 20}
		opts := IngestOptions{LoadOptions: LoadOptions{Quarantine: qs}, Prune: q.Get("prune") == "1" || q.Get("prune") == "true"}
		if onChange != nil {
			opts.OnChange = func(up []Product, removed []string) error { return onChange(ctx, up, removed) }
		}
		sum, err := IngestSources(ctx, []Source{ReaderSource("request", format, body)}, m, store, opts)
		resp := struct {
			Summary
			QuarantineSample []json.RawMessage `json:"quarantine_sample,omitempty"`
			Error            string            `json:"error,omitempty"`
		}{Summary: sum, QuarantineSample: qs.lines}
		status := http.StatusOK
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, ErrNothingUsable):
			status = http.StatusUnprocessableEntity
		case err != nil && ctx.Err() != nil:
			return // the client went away
		case err != nil:
			status = http.StatusInternalServerError
		}
		if err != nil {
			resp.Error = err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(resp)
	})
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// quarantineSample keeps the first max lines written to it.
type quarantineSample struct {
	max     int
	partial []byte
	lines   []json.RawMessage
}

func (q *quarantineSample) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && len(q.lines) < q.max {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			q.partial = append(q.partial, p...)
			break
		}
		line := append(q.partial, p[:i]...)
		q.partial = nil
		if len(bytes.TrimSpace(line)) > 0 {
			q.lines = append(q.lines, json.RawMessage(line))
		}
		p = p[i+1:]
	}
	return n, nil
}
