package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

// workload returns n events over users shoppers and the count each shopper
// must end with per type.
func workload(prefix string, n, users int) ([]Event, map[string]map[Type]int64) {
	types := []Type{View, View, View, Click, Click, AddToCart, Purchase}
	pids := []string{"lap-acme", "lap-zeta", "prn-hp", "ink-hp", "unknown-1"}
	want := map[string]map[Type]int64{}
	evs := make([]Event, n)
	now := time.Now()
	for i := range evs {
		u := fmt.Sprintf("%su%d", prefix, i%users)
		t := types[i%len(types)]
		evs[i] = ev(fmt.Sprintf("%se%d", prefix, i), t, u, pids[i%len(pids)], now)
		if want[u] == nil {
			want[u] = map[Type]int64{}
		}
		want[u][t]++
	}
	return evs, want
}

func checkCounts(t *testing.T, ps Profiles, want map[string]map[Type]int64) {
	t.Helper()
	for u, w := range want {
		p, err := ps.Get(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		for typ, n := range w {
			if p.Counts[typ] != n {
				t.Fatalf("%s: %d %s events applied, want exactly %d (all counts %v)", u, p.Counts[typ], typ, n, p.Counts)
			}
		}
		if p.Events() != sum(w) {
			t.Fatalf("%s: %d events applied, want %d", u, p.Events(), sum(w))
		}
	}
}

func sum(m map[Type]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func totalApplied(t *testing.T, ps Profiles, want map[string]map[Type]int64) int64 {
	var n int64
	for u := range want {
		p, err := ps.Get(context.Background(), u)
		if err != nil {
			return -1
		}
		n += p.Events()
	}
	return n
}

// TestRedisConsumerCrashExactlyOnce kills consumer A between applying a batch
// and acknowledging it (after applying only half of it), leaving its entries
// pending; consumer B takes them over with XAUTOCLAIM, re-delivers the
// half-applied batch and consumes the rest. Every accepted event must be
// applied exactly once, also with the stream and profiles encrypted.
func TestRedisConsumerCrashExactlyOnce(t *testing.T) {
	// EntryEvents 1: an entry per event, so the numbers below are exact;
	// 64 (the default): a crash leaves whole packed entries pending.
	for _, per := range []int{1, 64} {
		t.Run(fmt.Sprint("entry", per), func(t *testing.T) { testConsumerCrash(t, per, nil) })
	}
	t.Run("entry64-sealed", func(t *testing.T) { testConsumerCrash(t, 64, keyring(t, "A")) })
}

func testConsumerCrash(t *testing.T, entryEvents int, sealer privacy.Sealer) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	redistest.Cleanup(t, addr, prefix)
	ps := NewRedisProfiles(redisClient(t, addr), ProfileConfig{KeyPrefix: prefix + "pr:", Lookup: testLookup, Sealer: sealer})
	cfg := Config{KeyPrefix: prefix + "ev:", Batch: 50, EntryEvents: entryEvents, ClaimIdle: 300 * time.Millisecond, ClaimInterval: 100 * time.Millisecond, Sealer: sealer}
	ctx := context.Background()

	cfgA := cfg
	cfgA.Consumer = "A"
	a, err := NewRedisStream(ctx, redisClient(t, addr), cfgA)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	evs, want := workload("k", n, 40)
	for i := 0; i < n; i += 500 {
		if err := a.Publish(ctx, evs[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}

	// Consumer A applies 10 batches normally; on the 11th it applies half
	// and dies before XACK.
	actx, crash := context.WithCancel(ctx)
	appliedByA := map[string]bool{}
	batches := 0
	errA := a.Consume(actx, func(ctx context.Context, b []Event) error {
		batches++
		if batches <= 10 {
			if err := ps.Apply(ctx, b); err != nil {
				return err
			}
			for _, e := range b {
				appliedByA[e.ID] = true
			}
			return nil
		}
		half := b[:len(b)/2]
		if err := ps.Apply(ctx, half); err != nil {
			return err
		}
		for _, e := range half {
			appliedByA[e.ID] = true
		}
		crash()
		return errors.New("consumer A crashed before XACK")
	})
	if !errors.Is(errA, context.Canceled) {
		t.Fatalf("consumer A returned %v", errA)
	}
	if got := len(appliedByA); got != 10*50+25 {
		t.Fatalf("consumer A applied %d events before crashing, want 525", got)
	}
	pending, err := a.Pending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if entryEvents == 1 && pending != 50 {
		t.Fatalf("%d entries pending after the crash, want the 50 of the unacknowledged batch", pending)
	}
	if pending == 0 {
		t.Fatal("nothing pending after the crash")
	}

	// Consumer B (another process in real life: its own client) recovers.
	cfgB := cfg
	cfgB.Consumer = "B"
	b, err := NewRedisStream(ctx, redisClient(t, addr), cfgB)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	redelivered := 0 // events B saw that A had already applied
	bctx, stopB := context.WithCancel(ctx)
	doneB := make(chan error, 1)
	go func() {
		doneB <- b.Consume(bctx, func(ctx context.Context, evs []Event) error {
			mu.Lock()
			for _, e := range evs {
				if appliedByA[e.ID] {
					redelivered++
				}
			}
			mu.Unlock()
			return ps.Apply(ctx, evs)
		})
	}()
	waitFor(t, func() bool {
		p, err := b.Pending(ctx)
		return err == nil && p == 0 && totalApplied(t, ps, want) == n
	})
	stopB()
	<-doneB
	checkCounts(t, ps, want)
	mu.Lock()
	defer mu.Unlock()
	// Entries A acknowledged are not re-delivered; the half-applied batch
	// is (and its applied half is deduplicated by id).
	if entryEvents == 1 && redelivered != 25 {
		t.Fatalf("B re-delivered %d events A had applied, want the 25 of the half-applied batch", redelivered)
	}
	if redelivered < 25 {
		t.Fatalf("B re-delivered %d events A had applied, want at least the 25 of the half-applied batch", redelivered)
	}
}

// TestRedisRestartPublishFailsThenRecovers stops Redis mid-run: Publish
// returns ErrUnavailable, and after the restart the same batch (same ids)
// is accepted; the running consumer recovers and applies every accepted
// event exactly once.
func TestRedisRestartPublishFailsThenRecovers(t *testing.T) {
	srv := redistest.Start(t, redistest.Persistent())
	ctx := context.Background()
	ps := NewRedisProfiles(redisClient(t, srv.Addr()), ProfileConfig{Lookup: testLookup})
	s, err := NewRedisStream(ctx, redisClient(t, srv.Addr()), Config{Batch: 100, Consumer: "c", ClaimIdle: time.Second, ClaimInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = s.Consume(cctx, ps.Apply) }()

	evs, want := workload("r", 1000, 10)
	if err := s.Publish(ctx, evs[:500]); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	err = s.Publish(ctx, evs[500:])
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Publish with Redis down: %v, want ErrUnavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The client reconnects by itself; retry the refused batch as a client would.
	waitFor(t, func() bool { return s.Publish(ctx, evs[500:]) == nil })
	waitFor(t, func() bool { return totalApplied(t, ps, want) == 1000 })
	checkCounts(t, ps, want)
}

// TestRedisPublishBusyWhenConsumersLag: with no consumer reading, Publish
// turns to ErrBusy before the undelivered entries reach MaxLen (so MAXLEN
// trimming never drops one), and accepts again once a consumer catches up.
func TestRedisPublishBusyWhenConsumersLag(t *testing.T) {
	ctx := context.Background()
	s := redisStreamT(t, Config{MaxLen: 1000, EntryEvents: 1, Consumer: "c"}).(*RedisStream)
	evs, _ := workload("b", 950, 5)
	if err := s.Publish(ctx, evs); err != nil {
		t.Fatal(err)
	}
	more := []Event{ev("extra", View, "u", "p", time.Now())}
	waitFor(t, func() bool { return errors.Is(s.Publish(ctx, more), ErrBusy) })
	if n := s.c.XLen(ctx, s.Key()).Val(); n < 950 {
		t.Fatalf("stream holds %d entries, want all 950 undelivered ones kept", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = s.Consume(cctx, func(context.Context, []Event) error { return nil }) }()
	waitFor(t, func() bool { return s.Publish(ctx, more) == nil })
}

// TestRedisTrendingRollUpCountsOnce: minute buckets rolled up into their
// hour count once in the day window, before and after the roll-up, and an
// event arriving for an already rolled minute still counts once in both
// windows.
func TestRedisTrendingRollUpCountsOnce(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now()}
	ps := redisProfiles(t, ProfileConfig{Lookup: testLookup, Now: c.Now}).(*RedisProfiles)
	defer ps.Close()
	at := c.Now().Add(-10 * time.Minute)
	if err := ps.Apply(ctx, []Event{ev("r1", View, "u1", "lap-acme", at), ev("r2", Click, "u2", "lap-acme", at), ev("r3", View, "u3", "lap-zeta", at)}); err != nil {
		t.Fatal(err)
	}
	want := func(window time.Duration, acme, zeta float64) {
		t.Helper()
		c.Add(3 * time.Second) // past the result cache
		got, err := ps.Trending(ctx, window, 10)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]float64{}
		for _, it := range got {
			m[it.ProductID] = it.Score
		}
		if m["lap-acme"] != acme || m["lap-zeta"] != zeta || len(m) != 2 {
			t.Fatalf("Trending(%v) = %v, want lap-acme %v lap-zeta %v", window, got, acme, zeta)
		}
	}
	want(Day, 3, 1)
	want(Hour, 3, 1)
	if err := ps.rollUp(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if n := ps.c.Exists(ctx, ps.cfg.KeyPrefix+"rl:"+fmt.Sprint(at.UnixMilli()/60000)).Val(); n != 1 {
		t.Fatal("the minute was not marked rolled up")
	}
	want(Day, 3, 1)
	if err := ps.rollUp(ctx, c.Now()); err != nil { // a second roll-up adds nothing
		t.Fatal(err)
	}
	want(Day, 3, 1)
	// A late event for the rolled minute.
	if err := ps.Apply(ctx, []Event{ev("r4", Click, "u4", "lap-zeta", at)}); err != nil {
		t.Fatal(err)
	}
	want(Day, 3, 3)
	want(Hour, 3, 3)
}
