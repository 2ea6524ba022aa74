package retrieval

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Synthetic vector benchmark. Environment:
//
//	VECTOR_BENCH_N      vectors in the index (default 20000)
//	VECTOR_BENCH_DIM    dimensions (default 256)
//	VECTOR_BENCH_M, VECTOR_BENCH_EFC  HNSW M and efConstruction (defaults)
//	VECTOR_BENCH_EF     comma-separated efSearch values to sweep (default 32,64,128)
//	VECTOR_BENCH_Q      recall/latency queries (default 500)
//	VECTOR_BENCH_CLUSTER  vectors per cluster (default 1000)
//
// Data: N vectors around N/CLUSTER standard-normal centres with
// per-coordinate noise σ = 1 (clusters as wide as the spread of their
// centres); queries are stored vectors plus σ = 0.5 noise. Recall@10 is
// against Exact over the same index.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type vectorBench struct {
	v        *VectorIndex
	queries  [][]float32
	exact    [][]VectorHit
	build    time.Duration
	heap     uint64
	save     time.Duration
	load     time.Duration
	fileSize int64
}

var (
	vbOnce sync.Once
	vb     *vectorBench
)

func setupVectorBench(b *testing.B) *vectorBench {
	vbOnce.Do(func() {
		n := envInt("VECTOR_BENCH_N", 20000)
		dim := envInt("VECTOR_BENCH_DIM", 256)
		nq := envInt("VECTOR_BENCH_Q", 500)
		cfg := VectorConfig{M: envInt("VECTOR_BENCH_M", DefaultM), EfConstruction: envInt("VECTOR_BENCH_EFC", DefaultEfConstruction)}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		v, _ := NewVectorIndex(dim, cfg)
		// Generated and added in chunks so the input does not double the
		// memory; the chunks share one set of centres.
		rng := rand.New(rand.NewPCG(42, 7))
		centres := make([]float32, max(n/envInt("VECTOR_BENCH_CLUSTER", 1000), 1)*dim)
		for i := range centres {
			centres[i] = float32(rng.NormFloat64())
		}
		nc := len(centres) / dim
		var queries [][]float32
		var build time.Duration
		const chunk = 50000
		for start := 0; start < n; start += chunk {
			m := min(chunk, n-start)
			ids := make([]string, m)
			vecs := make([][]float32, m)
			flat := make([]float32, m*dim)
			for i := range m {
				c := centres[rng.IntN(nc)*dim:]
				x := flat[i*dim : (i+1)*dim]
				for j := range x {
					x[j] = c[j] + float32(rng.NormFloat64())
				}
				vecs[i] = x
				ids[i] = "p" + strconv.Itoa(start+i)
			}
			for len(queries) < nq*(start+m)/n {
				src := vecs[rng.IntN(m)]
				q := make([]float32, dim)
				for j := range q {
					q[j] = src[j] + 0.5*float32(rng.NormFloat64())
				}
				queries = append(queries, q)
			}
			t0 := time.Now()
			if err := v.AddBatch(ids, vecs, nil); err != nil {
				panic(err)
			}
			build += time.Since(t0)
			if n >= 200000 {
				fmt.Fprintf(os.Stderr, "vector bench: %d/%d added, build %v\n", start+m, n, build.Round(time.Second))
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		r := &vectorBench{v: v, queries: queries, build: build, heap: after.HeapInuse - min(before.HeapInuse, after.HeapInuse)}
		// Exact reference, on all cores.
		r.exact = make([][]VectorHit, len(queries))
		var wg sync.WaitGroup
		next := make(chan int)
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := range next {
					r.exact[i] = v.Exact(queries[i], 10, nil)
				}
			})
		}
		for i := range queries {
			next <- i
		}
		close(next)
		wg.Wait()
		dir, _ := os.MkdirTemp("", "vecbench")
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "vectors.hnsw")
		t0 := time.Now()
		if err := v.SaveFile(path); err != nil {
			panic(err)
		}
		r.save = time.Since(t0)
		st, _ := os.Stat(path)
		r.fileSize = st.Size()
		t0 = time.Now()
		w, err := LoadVectorIndexFile(path)
		if err != nil {
			panic(err)
		}
		r.load = time.Since(t0)
		_ = w
		vb = r
		fmt.Fprintf(os.Stderr, "vector bench: n=%d dim=%d M=%d efC=%d: build %v (%.0f vectors/s, GOMAXPROCS=%d), heap in use %.1f MiB, save %v, load %v, file %.1f MiB\n",
			n, dim, cfg.M, cfg.EfConstruction, build.Round(time.Millisecond), float64(n)/build.Seconds(), runtime.GOMAXPROCS(0),
			float64(r.heap)/(1<<20), r.save.Round(time.Millisecond), r.load.Round(time.Millisecond), float64(r.fileSize)/(1<<20))
	})
	if vb == nil {
		b.Fatal("vector bench setup failed")
	}
	return vb
}

// BenchmarkVectorSearch reports, per efSearch: ns/op and queries/s from
// RunParallel (all GOMAXPROCS cores), recall@10 against exact search, and
// single-query p50/p99 latency measured sequentially.
func BenchmarkVectorSearch(b *testing.B) {
	r := setupVectorBench(b)
	efs := []int{32, 64, 128}
	if s := os.Getenv("VECTOR_BENCH_EF"); s != "" {
		efs = nil
		for _, f := range strings.Split(s, ",") {
			if v, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && v > 0 {
				efs = append(efs, v)
			}
		}
	}
	for _, ef := range efs {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			r.v.SetEfSearch(ef)
			var found, total int
			lat := make([]time.Duration, len(r.queries))
			for i, q := range r.queries {
				t0 := time.Now()
				got := r.v.Search(q, 10, nil)
				lat[i] = time.Since(t0)
				set := map[string]bool{}
				for _, h := range got {
					set[h.ID] = true
				}
				for _, h := range r.exact[i] {
					total++
					if set[h.ID] {
						found++
					}
				}
			}
			slices.Sort(lat)
			var next atomicCounter
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.inc() % len(r.queries)
					r.v.Search(r.queries[i], 10, nil)
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(found)/float64(total), "recall@10")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(r.build.Seconds(), "build-s")
			b.ReportMetric(float64(r.heap)/(1<<20), "heap-MiB")
			b.ReportMetric(r.load.Seconds(), "load-s")
		})
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) inc() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}
