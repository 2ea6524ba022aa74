package catalog_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/catalog/internal/synth"
)

// synthFeed returns a synthetic JSON Lines feed of SYNTH_N records
// (default 100,000), written once per run, or SYNTH_FILE when set.
func synthFeed(b *testing.B) (string, int) {
	n := 100_000
	if s := os.Getenv("SYNTH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if f := os.Getenv("SYNTH_FILE"); f != "" {
		return f, n
	}
	path := filepath.Join(b.TempDir(), "synth.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := synth.Write(f, n, 1); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, n
}

// cpuSeconds is the user + system CPU time of the process so far. The
// benchmarks report products per CPU-second besides products per second:
// the 2 cores of the build machine are shared, so wall time depends on the
// neighbours' load while CPU time does not.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// heapPeak samples the in-use heap until stop is called and returns the
// peak in MiB.
func heapPeak() (stop func() float64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20)
	}
}

// BenchmarkSyntheticLoad: parse + clean + normalise of the synthetic feed
// into memory (Load keeps every product: memory grows with the catalogue).
func BenchmarkSyntheticLoad(b *testing.B) {
	path, _ := synthFeed(b)
	runtime.GC()
	stop := heapPeak()
	cpu0 := cpuSeconds()
	n := 0
	for b.Loop() {
		ps, _, err := catalog.LoadSources(context.Background(), catalog.FileSources(path), nil, catalog.LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n += len(ps)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "products/s")
	b.ReportMetric(float64(n)/(cpuSeconds()-cpu0), "products/cpu-s")
	b.ReportMetric(stop(), "peak-heap-MiB")
}

// BenchmarkSyntheticIngest: the same feed streamed into a store, as
// `assistant ingest` does (memory grows with the ids, not the products).
func BenchmarkSyntheticIngest(b *testing.B) {
	path, _ := synthFeed(b)
	runtime.GC()
	stop := heapPeak()
	cpu0 := cpuSeconds()
	n := 0
	for b.Loop() {
		b.StopTimer()
		store, err := catalog.OpenStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		sum, err := catalog.Ingest(context.Background(), []string{path}, nil, store, catalog.IngestOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n += sum.Indexed
		store.Close()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "products/s")
	b.ReportMetric(float64(n)/(cpuSeconds()-cpu0), "products/cpu-s")
	b.ReportMetric(stop(), "peak-heap-MiB")
}
