// Package chatload is the WebSocket load generator behind "assistant bench
// chat": it opens many shopper sessions against a running server's /ws,
// sends a realistic mix of utterances at a target rate, and measures what a
// shopper waits for — the first products frame and the end of the turn.
//
// The load is open-loop: a scheduler starts turns at Config.Rate per second
// on idle connections (a connection has at most one turn in flight, as a
// shopper does). When every connection is busy the turn is not started and
// is counted in Report.NotSent, so an overloaded server shows up as missed
// turns and growing latency instead of a silently slower generator.
//
// The generator is safe to run in the same process as other work; it uses
// one reader goroutine per connection and one scheduler goroutine.
package chatload

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Config sets up a run.
type Config struct {
	// URL is the server's WebSocket endpoint, ws://host:port/ws.
	URL string
	// Conns is the number of shopper sessions held open.
	Conns int
	// Rate is the target turns per second over all connections; 0 opens
	// the connections and holds them idle for Duration (a memory test).
	Rate float64
	// Duration is how long turns are sent (or connections held).
	Duration time.Duration
	// Mix is the utterances to send; empty means DefaultMix.
	Mix []Utterance
	// DialConcurrency bounds connections being opened at once (default 64).
	DialConcurrency int
	// TurnTimeout gives up waiting for a turn's done (default 30s); such a
	// turn counts as an error with code "client_timeout".
	TurnTimeout time.Duration
	// Seed seeds the utterance choice.
	Seed uint64
	// Origin is sent as the Origin header when set.
	Origin string
	// OnConnected, when set, runs once all connections are open (before
	// any turn), e.g. to sample the server's memory.
	OnConnected func(open int)
}

// Utterance is one message of the mix with its relative weight and kind
// (search, followup, service … — reported per kind).
type Utterance struct {
	Kind   string
	Text   string
	Weight float64
}

//go:embed mix.tsv
var defaultMix string

// DefaultMix is the built-in mix: product searches of several shapes,
// follow-ups on the last results, and customer-service questions.
func DefaultMix() []Utterance {
	mix, err := ParseMix(strings.NewReader(defaultMix))
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return mix
}

// ParseMix reads a mix file: one utterance per line as
// "kind<TAB>weight<TAB>text" (or "kind<TAB>text" with weight 1, or just
// "text", kind "search"); blank lines and lines starting with # are skipped.
func ParseMix(r io.Reader) ([]Utterance, error) {
	var out []Utterance
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		parts := strings.Split(s, "\t")
		u := Utterance{Kind: "search", Weight: 1}
		switch len(parts) {
		case 1:
			u.Text = parts[0]
		case 2:
			u.Kind, u.Text = parts[0], parts[1]
		case 3:
			w, err := strconv.ParseFloat(parts[1], 64)
			if err != nil || w <= 0 {
				return nil, fmt.Errorf("mix line %d: weight %q is not a positive number", line, parts[1])
			}
			u.Kind, u.Weight, u.Text = parts[0], w, parts[2]
		default:
			return nil, fmt.Errorf("mix line %d: want kind<TAB>weight<TAB>text", line)
		}
		if strings.TrimSpace(u.Text) == "" || strings.TrimSpace(u.Kind) == "" {
			return nil, fmt.Errorf("mix line %d: empty kind or text", line)
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("mix: no utterances")
	}
	return out, nil
}

// LoadMixFile reads a mix file (see ParseMix).
func LoadMixFile(path string) ([]Utterance, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMix(f)
}

