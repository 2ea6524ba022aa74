package ranking

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/retrieval"
)

// envBenchModel points the benchmarks at another cross-encoder directory
// (for instance a random stand-in of the expected size made by
// testdata/make_tiny.py) when models/reranker does not exist yet.
const envBenchModel = "RANKING_BENCH_MODEL"

// benchQueries are shopper queries of the kind the dev judgments hold.
var benchQueries = []string{"bluetooth speaker", "laptop case", "external dvd drive", "wireless mouse", "hp 61 ink",
	"laser printer", "hdmi cable", "usb stick 32gb", "aa battery", "gaming laptop"}

type candidateSet struct {
	query string
	hits  []retrieval.Hit
	texts []string
}

var benchCands struct {
	once sync.Once
	sets []candidateSet
	err  error
}

// demoCandidates returns, per bench query, the top 50 BM25 hits over the
// embedded demo catalogue and their ProductTexts.
func demoCandidates(b *testing.B) []candidateSet {
	benchCands.once.Do(func() {
		ctx := context.Background()
		products, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
		if err != nil {
			benchCands.err = err
			return
		}
		ix, err := retrieval.NewEmbedded(retrieval.Config{})
		if err != nil {
			benchCands.err = err
			return
		}
		defer ix.Close()
		if err := ix.Upsert(ctx, products); err != nil {
			benchCands.err = err
			return
		}
		for _, q := range benchQueries {
			hits, err := ix.Search(ctx, retrieval.Query{Text: q, K: 50})
			if err != nil {
				benchCands.err = err
				return
			}
			cs := candidateSet{query: q, hits: hits}
			for _, h := range hits {
				cs.texts = append(cs.texts, retrieval.ProductText(h.Product))
			}
			benchCands.sets = append(benchCands.sets, cs)
		}
	})
	if benchCands.err != nil {
		b.Fatal(benchCands.err)
	}
	return benchCands.sets
}

// benchModel loads models/reranker (or $RANKING_BENCH_MODEL), skipping
// when there is none.
func benchModel(b *testing.B, cfg Config) *ONNX {
	dir := os.Getenv(envBenchModel)
	if dir == "" {
		dir = "../models/reranker"
	}
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		b.Skipf("no cross-encoder at %s (train one, or set $%s): %v", dir, envBenchModel, err)
	}
	inferencetest.RequireRuntime(b)
	cfg.ModelDir = dir
	o, err := NewONNX(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	b.Logf("model %s, max length %d, %d sessions", dir, o.MaxLength(), o.m.Sessions())
	return o
}

// BenchmarkRerank50 scores the 50 BM25 candidates of a real query per
// operation, one call at a time, and reports pairs/s, the latency
// percentiles of a call and its CPU time:
//
//	go test ./ranking -run '^$' -bench Rerank -benchtime 200x -cpu 2
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
