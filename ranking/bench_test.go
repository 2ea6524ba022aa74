package ranking

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/retrieval"
)

// envBenchModel points the benchmarks and TestRerankerInt8Agreement at
// another cross-encoder directory (for instance a random stand-in of the
// expected size made by testdata/make_tiny.py) instead of models/reranker.
const envBenchModel = "RANKING_BENCH_MODEL"

// envBenchURL and envBenchCallers drive BenchmarkRemoteRerank50.
const (
	envBenchURL     = "RANKING_BENCH_URL"
	envBenchCallers = "RANKING_BENCH_CALLERS"
)

// benchQueries are shopper queries of the kind the dev judgments hold.
var benchQueries = []string{"bluetooth speaker", "laptop case", "external dvd drive", "wireless mouse", "hp 61 ink",
	"laser printer", "hdmi cable", "usb stick 32gb", "aa battery", "gaming laptop"}

type candidateSet struct {
	query string
	hits  []retrieval.Hit
	texts []string
}

var demo struct {
	productsOnce sync.Once
	products     []catalog.Product
	productsErr  error
	setsOnce     sync.Once
	sets         []candidateSet
	setsErr      error
}

// demoProducts loads the embedded demo catalogue once.
func demoProducts(tb testing.TB) []catalog.Product {
	demo.productsOnce.Do(func() {
		demo.products, _, demo.productsErr = catalog.Load(context.Background(), demodata.FS, []string{demodata.IcecatGlob},
			catalog.IcecatMapping(), catalog.LoadOptions{})
	})
	if demo.productsErr != nil {
		tb.Fatal(demo.productsErr)
	}
	return demo.products
}

// demoCandidates returns, per bench query, the top 50 BM25 hits over the
// embedded demo catalogue and their ProductTexts.
func demoCandidates(tb testing.TB) []candidateSet {
	products := demoProducts(tb)
	demo.setsOnce.Do(func() {
		ctx := context.Background()
		ix, err := retrieval.NewEmbedded(retrieval.Config{})
		if err != nil {
			demo.setsErr = err
			return
		}
		defer ix.Close()
		if err := ix.Upsert(ctx, products); err != nil {
			demo.setsErr = err
			return
		}
		for _, q := range benchQueries {
			hits, err := ix.Search(ctx, retrieval.Query{Text: q, K: 50})
			if err != nil {
				demo.setsErr = err
				return
			}
			cs := candidateSet{query: q, hits: hits}
			for _, h := range hits {
				cs.texts = append(cs.texts, retrieval.ProductText(h.Product))
			}
			demo.sets = append(demo.sets, cs)
		}
	})
	if demo.setsErr != nil {
		tb.Fatal(demo.setsErr)
	}
	return demo.sets
}

// rerankerDir is $RANKING_BENCH_MODEL, else models/reranker.
func rerankerDir() string {
	if dir := os.Getenv(envBenchModel); dir != "" {
		return dir
	}
	return "../models/reranker"
}

// benchModel loads the cross-encoder of rerankerDir with cfg (ModelDir
// set here), skipping when there is none.
func benchModel(b *testing.B, cfg Config) *ONNX {
	dir := rerankerDir()
	if _, err := os.Stat(filepath.Join(dir, ModelFileFloat)); err != nil {
		b.Skipf("no cross-encoder at %s (train one, or set $%s): %v", dir, envBenchModel, err)
	}
	inferencetest.RequireRuntime(b)
	cfg.ModelDir = dir
	o, err := NewONNX(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	b.Logf("model %s/%s, max length %d, %d sessions", dir, o.ModelFile(), o.MaxLength(), o.m.Sessions())
	return o
}

// BenchmarkRerank50 scores the 50 BM25 candidates of a real query per
// operation, one call at a time, with the default Config (on CPU the int8
// graph when the directory has one), and reports pairs/s, the latency
// percentiles of a call and its CPU time:
//
//	go test ./ranking -run '^$' -bench 'Rerank50$' -benchtime 200x -cpu 2
func BenchmarkRerank50(b *testing.B) {
	o := benchModel(b, Config{})
	sets := demoCandidates(b)
	ctx := context.Background()
	for _, s := range sets { // warm up each shape once
		if _, err := o.Score(ctx, s.query, s.texts); err != nil {
			b.Fatal(err)
		}
	}
	durs := make([]time.Duration, 0, b.N)
	pairs := 0
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := sets[i%len(sets)]
		start := time.Now()
		if _, err := o.Score(ctx, s.query, s.texts); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(start))
		pairs += len(s.texts)
	}
	b.StopTimer()
	// CPU time (all threads) per call: unlike latency, barely moved by
	// other processes competing for the cores.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	reportLatency(b, durs, pairs)
}

