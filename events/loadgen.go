package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Generator produces realistic behaviour: sessions of one shopper in which
// products drawn with Zipf popularity are viewed, some clicked, some of
// those put in the cart and some of those bought, with an occasional
// search. It is not safe for concurrent use; give each goroutine its own.
type Generator struct {
	rng      *rand.Rand
	zipf     *rand.Zipf
	products []string
	users    int
	pending  []Event
	now      func() time.Time
}

// Funnel probabilities of the Generator.
const (
	genSearchP   = 0.2  // a session starts with a search
	genClickP    = 0.35 // a viewed product is clicked
	genCartP     = 0.25 // a clicked product is put in the cart
	genPurchaseP = 0.4  // a carted product is bought
)

// NewGenerator draws products from ids (Zipf with exponent s > 1, the first
// id the most popular) for users shoppers named u0…u(users−1).
func NewGenerator(seed int64, ids []string, users int, s float64) *Generator {
	rng := rand.New(rand.NewSource(seed))
	if s <= 1 {
		s = 1.1
	}
	return &Generator{rng: rng, zipf: rand.NewZipf(rng, s, 1, uint64(len(ids)-1)), products: ids,
		users: max(users, 1), now: time.Now}
}

// session appends one shopper session's events to g.pending.
func (g *Generator) session() {
	user := "u" + strconv.Itoa(g.rng.Intn(g.users))
	sess := "s" + strconv.FormatUint(g.rng.Uint64(), 36)
	now := g.now()
	ev := func(t Type, pid string) Event {
		return Event{ID: NewID(), Type: t, UserID: user, SessionID: sess, ProductID: pid, TS: now, Source: "bench"}
	}
	if g.rng.Float64() < genSearchP {
		e := ev(Search, "")
		e.Query = "query " + strconv.Itoa(int(g.zipf.Uint64()%500))
		g.pending = append(g.pending, e)
	}
	for range 1 + g.rng.Intn(5) {
		pid := g.products[g.zipf.Uint64()]
		g.pending = append(g.pending, ev(View, pid))
		if g.rng.Float64() >= genClickP {
			continue
		}
		g.pending = append(g.pending, ev(Click, pid))
		if g.rng.Float64() >= genCartP {
			continue
		}
		g.pending = append(g.pending, ev(AddToCart, pid))
		if g.rng.Float64() < genPurchaseP {
			e := ev(Purchase, pid)
			e.Quantity = 1
			g.pending = append(g.pending, e)
		}
	}
}

// Next returns the next n events, in session order.
func (g *Generator) Next(n int) []Event {
	for len(g.pending) < n {
		g.session()
	}
	out := make([]Event, n)
	copy(out, g.pending)
	g.pending = append(g.pending[:0], g.pending[n:]...)
	return out
}

// LoadConfig drives RunLoad.
type LoadConfig struct {
	// BaseURL of a running server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Rate is the target events/s over all workers; 0 means as fast as the
	// server accepts.
	Rate     int
	Workers  int           // concurrent posting goroutines (default 4)
	Batch    int           // events per POST (default 500)
	Duration time.Duration // default 10 s
	Products []string      // product ids, most popular first (required)
	Users    int           // distinct shoppers (default 10,000)
	ZipfS    float64       // Zipf exponent (default 1.1)
	// ProbeEvery: a probe (one view by a fresh shopper, then polling
	// /api/profile until it shows) starts this often (default 100 ms).
	ProbeEvery   time.Duration
	ProbeTimeout time.Duration // default 10 s
	Seed         int64
	Client       *http.Client
	// AdminToken authorises the probes' GET /api/profile (the server's
	// --admin-token).
	AdminToken string
}

// LoadReport is RunLoad's result (printed as JSON by assistant bench events).
type LoadReport struct {
	Seconds        float64 `json:"seconds"` // sending time (probes may finish later)
	Sent           int64   `json:"sent"`    // events in requests answered (or failed) before the end
	Accepted       int64   `json:"accepted"`
	Rejected       int64   `json:"rejected"`
	Busy           int64   `json:"busy_batches"`  // 503 answers (events not accepted)
	Errors         int64   `json:"error_batches"` // transport errors and other statuses
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	Visibility     struct {
		Samples  int     `json:"samples"`
		Timeouts int     `json:"timeouts"`
		P50Ms    float64 `json:"p50_ms"`
		P99Ms    float64 `json:"p99_ms"`
		MaxMs    float64 `json:"max_ms"`
	} `json:"visibility"`
	FirstError string `json:"first_error,omitempty"`
}