// Report is what a run measured. Latencies are in milliseconds.
type Report struct {
	URL         string  `json:"url"`
	Conns       int     `json:"conns"`
	Opened      int     `json:"conns_opened"`
	DialErrors  int     `json:"dial_errors"`
	TargetRate  float64 `json:"target_rate"`
	DurationS   float64 `json:"duration_s"`
	Sent        int64   `json:"turns_sent"`
	Done        int64   `json:"turns_done"`
	NotSent     int64   `json:"turns_not_sent"` // every connection was busy when a turn was due
	TurnsPerSec float64 `json:"turns_per_s"`    // done turns / duration
	// ToDone and ToProducts are times from sending a message to its done
	// frame and to its first products frame (turns that had one).
	ToDone     Latency          `json:"time_to_done_ms"`
	ToProducts Latency          `json:"time_to_first_product_ms"`
	ByKind     map[string]int64 `json:"done_by_kind"`
	Errors     map[string]int64 `json:"errors_by_code"`
	Lost       int64            `json:"connections_lost"`
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	q := func(p float64) float64 {
		i := int(p * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return Latency{N: len(d), P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: float64(d[len(d)-1].Microseconds()) / 1000}
}

// frame is the part of a server frame the generator reads.
type frame struct {
	Type    string `json:"type"`
	ReplyTo string `json:"reply_to"`
	Code    string `json:"code"`
}

// conn is one shopper session.
type conn struct {
	ws      *websocket.Conn
	busy    atomic.Bool
	dead    atomic.Bool // the reader saw the connection end
	mu      sync.Mutex  // guards the fields below and writes
	id      string      // message id of the turn in flight
	kind    string
	sent    time.Time
	gotProd bool
	timer   *time.Timer
}

type results struct {
	mu         sync.Mutex
	toDone     []time.Duration
	toProducts []time.Duration
	byKind     map[string]int64
	errors     map[string]int64
	done       atomic.Int64
	lost       atomic.Int64
	closing    atomic.Bool // the generator is closing the connections
}

func (r *results) fail(code string) {
	r.mu.Lock()
	r.errors[code]++
	r.mu.Unlock()
}

// Run opens cfg.Conns sessions and drives them for cfg.Duration. It returns
// an error only when the configuration is invalid or no connection opens.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Conns < 1 || cfg.Rate < 0 || cfg.Duration <= 0 {
		return Report{}, errors.New("chatload: need Conns >= 1, Rate >= 0 and Duration > 0")
	}
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = 64
	}
	if cfg.TurnTimeout <= 0 {
		cfg.TurnTimeout = 30 * time.Second
	}
	mix := cfg.Mix
	if len(mix) == 0 {
		mix = DefaultMix()
	}
	var total float64
	cum := make([]float64, len(mix))
	for i, u := range mix {
		total += u.Weight
		cum[i] = total
	}
	rep := Report{URL: cfg.URL, Conns: cfg.Conns, TargetRate: cfg.Rate}
	res := &results{byKind: map[string]int64{}, errors: map[string]int64{}}

	conns, dialErrs := dialAll(ctx, cfg)
	rep.Opened, rep.DialErrors = len(conns), dialErrs
	if len(conns) == 0 {
		return rep, fmt.Errorf("chatload: no connection to %s opened", cfg.URL)
	}
	defer func() {
		for _, c := range conns {
			c.ws.Close()
		}
	}()
	if cfg.OnConnected != nil {
		cfg.OnConnected(len(conns))
	}
	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Go(func() { read(c, res) })
	}

	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var sent, notSent int64
	if cfg.Rate == 0 {
		<-rctx.Done()
	} else {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		next := time.Now()
		cursor := 0
		var seq int64
	loop:
		for {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-rctx.Done():
					break loop
				case <-time.After(d):
				}
			} else if rctx.Err() != nil {
				break loop
			}
			// Round-robin to the next idle connection.
			var c *conn
			for range len(conns) {
				cand := conns[cursor]
				cursor = (cursor + 1) % len(conns)
				if !cand.dead.Load() && cand.busy.CompareAndSwap(false, true) {
					c = cand
					break
				}
			}
			if c == nil {
				notSent++
				continue
			}
			x := rng.Float64() * total
			u := mix[min(len(mix)-1, sortSearch(cum, x))]
			seq++
			if err := c.send(strconv.FormatInt(seq, 36), u, cfg.TurnTimeout, res); err != nil {
				res.fail("send_failed")
				continue
			}
			sent++
		}
	}
	elapsed := time.Since(start)
	// Let turns in flight finish (bounded by the turn timeout).
	deadline := time.Now().Add(cfg.TurnTimeout)
	for time.Now().Before(deadline) {
		idle := true
		for _, c := range conns {
			if c.busy.Load() {
				idle = false
				break
			}
		}
		if idle {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.closing.Store(true)
	for _, c := range conns {
		c.ws.Close()
	}
	readers.Wait()

	res.mu.Lock()
	defer res.mu.Unlock()
	rep.DurationS = elapsed.Seconds()
	rep.Sent, rep.NotSent, rep.Done = sent, notSent, res.done.Load()
	rep.TurnsPerSec = float64(rep.Done) / elapsed.Seconds()
	rep.ToDone, rep.ToProducts = summarise(res.toDone), summarise(res.toProducts)
	rep.ByKind, rep.Errors, rep.Lost = res.byKind, res.errors, res.lost.Load()
	return rep, nil
}

// sortSearch returns the first index whose cumulative weight exceeds x.
func sortSearch(cum []float64, x float64) int {
	i, _ := slices.BinarySearch(cum, x)
	return i
}

// dialAll opens cfg.Conns connections, DialConcurrency at a time.
func dialAll(ctx context.Context, cfg Config) ([]*conn, int) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	var hdr http.Header
	if cfg.Origin != "" {
		hdr = http.Header{"Origin": {cfg.Origin}}
	}
	var mu sync.Mutex
	var out []*conn
	var errs int
	sem := make(chan struct{}, cfg.DialConcurrency)
	var wg sync.WaitGroup
	for range cfg.Conns {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ws, resp, err := d.DialContext(ctx, cfg.URL, hdr)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			out = append(out, &conn{ws: ws})
		})
	}
	wg.Wait()
	return out, errs
}

