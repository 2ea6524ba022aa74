package retrieval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shopassist/shopassist/inference/inferencetest"
)

// BenchmarkHybridDemo measures search over the demo catalogue with a real
// ONNX bi-encoder at $BIENCODER_DIR (skipped when unset), query encoding
// included: per mode, single-query p50/p99 over the dev queries (run
// sequentially, several passes) and queries/s from RunParallel. It also
// reports the time to embed and index the catalogue. A random stand-in of
// the intent model's shape can be made with
// testdata/gen_tiny_biencoder.py (see BENCH_NOTES.md).
func BenchmarkHybridDemo(b *testing.B) {
	dir := os.Getenv("BIENCODER_DIR")
	if dir == "" {
		b.Skip("set BIENCODER_DIR to a bi-encoder model directory")
	}
	inferencetest.RequireRuntime(b)
	enc, err := NewONNXEncoder(dir, ONNXEncoderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	products := demoProducts(b)
	qs := loadJudgments(b)
	ctx := context.Background()
	vf := filepath.Join(b.TempDir(), "vectors.hnsw")
	idx, err := NewEmbedded(Config{Encoder: enc, VectorFile: vf})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := idx.Upsert(ctx, products); err != nil {
		b.Fatal(err)
	}
	ingest := time.Since(t0)
	if err := idx.SaveVectors(); err != nil {
		b.Fatal(err)
	}
	t0 = time.Now()
	if _, err := LoadVectorIndexFile(vf); err != nil {
		b.Fatal(err)
	}
	load := time.Since(t0)
	b.Logf("%d products embedded (dim %d, pooling %s) and indexed in %v; vector file loads in %v",
		len(products), enc.Dim(), enc.Pooling(), ingest.Round(time.Millisecond), load.Round(time.Millisecond))
	for _, mode := range []string{ModeLexical, ModeDense, ModeHybrid} {
		b.Run(mode, func(b *testing.B) {
			var lat []time.Duration
			for range 5 {
				for _, q := range qs {
					t0 := time.Now()
					if _, err := idx.Search(ctx, Query{Text: q.Text, K: 100, Mode: mode}); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
			}
			slices.Sort(lat)
			var i atomicCounter
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					q := qs[i.inc()%len(qs)]
					if _, err := idx.Search(ctx, Query{Text: q.Text, K: 100, Mode: mode}); err != nil {
						panic(fmt.Sprint(err))
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(ingest.Seconds(), "ingest-s")
			b.ReportMetric(load.Seconds(), "load-s")
		})
	}
}