// RunLoad posts generated events to cfg.BaseURL+"/api/events" and measures
// how long accepted probe events take to show in GET /api/profile.
func RunLoad(ctx context.Context, cfg LoadConfig) (LoadReport, error) {
	var rep LoadReport
	if cfg.BaseURL == "" || len(cfg.Products) < 2 {
		return rep, errors.New("events: load needs a base url and at least 2 products")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Users <= 0 {
		cfg.Users = 10_000
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = 100 * time.Millisecond
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers + 8}}
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var sent, acc, rej, busy, errs atomic.Int64
	var firstErr atomic.Value
	noteErr := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := NewGenerator(cfg.Seed+int64(w), cfg.Products, cfg.Users, cfg.ZipfS)
			var buf bytes.Buffer
			posted := 0
			for ctx.Err() == nil {
				if cfg.Rate > 0 { // pace this worker at Rate/Workers
					due := start.Add(time.Duration(float64(posted) / (float64(cfg.Rate) / float64(cfg.Workers)) * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
				}
				evs := g.Next(cfg.Batch)
				buf.Reset()
				enc := json.NewEncoder(&buf)
				for i := range evs {
					_ = enc.Encode(&evs[i])
				}
				posted += len(evs)
				res, err := post(ctx, cfg.Client, base+"/api/events", buf.Bytes())
				if err != nil && ctx.Err() != nil {
					return // cut off by the end of the run: not counted
				}
				sent.Add(int64(len(evs)))
				switch {
				case err != nil:
					noteErr(err)
				case res.code == http.StatusAccepted:
					acc.Add(int64(res.body.Accepted))
					rej.Add(int64(res.body.Rejected))
				case res.code == http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					noteErr(fmt.Errorf("POST /api/events: %d %s", res.code, res.body.Error))
				}
			}
		}()
	}
	var sendSecs float64
	sent2 := make(chan struct{})
	go func() { wg.Wait(); sendSecs = time.Since(start).Seconds(); close(sent2) }()
	lat, timeouts := runProbes(ctx, cfg, base, noteErr)
	<-sent2
	rep.Seconds = sendSecs
	rep.Sent, rep.Accepted, rep.Rejected, rep.Busy, rep.Errors = sent.Load(), acc.Load(), rej.Load(), busy.Load(), errs.Load()
	rep.AcceptedPerSec = float64(rep.Accepted) / rep.Seconds
	rep.Visibility.Samples, rep.Visibility.Timeouts = len(lat), timeouts
	if len(lat) > 0 {
		sort.Float64s(lat)
		rep.Visibility.P50Ms = Percentile(lat, 0.50)
		rep.Visibility.P99Ms = Percentile(lat, 0.99)
		rep.Visibility.MaxMs = lat[len(lat)-1]
	}
	if v, ok := firstErr.Load().(string); ok {
		rep.FirstError = v
	}
	return rep, nil
}

// Percentile returns the q-quantile (nearest rank) of sorted xs.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

type postResult struct {
	code int
	body IngestResponse
}

func post(ctx context.Context, c *http.Client, url string, body []byte) (postResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return postResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		return postResult{}, err
	}
	defer resp.Body.Close()
	var r postResult
	r.code = resp.StatusCode
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r.body)
	return r, nil
}

// runProbes starts a probe every cfg.ProbeEvery until ctx is done and
// returns the visibility latencies in ms (from the 202 of the probe's POST
// to the first /api/profile showing it) and the number of timeouts.
func runProbes(ctx context.Context, cfg LoadConfig, base string, noteErr func(error)) ([]float64, int) {
	var mu sync.Mutex
	var lat []float64
	timeouts := 0
	var wg sync.WaitGroup
	t := time.NewTicker(cfg.ProbeEvery)
	defer t.Stop()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return lat, timeouts
		case <-t.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Probes outlive the load's context by up to ProbeTimeout.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ProbeTimeout+5*time.Second)
			defer cancel()
			user := "probe-" + run + "-" + strconv.Itoa(n)
			e := Event{ID: NewID(), Type: View, UserID: user, ProductID: cfg.Products[n%len(cfg.Products)], TS: time.Now()}
			b, _ := json.Marshal(e)
			res, err := post(pctx, cfg.Client, base+"/api/events", b)
			if err != nil || res.code != http.StatusAccepted || res.body.Accepted != 1 {
				return // busy or failed: counted by the load workers' kind of errors only
			}
			acceptedAt := time.Now()
			deadline := acceptedAt.Add(cfg.ProbeTimeout)
			for time.Now().Before(deadline) {
				if seen, err := profileHas(pctx, cfg.Client, base, cfg.AdminToken, user); err != nil {
					noteErr(err)
					return
				} else if seen {
					mu.Lock()
					lat = append(lat, float64(time.Since(acceptedAt).Microseconds())/1000)
					mu.Unlock()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			timeouts++
			mu.Unlock()
		}()
	}
}

func profileHas(ctx context.Context, c *http.Client, base, token, user string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/profile?user_id="+user, nil)
	if err != nil {
		return false, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET /api/profile: %d", resp.StatusCode)
	}
	var p Profile
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return false, err
	}
	return p.Counts[View] > 0, nil
}
