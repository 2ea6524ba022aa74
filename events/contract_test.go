package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redistest"
)

// testCatalog: two brands in the same category and price band, a printer and
// its ink (a consumable).
var testCatalog = map[string]*catalog.Product{
	"lap-acme":  {ID: "lap-acme", Title: "Acme laptop 14 inch", Brand: "Acme", Category: []string{"Computers", "Laptops"}, Price: 79900, Currency: "EUR"},
	"lap-zeta":  {ID: "lap-zeta", Title: "Zeta laptop 14 inch", Brand: "Zeta", Category: []string{"Computers", "Laptops"}, Price: 79900, Currency: "EUR"},
	"lap-acme2": {ID: "lap-acme2", Title: "Acme laptop 15 inch pro", Brand: "Acme", Category: []string{"Computers", "Laptops"}, Price: 99900, Currency: "EUR"},
	"prn-hp":    {ID: "prn-hp", Title: "HP OfficeJet printer", Brand: "HP", Category: []string{"Printers"}, Price: 12900, Currency: "EUR"},
	"ink-hp":    {ID: "ink-hp", Title: "HP 61 black ink cartridge", Brand: "HP", Category: []string{"Printers", "Ink"}, Price: 1999, Currency: "EUR"},
}

func testLookup(id string) (*catalog.Product, bool) {
	p, ok := testCatalog[id]
	return p, ok
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type profilesFactory func(t *testing.T, cfg ProfileConfig) Profiles

func redisClient(t testing.TB, addr string) *redis.Client {
	opt := &redis.Options{Addr: addr}
	ApplyRedisDefaults(opt)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func memoryProfiles(t *testing.T, cfg ProfileConfig) Profiles { return NewMemoryProfiles(cfg) }

func redisProfiles(t *testing.T, cfg ProfileConfig) Profiles {
	addr := redistest.Addr(t)
	cfg.KeyPrefix = redistest.Prefix(t)
	redistest.Cleanup(t, addr, cfg.KeyPrefix)
	return NewRedisProfiles(redisClient(t, addr), cfg)
}

func TestMemoryProfilesContract(t *testing.T) { runProfilesContract(t, memoryProfiles) }
func TestRedisProfilesContract(t *testing.T)  { runProfilesContract(t, redisProfiles) }

func ev(id string, typ Type, user, pid string, ts time.Time) Event {
	return Event{ID: id, Type: typ, UserID: user, ProductID: pid, TS: ts, Quantity: 1}
}

func runProfilesContract(t *testing.T, open profilesFactory) {
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)

	t.Run("IdempotentApply", func(t *testing.T) {
		t.Parallel()
		ps := open(t, ProfileConfig{Lookup: testLookup})
		batch := []Event{ev("a1", View, "u", "lap-acme", t0), ev("a2", Click, "u", "lap-acme", t0), ev("a3", View, "u", "zzz-unknown", t0)}
		for range 3 { // applied three times, counted once
			if err := ps.Apply(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		// A batch overlapping the first applies only its new event, once
		// even when it is in the batch twice.
		a4 := ev("a4", Purchase, "u", "lap-acme", t0)
		if err := ps.Apply(ctx, []Event{batch[0], a4, a4}); err != nil {
			t.Fatal(err)
		}
		p, err := ps.Get(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		if p.Counts[View] != 2 || p.Counts[Click] != 1 || p.Counts[Purchase] != 1 || p.Events() != 4 {
			t.Fatalf("counts %v, want view 2 click 1 purchase 1", p.Counts)
		}
		// Affinity from known products only: view 1 + click 2 + purchase 6
		// on Acme, decayed by 30 minutes of a 24 h half-life.
		want := 9 * math.Exp2(-float64(time.Since(t0))/float64(DefaultHalfLife))
		if got := p.Brands["acme"]; math.Abs(got-want) > 0.01 {
			t.Fatalf("acme affinity %v, want %.3f", got, want)
		}
		if len(p.Brands) != 1 || p.Categories["laptops"] == 0 || p.Categories["computers"] == 0 || p.PriceBands[catalog.PriceBandOf(79900, "EUR")] == 0 {
			t.Fatalf("profile %+v", p)
		}
		if len(p.RecentViews) != 2 || p.RecentViews[0] != "zzz-unknown" || p.RecentViews[1] != "lap-acme" {
			t.Fatalf("recent views %v, want [zzz-unknown lap-acme] (each once, newest first)", p.RecentViews)
		}
		if !p.HasPurchased("lap-acme") || len(p.Purchased) != 1 {
			t.Fatalf("purchased %v", p.Purchased)
		}
	})

	t.Run("Decay", func(t *testing.T) {
		t.Parallel()
		c := &clock{t: t0}
		ps := open(t, ProfileConfig{Lookup: testLookup, HalfLife: time.Hour, Now: c.Now})
		if err := ps.Apply(ctx, []Event{ev("d1", Click, "u", "lap-acme", t0)}); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
		if err := ps.Apply(ctx, []Event{ev("d2", Click, "u", "lap-zeta", t0.Add(time.Hour))}); err != nil {
			t.Fatal(err)
		}
		p, err := ps.Get(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		// One half-life later the first click weighs half the second.
		if a, z := p.Brands["acme"], p.Brands["zeta"]; math.Abs(a-1) > 1e-6 || math.Abs(z-2) > 1e-6 {
			t.Fatalf("acme %v zeta %v, want 1 and 2", a, z)
		}
		if p.Boost(testCatalog["lap-zeta"]) <= p.Boost(testCatalog["lap-acme"]) {
			t.Fatal("the more recent brand must boost more")
		}
	})

	t.Run("Rescale", func(t *testing.T) {
		t.Parallel()
		// 100 half-lives later the stored scores are rescaled, not overflowed.
		c := &clock{t: t0}
		ps := open(t, ProfileConfig{Lookup: testLookup, HalfLife: time.Minute, Now: c.Now})
		if err := ps.Apply(ctx, []Event{ev("r1", Click, "u", "lap-acme", t0.Add(-2*time.Hour))}); err != nil {
			t.Fatal(err)
		}
		if err := ps.Apply(ctx, []Event{ev("r2", Click, "u", "lap-zeta", t0)}); err != nil {
			t.Fatal(err)
		}
		p, err := ps.Get(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		if z := p.Brands["zeta"]; math.Abs(z-2) > 1e-6 {
			t.Fatalf("zeta %v, want 2", z)
		}
		if a := p.Brands["acme"]; a > 1e-9 || math.IsNaN(a) {
			t.Fatalf("acme %v, want ~0 after 120 half-lives", a)
		}
	})

	t.Run("UnknownShopper", func(t *testing.T) {
		t.Parallel()
		ps := open(t, ProfileConfig{})
		p, err := ps.Get(ctx, "nobody")
		if err != nil || p.Events() != 0 || p.Boost(testCatalog["lap-acme"]) != 0 {
			t.Fatalf("%+v %v", p, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		ps := open(t, ProfileConfig{Lookup: testLookup})
		now := time.Now()
		q := ev("x4", Search, "ann", "", now)
		q.Query = "red laptop"
		annEvs := []Event{ev("x1", View, "ann", "lap-acme", now), ev("x2", Purchase, "ann", "ink-hp", now), ev("x3", Click, "ann", "lap-zeta", now), q}
		if err := ps.Apply(ctx, append(annEvs, ev("y1", View, "ben", "lap-zeta", now))); err != nil {
			t.Fatal(err)
		}
		found, err := ps.Delete(ctx, "ann")
		if err != nil || !found {
			t.Fatalf("Delete(ann) = %v, %v; want true", found, err)
		}
		p, err := ps.Get(ctx, "ann")
		if err != nil || p.Events() != 0 || len(p.Brands)+len(p.Categories)+len(p.PriceBands)+len(p.RecentViews)+len(p.Purchased)+len(p.RecentQueries) != 0 {
			t.Fatalf("ann's profile after Delete: %+v, %v", p, err)
		}
		if found, err := ps.Delete(ctx, "ann"); err != nil || found {
			t.Fatalf("second Delete(ann) = %v, %v; want false", found, err)
		}
		if p, err := ps.Get(ctx, "ben"); err != nil || p.Events() != 1 || len(p.RecentViews) != 1 {
			t.Fatalf("ben's profile after deleting ann's: %+v, %v", p, err)
		}
		// Trending counts hold no shopper and stay.
		if tr, err := ps.Trending(ctx, Hour, 10); err != nil || len(tr) != 3 {
			t.Fatalf("trending after Delete: %+v, %v; want 3 products", tr, err)
		}
		// Deleted events stay applied (seen): re-applying them does not
		// bring the profile back.
		if err := ps.Apply(ctx, annEvs); err != nil {
			t.Fatal(err)
		}
		if p, _ := ps.Get(ctx, "ann"); p.Events() != 0 {
			t.Fatalf("redelivered events recreated the profile: %+v", p)
		}
	})

	t.Run("Trending", func(t *testing.T) {
		t.Parallel()
		c := &clock{t: time.Now()}
		ps := open(t, ProfileConfig{Lookup: testLookup, Now: c.Now})
		now := c.Now()
		var evs []Event
		for i := range 3 { // lap-zeta: 3 views 10 minutes ago
			evs = append(evs, ev(fmt.Sprint("t", i), View, fmt.Sprint("u", i), "lap-zeta", now.Add(-10*time.Minute)))
		}
		for i := range 2 { // lap-acme: 2 purchases 3 hours ago (12 > 3)
			evs = append(evs, ev(fmt.Sprint("p", i), Purchase, fmt.Sprint("u", i), "lap-acme", now.Add(-3*time.Hour)))
		}
		evs = append(evs, ev("s", Search, "u", "", now))
		evs[len(evs)-1].Query = "laptop"
		if err := ps.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
		hour, err := ps.Trending(ctx, Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(hour) != 1 || hour[0].ProductID != "lap-zeta" || hour[0].Score != 3 {
			t.Fatalf("last hour %+v, want only lap-zeta 3", hour)
		}
		day, err := ps.Trending(ctx, Day, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(day) != 2 || day[0].ProductID != "lap-acme" || day[0].Score != 12 || day[1].Score != 3 {
			t.Fatalf("last day %+v, want lap-acme 12 then lap-zeta 3", day)
		}
	})
}

// --- streams ---------------------------------------------------------------

type streamFactory func(t *testing.T, cfg Config) Stream

func memoryStream(t *testing.T, cfg Config) Stream {
	s := NewInProcess(cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func redisStreamT(t *testing.T, cfg Config) Stream {
	addr := redistest.Addr(t)
	cfg.KeyPrefix = redistest.Prefix(t)
	redistest.Cleanup(t, addr, cfg.KeyPrefix)
	s, err := NewRedisStream(context.Background(), redisClient(t, addr), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInProcessStreamContract(t *testing.T) { runStreamContract(t, memoryStream) }
func TestRedisStreamContract(t *testing.T)     { runStreamContract(t, redisStreamT) }

func runStreamContract(t *testing.T, open streamFactory) {
	t.Run("DeliversAllOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t, Config{Batch: 64, Consumer: "c1", ClaimIdle: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const n = 1000
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 2 { // two consumers share the work
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.Consume(ctx, func(_ context.Context, evs []Event) error {
					mu.Lock()
					for _, e := range evs {
						got[e.ID]++
					}
					mu.Unlock()
					return nil
				})
			}()
		}
		for i := 0; i < n; i += 100 {
			var b []Event
			for j := i; j < i+100; j++ {
				b = append(b, ev(fmt.Sprint("e", j), View, "u", "p", time.Now()))
			}
			if err := s.Publish(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n })
		cancel()
		wg.Wait()
		for id, c := range got {
			if c != 1 {
				t.Fatalf("%s delivered %d times without any failure", id, c)
			}
		}
	})

	t.Run("Erase", func(t *testing.T) {
		t.Parallel()
		s := open(t, Config{Batch: 64, Consumer: "c1", ClaimIdle: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		got := map[string]int{}
		consume := func(ctx context.Context) {
			_ = s.Consume(ctx, func(_ context.Context, evs []Event) error {
				mu.Lock()
				for _, e := range evs {
					got[e.ID]++
				}
				mu.Unlock()
				return nil
			})
		}
		delivered := func(n int) func() bool {
			return func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n }
		}
		// Each batch interleaves two users, so they share stream entries.
		batch := func(tag string, n int) []Event {
			var b []Event
			for i := range n {
				user, sess := "ann", ""
				if i%2 == 1 {
					user, sess = "", "ben-session"
				}
				e := ev(fmt.Sprint(tag, i), View, user, "p", time.Now())
				e.SessionID = sess
				b = append(b, e)
			}
			return b
		}
		// Applied first: on Redis these stay in the stream until trimmed.
		if err := s.Publish(ctx, batch("a", 20)); err != nil {
			t.Fatal(err)
		}
		c1, stop1 := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); consume(c1) }()
		waitFor(t, delivered(20))
		if p, ok := s.(interface {
			Pending(context.Context) (int64, error)
		}); ok {
			waitFor(t, func() bool { n, err := p.Pending(ctx); return err == nil && n == 0 })
		}
		stop1()
		<-done
		// Not applied yet.
		if err := s.Publish(ctx, batch("b", 10)); err != nil {
			t.Fatal(err)
		}
		n, err := s.(Eraser).Erase(ctx, func(e *Event) bool { return e.UserID == "ann" })
		if err != nil || n < 5 {
			t.Fatalf("Erase = %d, %v; want at least ann's 5 unapplied events", n, err)
		}
		go consume(ctx)
		waitFor(t, delivered(25)) // ben's 5 new ones, not ann's
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		for id, c := range got {
			if c != 1 {
				t.Errorf("%s delivered %d times", id, c)
			}
			if id[0] == 'b' && id[1]%2 == 0 { // b0, b2, …: ann's
				t.Errorf("erased event %s delivered", id)
			}
		}
		if len(got) != 25 {
			t.Errorf("%d events delivered, want 25", len(got))
		}
	})

	t.Run("FailedApplyIsRedelivered", func(t *testing.T) {
		t.Parallel()
		s := open(t, Config{Batch: 10, Consumer: "c1", ClaimIdle: 50 * time.Millisecond, ClaimInterval: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var fails atomic.Int32
		var mu sync.Mutex
		done := map[string]bool{}
		go func() {
			_ = s.Consume(ctx, func(_ context.Context, evs []Event) error {
				if fails.Add(1) <= 2 {
					return errors.New("transient")
				}
				mu.Lock()
				for _, e := range evs {
					done[e.ID] = true
				}
				mu.Unlock()
				return nil
			})
		}()
		var b []Event
		for i := range 25 {
			b = append(b, ev(fmt.Sprint("f", i), Click, "u", "p", time.Now()))
		}
		if err := s.Publish(ctx, b); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(done) == 25 })
	})
}

func TestInProcessBusy(t *testing.T) {
	s := NewInProcess(Config{QueueSize: 10})
	ctx := context.Background()
	b := make([]Event, 6)
	if err := s.Publish(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, b); !errors.Is(err, ErrBusy) {
		t.Fatalf("over capacity: %v, want ErrBusy", err)
	}
	if s.Len() != 6 {
		t.Fatalf("queue holds %d, want 6 (a refused batch adds nothing)", s.Len())
	}
	_ = s.Close()
	if err := s.Publish(ctx, b[:1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// waitFor polls cond for up to 20 s (generous: the machine is shared; the
// tests assert that it happens, not how fast).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServiceStartApplyClose(t *testing.T) {
	for _, backend := range []string{"memory", "redis", "redis-sealed"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			scfg, pcfg := Config{Backend: backend}, ProfileConfig{Backend: backend, Lookup: testLookup}
			if backend == "redis-sealed" {
				scfg.Backend, pcfg.Backend = "redis", "redis"
				scfg.Sealer, pcfg.Sealer = keyring(t, "A"), keyring(t, "A")
			}
			var addr, prefix string
			if scfg.Backend == "redis" {
				addr = redistest.Addr(t)
				prefix = redistest.Prefix(t)
				redistest.Cleanup(t, addr, prefix)
				scfg.RedisURL, scfg.KeyPrefix = "redis://"+addr, prefix+"ev:"
				pcfg.RedisURL, pcfg.KeyPrefix = "redis://"+addr, prefix+"pr:"
			}
			svc, err := Start(ctx, scfg, pcfg, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			publishAndWait(t, svc.Stream, svc.Profiles, "s", []Event{ev(NewID(), Click, "s", "lap-acme", time.Now())})
			if scfg.Sealer != nil { // Start passed the Sealers on (trending buckets aside: per product)
				c := redisClient(t, addr)
				if raw := append(rawRedis(t, c, scfg.KeyPrefix), rawProfileData(t, c, pcfg.KeyPrefix)...); bytes.Contains(raw, []byte("lap-acme")) {
					t.Fatal("the product id is stored in clear with both Sealers set")
				}
			}
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
			if err := svc.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
	if _, err := Start(context.Background(), Config{Backend: "kafka"}, ProfileConfig{}, 1, nil); err == nil {
		t.Fatal("unknown backend accepted")
	}
}
