package ranking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"
)

// Remote scores pairs on a rerank server: POST URL with
// {"query": q, "texts": [...]}, answered by a JSON array of
// {"index": i, "score": s}, one per text in any order (the /rerank API of
// Hugging Face text-embeddings-inference and of training/'s reference
// server; other fields are ignored). It is safe for concurrent use.
type Remote struct {
	url     string
	shown   string // url with any password masked, for errors
	token   string
	timeout time.Duration
	maxBody int64
	client  *http.Client
	own     bool // client created here: Close drops its idle connections
}

var _ Reranker = (*Remote)(nil)

// NewRemote checks cfg.URL (absolute http or https) and returns a client.
func NewRemote(cfg Config) (*Remote, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ranking: rerank url %q: want an absolute http(s) URL", redactURL(cfg.URL))
	}
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 {
		return nil, fmt.Errorf("ranking: rerank timeout and response limit must not be negative")
	}
	r := &Remote{url: cfg.URL, shown: u.Redacted(), token: cfg.Token, timeout: cfg.Timeout,
		maxBody: cfg.MaxResponseBytes, client: cfg.HTTPClient}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.maxBody == 0 {
		r.maxBody = DefaultMaxResponseBytes
	}
	if r.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// The default of 2 idle connections per host would make concurrent
		// turns open (and TIME_WAIT) a connection per call.
		t.MaxIdleConnsPerHost = 64
		r.client, r.own = &http.Client{Transport: t}, true
	}
	return r, nil
}

type rerankRequest struct {
	Query string   `json:"query"`
	Texts []string `json:"texts"`
}

type rerankResult struct {
	Index *int     `json:"index"`
	Score *float64 `json:"score"`
}

// Score sends one request bounded by Config.Timeout (and ctx). Every
// failure but the caller's ctx ending wraps ErrUnavailable; a timeout of
// its own also wraps context.DeadlineExceeded. The response must hold
// exactly one finite score for each index 0..len(texts)-1.
func (r *Remote) Score(ctx context.Context, query string, texts []string) ([]float32, error) {
	if len(texts) == 0 {
		return []float32{}, nil
	}
	body, err := json.Marshal(rerankRequest{Query: query, Texts: texts})
	if err != nil {
		return nil, fmt.Errorf("ranking: rerank request: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, r.shown, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	scores, err := r.do(req, len(texts))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if cctx.Err() != nil || isTimeout(err) {
			return nil, fmt.Errorf("%w: %s: timed out (limit %v): %w", ErrUnavailable, r.shown, r.timeout, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, r.shown, err)
	}
	return scores, nil
}

func (r *Remote) do(req *http.Request, n int) ([]float32, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, fmt.Errorf("status %s: %q", resp.Status, bytes.TrimSpace(msg))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, r.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(data)) > r.maxBody {
		return nil, fmt.Errorf("response larger than %d bytes", r.maxBody)
	}
	var res []rerankResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	scores := make([]float32, n)
	seen := make([]bool, n)
	for k, x := range res {
		switch {
		case x.Index == nil:
			return nil, fmt.Errorf("result %d has no index", k)
		case *x.Index < 0 || *x.Index >= n:
			return nil, fmt.Errorf("result %d: index %d out of range [0, %d)", k, *x.Index, n)
		case seen[*x.Index]:
			return nil, fmt.Errorf("result %d: index %d repeated", k, *x.Index)
		case x.Score == nil:
			return nil, fmt.Errorf("result %d (index %d) has no score", k, *x.Index)
		case math.IsNaN(*x.Score) || math.IsInf(*x.Score, 0):
			return nil, fmt.Errorf("result %d (index %d): score %v", k, *x.Index, *x.Score)
		}
		seen[*x.Index] = true
		scores[*x.Index] = float32(*x.Score)
	}
	if len(res) != n {
		for i, ok := range seen {
			if !ok {
				return nil, fmt.Errorf("%d results for %d texts: index %d missing", len(res), n, i)
			}
		}
	}
	return scores, nil
}

// Close drops idle connections of the client it created; a client passed
// in Config.HTTPClient is left alone.
func (r *Remote) Close() error {
	if r.own {
		r.client.CloseIdleConnections()
	}
	return nil
}

// isTimeout reports whether err is a network or HTTP client timeout (such
// as a Config.HTTPClient's own Timeout).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
