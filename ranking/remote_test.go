package ranking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rerankServer answers /rerank with score = 10 - index for each text (so
// the first text scores best), passing the results through edit first.
func rerankServer(t *testing.T, edit func(w http.ResponseWriter, r *http.Request, res []map[string]any) bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query string   `json:"query"`
			Texts []string `json:"texts"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || dec.Decode(&req) != nil || req.Query == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		res := make([]map[string]any, len(req.Texts))
		for i := range req.Texts {
			res[i] = map[string]any{"index": i, "score": 10 - float64(i), "text": req.Texts[i]}
		}
		if edit != nil && !edit(w, r, res) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newRemote(t *testing.T, cfg Config) *Remote {
	t.Helper()
	r, err := NewRemote(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRemoteHappyPathShuffled(t *testing.T) {
	var auth string
	srv := rerankServer(t, func(w http.ResponseWriter, r *http.Request, res []map[string]any) bool {
		auth = r.Header.Get("Authorization")
		rand.Shuffle(len(res), func(i, j int) { res[i], res[j] = res[j], res[i] })
		return true
	})
	rr := newRemote(t, Config{URL: srv.URL + "/rerank", Token: "tok", Timeout: 10 * time.Second})
	texts := []string{"a", "b", "c", "d", "e", "f", "g"}
	for range 5 {
		got, err := rr.Score(context.Background(), "q", texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range got {
			if s != float32(10-i) {
				t.Fatalf("scores = %v, want 10-index in text order", got)
			}
		}
	}
	if auth != "Bearer tok" {
		t.Errorf("Authorization = %q", auth)
	}
	if got, err := rr.Score(context.Background(), "q", nil); err != nil || len(got) != 0 {
		t.Errorf("no texts: %v %v", got, err)
	}
}

func TestRemoteBadResponses(t *testing.T) {
	cases := []struct {
		name string
		edit func(w http.ResponseWriter, r *http.Request, res []map[string]any) bool
		want string
	}{
		{"index out of range", func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			res[1]["index"] = 3
			return true
		}, "index 3 out of range [0, 3)"},
		{"negative index", func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			res[0]["index"] = -1
			return true
		}, "index -1 out of range"},
		{"repeated index", func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			res[2]["index"] = 0
			return true
		}, "index 0 repeated"},
		{"missing index", func(w http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			json.NewEncoder(w).Encode(res[:2])
			return false
		}, "2 results for 3 texts: index 2 missing"},
		{"no index field", func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			delete(res[1], "index")
			return true
		}, "result 1 has no index"},
		{"no score", func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			delete(res[1], "score")
			return true
		}, "result 1 (index 1) has no score"},
		{"string score", func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			res[1]["score"] = "high"
			return true
		}, "decode response"},
		{"not json", func(w http.ResponseWriter, _ *http.Request, _ []map[string]any) bool {
			fmt.Fprint(w, "<html>gateway</html>")
			return false
		}, "decode response"},
		{"status 500", func(w http.ResponseWriter, _ *http.Request, _ []map[string]any) bool {
			http.Error(w, "model crashed", http.StatusInternalServerError)
			return false
		}, `status 500 Internal Server Error: "model crashed"`},
		{"status 429", func(w http.ResponseWriter, _ *http.Request, _ []map[string]any) bool {
			http.Error(w, "overloaded", http.StatusTooManyRequests)
			return false
		}, "status 429"},
		{"too large", func(w http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			res[0]["text"] = strings.Repeat("x", 2000)
			return true
		}, "response larger than 1000 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := rerankServer(t, c.edit)
			rr := newRemote(t, Config{URL: srv.URL, MaxResponseBytes: 1000, Timeout: 10 * time.Second})
			got, err := rr.Score(context.Background(), "q", []string{"a", "b", "c"})
			if err == nil {
				t.Fatalf("scores %v, want an error %q", got, c.want)
			}
			if !errors.Is(err, ErrUnavailable) || Reason(err) != "unavailable" {
				t.Errorf("err %v does not wrap ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestRemoteTimeout(t *testing.T) {
	srv := rerankServer(t, func(_ http.ResponseWriter, r *http.Request, _ []map[string]any) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return false
	})
	rr := newRemote(t, Config{URL: srv.URL, Timeout: 30 * time.Millisecond})
	_, err := rr.Score(context.Background(), "q", []string{"a"})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || Reason(err) != "timeout" {
		t.Fatalf("err = %v (reason %q), want ErrUnavailable and DeadlineExceeded", err, Reason(err))
	}
	// The caller's own context ending is not the server's fault.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	_, err = newRemote(t, Config{URL: srv.URL, Timeout: 10 * time.Second}).Score(ctx, "q", []string{"a"})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("caller canceled: err = %v, want context.Canceled only", err)
	}
}

func TestRemoteDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := newRemote(t, Config{URL: url, Timeout: 10 * time.Second}).Score(context.Background(), "q", []string{"a"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// A remote reranker that fails leaves the Ranker with the retrieval order.
func TestRankerFallsBackWhenRemoteFails(t *testing.T) {
	hits := testHits(6)
	for _, c := range []struct {
		name, reason string
		timeout      time.Duration
		edit         func(w http.ResponseWriter, r *http.Request, res []map[string]any) bool
	}{
		{"500", "unavailable", 10 * time.Second, func(w http.ResponseWriter, _ *http.Request, _ []map[string]any) bool {
			w.WriteHeader(http.StatusInternalServerError)
			return false
		}},
		{"slow", "timeout", 30 * time.Millisecond, func(_ http.ResponseWriter, r *http.Request, _ []map[string]any) bool {
			<-r.Context().Done()
			return false
		}},
		{"bad index", "unavailable", 10 * time.Second, func(_ http.ResponseWriter, _ *http.Request, res []map[string]any) bool {
			res[0]["index"] = 99
			return true
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := rerankServer(t, c.edit)
			rk, err := NewRanker(newRemote(t, Config{URL: srv.URL, Timeout: c.timeout}), RankerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := rk.Rank(context.Background(), Request{Query: "q", Hits: hits})
			if err != nil {
				t.Fatalf("Rank failed the turn: %v", err)
			}
			if !res.Fallback || Reason(res.Cause) != c.reason {
				t.Fatalf("Fallback %v cause %v (reason %q), want fallback with reason %q", res.Fallback, res.Cause, Reason(res.Cause), c.reason)
			}
			assertOrder(t, res, "p0", "p1", "p2", "p3", "p4", "p5")
		})
	}
	// And a working server reverses nothing: its scores favour early texts.
	srv := rerankServer(t, nil)
	rk, _ := NewRanker(newRemote(t, Config{URL: srv.URL, Timeout: 10 * time.Second}), RankerConfig{})
	res, err := rk.Rank(context.Background(), Request{Query: "q", Hits: hits})
	if err != nil || res.Fallback {
		t.Fatalf("working server: %v %v", err, res.Cause)
	}
	assertOrder(t, res, "p0", "p1", "p2", "p3", "p4", "p5")
}