// BenchmarkRerank50FloatVsInt8 compares model.onnx and model.int8.onnx in
// one process: each operation scores the same 50 candidates with both, in
// alternating order, so that load from other processes falls on both
// alike. It reports each file's p50 and CPU time per call and their ratio:
//
//	go test ./ranking -run '^$' -bench Rerank50FloatVsInt8 -benchtime 300x -cpu 2
func BenchmarkRerank50FloatVsInt8(b *testing.B) {
	if _, err := os.Stat(filepath.Join(rerankerDir(), ModelFileInt8)); err != nil {
		b.Skipf("no int8 graph (training/quantize.py writes it): %v", err)
	}
	models := []*ONNX{benchModel(b, Config{ModelFile: ModelFileFloat}), benchModel(b, Config{ModelFile: ModelFileInt8})}
	sets := demoCandidates(b)
	ctx := context.Background()
	for _, o := range models {
		for _, s := range sets {
			if _, err := o.Score(ctx, s.query, s.texts); err != nil {
				b.Fatal(err)
			}
		}
	}
	durs := [2][]time.Duration{make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)}
	var cpu [2]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := sets[i%len(sets)]
		for k := range 2 {
			m := (i + k) % 2
			c0, start := cpuTime(), time.Now()
			if _, err := models[m].Score(ctx, s.query, s.texts); err != nil {
				b.Fatal(err)
			}
			durs[m] = append(durs[m], time.Since(start))
			cpu[m] += cpuTime() - c0
		}
	}
	b.StopTimer()
	var p50, cpuMs [2]float64
	for m := range 2 {
		slices.Sort(durs[m])
		p50[m] = float64(durs[m][len(durs[m])/2].Microseconds()) / 1e3
		cpuMs[m] = float64(cpu[m].Microseconds()) / 1e3 / float64(b.N)
	}
	b.ReportMetric(p50[0], "float-p50-ms")
	b.ReportMetric(p50[1], "int8-p50-ms")
	b.ReportMetric(cpuMs[0], "float-cpu-ms/op")
	b.ReportMetric(cpuMs[1], "int8-cpu-ms/op")
	b.ReportMetric(cpuMs[1]/cpuMs[0], "int8/float-cpu")
}

// cpuTime is the user + system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRerank50Parallel runs as many callers as GOMAXPROCS × 2 (the
// default MaxInflight) to measure throughput under load.
func BenchmarkRerank50Parallel(b *testing.B) {
	o := benchModel(b, Config{})
	sets := demoCandidates(b)
	b.SetParallelism(2)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := 0
		for pb.Next() {
			s := sets[i%len(sets)]
			if _, err := o.Score(ctx, s.query, s.texts); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N*50)/time.Since(start).Seconds(), "pairs/s")
}

// BenchmarkRemoteRerank50 sends the 50 BM25 candidates of a real query per
// operation through Remote to the rerank server at $RANKING_BENCH_URL (for
// instance training/rerank_server.py on a GPU), from
// $RANKING_BENCH_CALLERS concurrent callers (default 1), and reports
// pairs/s over the wall time and the p50/p99 of a call. Skipped when the
// variable is unset:
//
//	RANKING_BENCH_URL=http://127.0.0.1:8081/rerank RANKING_BENCH_CALLERS=8 \
//	    go test ./ranking -run '^$' -bench RemoteRerank50 -benchtime 2000x
func BenchmarkRemoteRerank50(b *testing.B) {
	u := os.Getenv(envBenchURL)
	if u == "" {
		b.Skipf("set $%s to a rerank server's URL", envBenchURL)
	}
	callers := 1
	if v := os.Getenv(envBenchCallers); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("$%s=%q: want a positive integer", envBenchCallers, v)
		}
		callers = n
	}
	r, err := NewRemote(Config{URL: u, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	sets := demoCandidates(b)
	ctx := context.Background()
	for _, s := range sets { // warm up: connections, the server's caches
		if _, err := r.Score(ctx, s.query, s.texts); err != nil {
			b.Fatal(err)
		}
	}
	durs := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				s := sets[i%len(sets)]
				t := time.Now()
				if _, err := r.Score(ctx, s.query, s.texts); err != nil {
					b.Error(err)
					return
				}
				durs[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(durs[min(len(durs)-1, len(durs)*99/100)].Microseconds())/1e3, "p99-ms")
	b.ReportMetric(float64(b.N*50)/wall.Seconds(), "pairs/s")
}

// BenchmarkRank50 is the Ranker's own cost around a reranker that answers
// at once: product texts, normalisation, features, rules and the sort.
func BenchmarkRank50(b *testing.B) {
	sets := demoCandidates(b)
	rr := &fakeReranker{fn: func(_ context.Context, _ string, texts []string) ([]float32, error) {
		out := make([]float32, len(texts))
		for i := range out {
			out[i] = float32(len(texts[i]) % 17)
		}
		return out, nil
	}}
	rk, err := NewRanker(rr, RankerConfig{Rules: Rules{
		Boosts:    []BoostRule{{Brand: "HP", Weight: 0.1}, {Category: "Notebooks", Weight: 0.05}},
		Sponsored: []SponsoredRule{{Brand: "Logitech", Boost: 0.2}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	profile := staticBoost(0.2)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := sets[i%len(sets)]
		if _, err := rk.Rank(ctx, Request{Query: s.query, Hits: s.hits, Personal: profile, K: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

type staticBoost float64

func (s staticBoost) Boost(*catalog.Product) float64 { return float64(s) }

func reportLatency(b *testing.B, durs []time.Duration, pairs int) {
	var total time.Duration
	for _, d := range durs {
		total += d
	}
	slices.Sort(durs)
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Nanoseconds()) / 1e6
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(pairs)/total.Seconds(), "pairs/s")
}
