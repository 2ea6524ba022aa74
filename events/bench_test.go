package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

// benchProducts are synthetic ids with a lookup (brand and category from the
// id) so profile updates do the work they do in production.
func benchProducts(n int) ([]string, ProductLookup) {
	ids := make([]string, n)
	prods := make(map[string]*catalog.Product, n)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
		prods[ids[i]] = &catalog.Product{ID: ids[i], Brand: "brand" + strconv.Itoa(i%50),
			Category: []string{"cat" + strconv.Itoa(i%10), "sub" + strconv.Itoa(i%100)}, Price: int64(1000 + i%50000), Currency: "EUR"}
	}
	return ids, func(id string) (*catalog.Product, bool) { p, ok := prods[id]; return p, ok }
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkRedisPublish: events/s accepted by RedisStream.Publish (XADD
// MAXLEN ~ pipelines of 500) from 4 goroutines into a private redis-server;
// EVENTS_BENCH_SEALED=1 seals the entries.
//
//	go test ./events -run '^$' -bench RedisPublish -benchtime 1000000x
func BenchmarkRedisPublish(b *testing.B) {
	srv := redistest.Start(b)
	ids, _ := benchProducts(20000)
	cfg := Config{MaxLen: 50_000_000}
	if os.Getenv("EVENTS_BENCH_SEALED") != "" {
		cfg.Sealer = keyring(b, "bench")
	}
	s, err := NewRedisStream(context.Background(), redisClient(b, srv.Addr()), cfg)
	if err != nil {
		b.Fatal(err)
	}
	const batch, workers = 500, 4
	per := (b.N + workers - 1) / workers
	gens := make([][]Event, workers)
	for w := range gens {
		gens[w] = NewGenerator(int64(w), ids, 100_000, 1.1).Next(min(per, 100_000))
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := gens[w]
			for sent := 0; sent < per; sent += batch {
				off := sent % len(evs)
				end := min(off+batch, len(evs), off+per-sent)
				if err := s.Publish(context.Background(), evs[off:end]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*workers)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkRedisEndToEnd publishes b.N events at EVENTS_BENCH_RATE events/s
// (default 50,000) from 4 goroutines while EVENTS_BENCH_CONSUMERS consumers
// (default 2) apply them to Redis profiles; it reports the applied rate and
// the latency from Publish returning to the Apply that made a batch's probe
// event visible (p50, p99). EVENTS_BENCH_SEALED=1 encrypts the stream
// entries and the profiles.
//
//	go test ./events -run '^$' -bench RedisEndToEnd -benchtime 1500000x
func BenchmarkRedisEndToEnd(b *testing.B) {
	srv := redistest.Start(b)
	rate := envInt("EVENTS_BENCH_RATE", 50_000)
	consumers := envInt("EVENTS_BENCH_CONSUMERS", 2)
	ids, lookup := benchProducts(20000)
	var sealer privacy.Sealer
	if os.Getenv("EVENTS_BENCH_SEALED") != "" {
		sealer = keyring(b, "bench")
	}
	ps := NewRedisProfiles(redisClient(b, srv.Addr()), ProfileConfig{Lookup: lookup, SeenTTL: 10 * time.Minute, Sealer: sealer})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	published := map[string]time.Time{}
	applied := map[string]time.Time{}
	var appliedN int64
	allDone := make(chan struct{})
	for c := range consumers {
		s, err := NewRedisStream(ctx, redisClient(b, srv.Addr()), Config{Consumer: fmt.Sprint("c", c), MaxLen: 50_000_000, Sealer: sealer})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			_ = s.Consume(ctx, func(ctx context.Context, evs []Event) error {
				if err := ps.Apply(ctx, evs); err != nil {
					return err
				}
				now := time.Now()
				mu.Lock()
				for _, e := range evs {
					if e.Source == "probe" {
						applied[e.ID] = now
					}
				}
				appliedN += int64(len(evs))
				if appliedN >= int64(b.N) {
					select {
					case <-allDone:
					default:
						close(allDone)
					}
				}
				mu.Unlock()
				return nil
			})
		}()
	}
	pub, err := NewRedisStream(ctx, redisClient(b, srv.Addr()), Config{MaxLen: 50_000_000, Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	const batch, workers = 100, 4
	per := (b.N + workers - 1) / workers
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := NewGenerator(int64(w), ids, 100_000, 1.1)
			perWorker := float64(rate) / workers
			for sent := 0; sent < per; sent += batch {
				if d := time.Until(start.Add(time.Duration(float64(sent) / perWorker * float64(time.Second)))); d > 0 {
					time.Sleep(d)
				}
				evs := g.Next(min(batch, per-sent))
				evs[0].Source = "probe"
				if err := pub.Publish(ctx, evs); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				published[evs[0].ID] = time.Now()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	pubSecs := time.Since(start).Seconds()
	select {
	case <-allDone:
	case <-time.After(5 * time.Minute):
		b.Fatal("consumers did not apply every event")
	}
	total := time.Since(start).Seconds()
	b.StopTimer()
	if os.Getenv("EVENTS_BENCH_STATS") != "" && b.N > 1 {
		info, _ := redisClient(b, srv.Addr()).Info(context.Background(), "commandstats", "cpu").Result()
		fmt.Fprintln(os.Stderr, info)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []float64
	for id, t0 := range published {
		if t1, ok := applied[id]; ok {
			lat = append(lat, max(0, float64(t1.Sub(t0).Microseconds())/1000))
		}
	}
	sort.Float64s(lat)
	b.ReportMetric(float64(per*workers)/pubSecs, "published/s")
	b.ReportMetric(float64(appliedN)/total, "applied/s")
	b.ReportMetric(Percentile(lat, 0.5), "p50_ms")
	b.ReportMetric(Percentile(lat, 0.99), "p99_ms")
}

// TestLoadGeneratorAgainstHTTP runs RunLoad for a moment against the real
// handlers (in-process backend) and checks that everything sent is accepted
// and probes become visible. With EVENTS_LOAD_REDIS=1 it uses a private
// Redis and EVENTS_LOAD_SECONDS / EVENTS_LOAD_RATE for a measured run.
func TestLoadGeneratorAgainstHTTP(t *testing.T) {
	ids, lookup := benchProducts(5000)
	backend := "memory"
	if os.Getenv("EVENTS_LOAD_REDIS") != "" {
		backend = "redis"
	}
	var s Stream
	var ps Profiles
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumers := 1
	if backend == "memory" {
		s, ps = NewInProcess(Config{}), NewMemoryProfiles(ProfileConfig{Lookup: lookup})
	} else {
		srv := redistest.Start(t)
		rs, err := NewRedisStream(ctx, redisClient(t, srv.Addr()), Config{Consumer: "c0"})
		if err != nil {
			t.Fatal(err)
		}
		s, ps = rs, NewRedisProfiles(redisClient(t, srv.Addr()), ProfileConfig{Lookup: lookup, SeenTTL: 10 * time.Minute})
		consumers = envInt("EVENTS_BENCH_CONSUMERS", 2)
		for c := 1; c < consumers; c++ {
			rc, err := NewRedisStream(ctx, redisClient(t, srv.Addr()), Config{Consumer: fmt.Sprint("c", c)})
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = rc.Consume(ctx, ps.Apply) }()
		}
	}
	go func() { _ = s.Consume(ctx, ps.Apply) }()
	mux := http.NewServeMux()
	mux.Handle("/api/events", Handler(s, Limits{}, nil, nil))
	mux.Handle("/api/profile", ProfileHandler(ps))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	secs := envInt("EVENTS_LOAD_SECONDS", 1)
	rate := envInt("EVENTS_LOAD_RATE", 2000)
	rep, err := RunLoad(ctx, LoadConfig{BaseURL: srv.URL, Rate: rate, Workers: 4, Batch: 500,
		Duration: time.Duration(secs) * time.Second, Products: ids, Users: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(rep)
	t.Logf("%s backend, %d consumers: %s", backend, consumers, out)
	if rep.Accepted == 0 || rep.Rejected != 0 || rep.Errors != 0 || rep.Accepted+500*rep.Busy != rep.Sent {
		t.Fatalf("report %s: want everything sent accepted (or refused as busy), nothing rejected", out)
	}
	if rep.Visibility.Samples == 0 {
		t.Fatalf("no probe became visible: %s", out)
	}
}
