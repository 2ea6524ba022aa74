//go:build unix

package events

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

// BenchmarkRedisApply: RedisProfiles.Apply alone, batches of 500 generator
// events (APPLY_BENCH_USERS shoppers, default 100,000; 20,000 products)
// from 2 callers (as 2 consumers) into a private redis-server, after
// APPLY_BENCH_WARM events (default 0, untimed) have grown the profiles.
// ns/op is per event; it also reports events/s, Redis CPU (user + sys) per
// event and the test process's CPU per event (the Go side of Apply and the
// Redis client).
//
//	go test ./events -run '^$' -bench 'RedisApply$' -benchtime 300000x
func BenchmarkRedisApply(b *testing.B) { benchApply(b, ProfileConfig{}) }

// BenchmarkRedisApplySealed is BenchmarkRedisApply with profile records
// sealed (privacy.Keyring, AES-256-GCM).
//
//	go test ./events -run '^$' -bench 'RedisApplySealed$' -benchtime 300000x
func BenchmarkRedisApplySealed(b *testing.B) {
	line, err := privacy.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	kr, err := privacy.ParseKeys(line)
	if err != nil {
		b.Fatal(err)
	}
	benchApply(b, ProfileConfig{Sealer: kr})
}

func benchApply(b *testing.B, cfg ProfileConfig) {
	srv := redistest.Start(b)
	ids, lookup := benchProducts(20000)
	cfg.Lookup, cfg.SeenTTL = lookup, 10*time.Minute
	ps := NewRedisProfiles(redisClient(b, srv.Addr()), cfg)
	const batch, workers = 500, 2
	users := envInt("APPLY_BENCH_USERS", 100_000)
	ctx := context.Background()
	if warm := envInt("APPLY_BENCH_WARM", 0); warm > 1 {
		g := NewGenerator(99, ids, users, 1.1)
		for i := 0; i < warm; i += batch {
			if err := ps.Apply(ctx, g.Next(batch)); err != nil {
				b.Fatal(err)
			}
		}
	}
	per := (b.N + workers - 1) / workers
	evs := make([][]Event, workers)
	for w := range evs {
		evs[w] = NewGenerator(int64(w), ids, users, 1.1).Next(per)
	}
	cpu0, self0 := redisCPU(b, ps), processCPU()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += batch {
				if err := ps.Apply(ctx, evs[w][i:min(i+batch, per)]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	b.StopTimer()
	n := float64(per * workers)
	b.ReportMetric(n/secs, "events/s")
	b.ReportMetric((redisCPU(b, ps)-cpu0)*1e6/n, "redis_µs/event")
	b.ReportMetric((processCPU()-self0)*1e6/n, "go_µs/event")
}

// redisCPU is the server's used_cpu_user + used_cpu_sys in seconds.
func redisCPU(b *testing.B, ps *RedisProfiles) float64 {
	info, err := ps.c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			x, _ := strconv.ParseFloat(v, 64)
			total += x
		}
	}
	return total
}

// processCPU is this process's user + system CPU time in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