// send starts a turn on c (which the caller marked busy).
func (c *conn) send(id string, u Utterance, timeout time.Duration, res *results) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead.Load() {
		c.busy.Store(false)
		return errors.New("connection closed")
	}
	c.id, c.kind, c.sent, c.gotProd = id, u.Kind, time.Now(), false
	msg, _ := json.Marshal(map[string]string{"type": "message", "id": id, "text": u.Text})
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		c.busy.Store(false)
		return err
	}
	c.timer = time.AfterFunc(timeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.id == id && c.busy.Load() {
			c.id = ""
			res.fail("client_timeout")
			c.busy.Store(false)
		}
	})
	return nil
}

// read consumes c's frames until the connection closes, finishing turns.
func read(c *conn, res *results) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.dead.Store(true)
			if c.busy.Load() && c.id != "" {
				res.fail("connection_lost")
				c.busy.Store(false)
			}
			c.mu.Unlock()
			if !res.closing.Load() {
				res.lost.Add(1) // the server closed it, or the network failed
			}
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil || f.ReplyTo == "" {
			continue
		}
		c.mu.Lock()
		if f.ReplyTo != c.id {
			c.mu.Unlock()
			continue
		}
		switch f.Type {
		case "products":
			if !c.gotProd {
				c.gotProd = true
				d := time.Since(c.sent)
				res.mu.Lock()
				res.toProducts = append(res.toProducts, d)
				res.mu.Unlock()
			}
		case "done":
			d := time.Since(c.sent)
			res.mu.Lock()
			res.toDone = append(res.toDone, d)
			res.byKind[c.kind]++
			res.mu.Unlock()
			res.done.Add(1)
			c.finish()
		case "error":
			res.fail(f.Code)
			c.finish()
		}
		c.mu.Unlock()
	}
}

// finish ends the turn in flight; c.mu is held.
func (c *conn) finish() {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.id = ""
	c.busy.Store(false)
}
