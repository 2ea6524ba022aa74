package chat

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopassist/shopassist/retrieval"
)

// maxSearchK bounds k on /api/search.
const maxSearchK = 100

// SearchResponse is the body of GET /api/search.
type SearchResponse struct {
	Query  string  `json:"query"`
	Items  []Item  `json:"items"`
	TookMS float64 `json:"took_ms"`
}

// SearchHandler serves GET /api/search?q=&k= with products as in a products
// frame. k defaults to 10 and is at most 100.
func SearchHandler(index retrieval.Index) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		q := strings.TrimSpace(r.URL.Query().Get("q"))
		if q == "" {
			httpError(w, http.StatusBadRequest, `missing query parameter "q"`)
			return
		}
		if len(q) > MaxTextBytes {
			httpError(w, http.StatusRequestEntityTooLarge, "query too long")
			return
		}
		k := 10
		if ks := r.URL.Query().Get("k"); ks != "" {
			n, err := strconv.Atoi(ks)
			if err != nil || n < 1 || n > maxSearchK {
				httpError(w, http.StatusBadRequest, `"k" must be an integer from 1 to 100`)
				return
			}
			k = n
		}
		start := time.Now()
		hits, err := index.Search(r.Context(), retrieval.Query{Text: q, K: k})
		if err != nil {
			httpError(w, http.StatusServiceUnavailable, "search failed")
			return
		}
		writeJSON(w, http.StatusOK, SearchResponse{
			Query:  q,
			Items:  Items(hits),
			TookMS: float64(time.Since(start).Microseconds()) / 1000,
		})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
