package retrieval

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// benchQueries are the dev judgment queries when the shared data is there,
// else a fixed list of the same kind.
func benchQueries(b *testing.B) []string {
	if _, err := os.Stat(judgmentsPath); err == nil {
		var qs []string
		for _, q := range loadJudgments(b) {
			qs = append(qs, q.Text)
		}
		return qs
	}
	return []string{"bluetooth speaker", "laptop case", "external dvd drive", "wireless mouse", "hp 61 ink",
		"laser printer", "hdmi cable", "usb stick 32gb", "aa battery", "iphone 8", "gaming laptop", "tv"}
}

// BenchmarkSearch runs the dev queries round-robin against the demo
// catalogue and reports per-query latency percentiles (the ns/op figure is
// the mean). k=100 is what the chat pipeline asks for before reranking.
func BenchmarkSearch(b *testing.B) {
	e := sharedDemoIndex(b)
	queries := benchQueries(b)
	for _, k := range []int{10, 100} {
		b.Run("k="+strconv.Itoa(k), func(b *testing.B) {
			ctx := context.Background()
			durs := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := e.Search(ctx, Query{Text: queries[i%len(queries)], K: k}); err != nil {
					b.Fatal(err)
				}
				durs = append(durs, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(durs)
			b.ReportMetric(float64(percentile(durs, 0.50).Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(percentile(durs, 0.99).Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// BenchmarkSearchParallel measures throughput with concurrent searchers.
func BenchmarkSearchParallel(b *testing.B) {
	e := sharedDemoIndex(b)
	queries := benchQueries(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := 0
		for pb.Next() {
			if _, err := e.Search(ctx, Query{Text: queries[i%len(queries)], K: 100}); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkBuild indexes the whole demo catalogue into a fresh index.
func BenchmarkBuild(b *testing.B) {
	products := demoProducts(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := NewEmbedded(Config{})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Upsert(context.Background(), products); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(products)), "products")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
