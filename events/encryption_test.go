package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

// keyring returns a keyring of the keys named ids, the first current. A
// key's material depends only on its id, so keyring(t, "B", "A") opens what
// keyring(t, "A") sealed.
func keyring(t testing.TB, ids ...string) *privacy.Keyring {
	t.Helper()
	lines := make([]string, len(ids))
	for i, id := range ids {
		k := sha256.Sum256([]byte("events test key " + id))
		lines[i] = id + ":" + base64.StdEncoding.EncodeToString(k[:])
	}
	kr, err := privacy.ParseKeys(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestRedisProfilesContractSealed(t *testing.T) {
	runProfilesContract(t, func(t *testing.T, cfg ProfileConfig) Profiles {
		cfg.Sealer = keyring(t, "A")
		return redisProfiles(t, cfg)
	})
}

func TestRedisStreamContractSealed(t *testing.T) {
	runStreamContract(t, func(t *testing.T, cfg Config) Stream {
		cfg.Sealer = keyring(t, "A")
		return redisStreamT(t, cfg)
	})
}

// Distinctive shopper data: none of it may be stored in clear when sealed.
const (
	secretProduct = "prod-quokka-4711"
	secretBrand   = "Quokkatronic"
	secretCat     = "Marsupialware"
	secretQuery   = "quixotic kettle descaler"
)

func secretLookup(id string) (*catalog.Product, bool) {
	if id == secretProduct {
		return &catalog.Product{ID: id, Brand: secretBrand, Category: []string{secretCat}, Price: 4711, Currency: "EUR"}, true
	}
	return testLookup(id)
}

func secretEvents(prefix, user string, at time.Time) []Event {
	q := ev(prefix+"q", Search, user, "", at)
	q.Query = secretQuery
	return []Event{ev(prefix+"v", View, user, secretProduct, at), ev(prefix+"p", Purchase, user, secretProduct, at), q}
}

// rawProfileData is every key under prefix P and its content, except the
// trending buckets (P tm:, P th:), which count per product and hold no
// shopper.
func rawProfileData(t *testing.T, c *redis.Client, P string) []byte {
	t.Helper()
	var out []byte
	for _, k := range c.Keys(context.Background(), redisopt.GlobEscape(P)+"*").Val() {
		if !strings.HasPrefix(k, P+"tm:") && !strings.HasPrefix(k, P+"th:") {
			out = append(out, rawRedis(t, c, k)...)
		}
	}
	return out
}

// TestRedisProfilesSealedAtRest: with a Sealer, no key under the profiles'
// prefix holds the shopper's product, brand, category or query in clear
// (trending buckets aside: per product, no shopper); without one they do
// (the check can fail). The profile reads back the same either way.
func TestRedisProfilesSealedAtRest(t *testing.T) {
	ctx := context.Background()
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprint("sealed=", sealed), func(t *testing.T) {
			cfg := ProfileConfig{Lookup: secretLookup}
			if sealed {
				cfg.Sealer = keyring(t, "A")
			}
			ps := redisProfiles(t, cfg).(*RedisProfiles)
			if err := ps.Apply(ctx, secretEvents("e", "shopper-1", time.Now())); err != nil {
				t.Fatal(err)
			}
			raw := bytes.ToLower(rawProfileData(t, ps.c, ps.cfg.KeyPrefix))
			if !bytes.Contains(raw, []byte("shopper-1")) {
				t.Fatal("the record key is not in the dump: the check proves nothing")
			}
			for _, x := range []string{secretProduct, secretBrand, secretCat, secretQuery} {
				if in := bytes.Contains(raw, []byte(strings.ToLower(x))); in == sealed {
					t.Errorf("%q stored in clear: %v, want %v", x, in, !sealed)
				}
			}
			// Trending counts stay per product, in clear.
			if tr, err := ps.Trending(ctx, Hour, 10); err != nil || len(tr) != 1 || tr[0].ProductID != secretProduct {
				t.Fatalf("trending %+v, %v", tr, err)
			}
			p, err := ps.Get(ctx, "shopper-1")
			if err != nil {
				t.Fatal(err)
			}
			if p.Events() != 3 || p.Brands[strings.ToLower(secretBrand)] == 0 || p.Categories[strings.ToLower(secretCat)] == 0 ||
				!p.HasPurchased(secretProduct) || len(p.RecentViews) != 1 || len(p.RecentQueries) != 1 || p.RecentQueries[0] != secretQuery {
				t.Fatalf("profile %+v", p)
			}
		})
	}
}

// TestRedisProfilesPlainThenSealed: a record written without a key reads
// back once a key is configured and is sealed by the next Apply; without
// the key, a sealed record is an error, not an empty profile.
func TestRedisProfilesPlainThenSealed(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	P := redistest.Prefix(t)
	redistest.Cleanup(t, addr, P)
	c := redisClient(t, addr)
	plain := NewRedisProfiles(redisClient(t, addr), ProfileConfig{KeyPrefix: P, Lookup: secretLookup})
	defer plain.Close()
	t0 := time.Now().Add(-time.Minute)
	if err := plain.Apply(ctx, []Event{ev("e1", View, "u", secretProduct, t0)}); err != nil {
		t.Fatal(err)
	}
	if raw := c.Get(ctx, P+"u:u").Val(); raw[0] != recordPlain || !strings.Contains(raw, secretProduct) {
		t.Fatalf("record without a key: %q", raw)
	}
	sealed := NewRedisProfiles(redisClient(t, addr), ProfileConfig{KeyPrefix: P, Lookup: secretLookup, Sealer: keyring(t, "A")})
	defer sealed.Close()
	if p, err := sealed.Get(ctx, "u"); err != nil || p.Events() != 1 || len(p.RecentViews) != 1 || p.RecentViews[0] != secretProduct {
		t.Fatalf("plain record read with a key: %+v, %v", p, err)
	}
	if err := sealed.Apply(ctx, []Event{ev("e2", Click, "u", "lap-acme", t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if raw := c.Get(ctx, P+"u:u").Val(); raw[0] != recordSealed || strings.Contains(raw, secretProduct) || strings.Contains(raw, "lap-acme") {
		t.Fatalf("record after an Apply with a key is not sealed: %q", raw)
	}
	p, err := sealed.Get(ctx, "u")
	if err != nil || p.Events() != 2 || strings.Join(p.RecentViews, ",") != "lap-acme,"+secretProduct || p.Brands["acme"] == 0 {
		t.Fatalf("profile after sealing: %+v, %v", p, err)
	}
	if c.PTTL(ctx, P+"u:u").Val() <= 0 {
		t.Fatal("the sealed record has no TTL")
	}
	if _, err := plain.Get(ctx, "u"); !errors.Is(err, privacy.ErrNoKeys) {
		t.Fatalf("Get of a sealed record without a key: %v, want privacy.ErrNoKeys", err)
	}
	if err := plain.Apply(ctx, []Event{ev("e3", View, "u", "lap-zeta", t0)}); !errors.Is(err, privacy.ErrNoKeys) {
		t.Fatalf("Apply to a sealed record without a key: %v, want privacy.ErrNoKeys", err)
	}
}

// TestRedisProfilesWrongKey: a record sealed with a key the keyring lacks
// makes Get and Apply fail with privacy.ErrUnknownKey, and Apply leaves the
// record as it was (it opens with the right key, unchanged).
func TestRedisProfilesWrongKey(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	P := redistest.Prefix(t)
	redistest.Cleanup(t, addr, P)
	open := func(kr *privacy.Keyring) *RedisProfiles {
		ps := NewRedisProfiles(redisClient(t, addr), ProfileConfig{KeyPrefix: P, Lookup: testLookup, Sealer: kr})
		t.Cleanup(func() { _ = ps.Close() })
		return ps
	}
	a, b := open(keyring(t, "A")), open(keyring(t, "B"))
	if err := a.Apply(ctx, []Event{ev("e1", View, "u", "lap-acme", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "u"); !errors.Is(err, privacy.ErrUnknownKey) {
		t.Fatalf("Get with the wrong key: %v, want privacy.ErrUnknownKey", err)
	}
	if err := b.Apply(ctx, []Event{ev("e2", View, "u", "lap-zeta", time.Now())}); !errors.Is(err, privacy.ErrUnknownKey) {
		t.Fatalf("Apply with the wrong key: %v, want privacy.ErrUnknownKey", err)
	}
	if p, err := a.Get(ctx, "u"); err != nil || p.Events() != 1 {
		t.Fatalf("record after a failed Apply: %+v, %v; want it unchanged", p, err)
	}
	// e2 was not recorded as applied: with the right key it applies.
	if err := a.Apply(ctx, []Event{ev("e2", View, "u", "lap-zeta", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.Get(ctx, "u"); p.Events() != 2 {
		t.Fatalf("events %d, want 2", p.Events())
	}
	// Not a record at all.
	if err := a.c.Set(ctx, P+"u:junk", "\x02garbage!!", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "junk"); !errors.Is(err, errRecord) {
		t.Fatalf("Get of a malformed record: %v", err)
	}
}

// TestRedisProfilesRotate: records sealed with key A (and one written
// plain) are resealed by Rotate under keyring "B,A" and then open with "B"
// alone; a record under a key the keyring lacks is counted as Failed and
// named in the error while the others rotate; a second Rotate reseals
// nothing; TTLs are kept.
func TestRedisProfilesRotate(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	P := redistest.Prefix(t)
	redistest.Cleanup(t, addr, P)
	open := func(kr *privacy.Keyring) *RedisProfiles {
		cfg := ProfileConfig{KeyPrefix: P, Lookup: secretLookup}
		if kr != nil {
			cfg.Sealer = kr
		}
		ps := NewRedisProfiles(redisClient(t, addr), cfg)
		t.Cleanup(func() { _ = ps.Close() })
		return ps
	}
	now := time.Now()
	write := func(ps *RedisProfiles, user string) {
		t.Helper()
		if err := ps.Apply(ctx, secretEvents(user+"-", user, now)); err != nil {
			t.Fatal(err)
		}
	}
	write(open(keyring(t, "A")), "s1")
	write(open(keyring(t, "A")), "s2")
	write(open(nil), "s3")             // plain
	write(open(keyring(t, "C")), "s4") // a key the rotation does not hold

	onlyB, ba := open(keyring(t, "B")), open(keyring(t, "B", "A"))
	if _, err := onlyB.Get(ctx, "s1"); !errors.Is(err, privacy.ErrUnknownKey) {
		t.Fatalf("before rotation, B alone opened a record sealed with A: %v", err)
	}
	if _, err := open(nil).Rotate(ctx); err == nil {
		t.Fatal("Rotate without a Sealer succeeded")
	}
	st, err := ba.Rotate(ctx)
	if !errors.Is(err, privacy.ErrUnknownKey) || !strings.Contains(err.Error(), "u:s4") {
		t.Fatalf("Rotate with an unopenable record: %v, want an error naming it", err)
	}
	if st != (RotateStats{Records: 4, Resealed: 3, Failed: 1}) {
		t.Fatalf("stats %+v, want 4 records, 3 resealed, 1 failed", st)
	}
	for _, u := range []string{"s1", "s2", "s3"} {
		p, err := onlyB.Get(ctx, u)
		if err != nil || p.Events() != 3 || !p.HasPurchased(secretProduct) || len(p.RecentQueries) != 1 {
			t.Fatalf("%s with B alone after rotation: %+v, %v", u, p, err)
		}
		if ttl := ba.c.PTTL(ctx, P+"u:"+u).Val(); ttl <= 0 || ttl > DefaultProfileTTL {
			t.Fatalf("%s: TTL %v after rotation", u, ttl)
		}
	}
	if st, err := ba.Rotate(ctx); st.Resealed != 0 || st.Failed != 1 || err == nil {
		t.Fatalf("second rotation: %+v, %v; want nothing resealed, s4 failing again", st, err)
	}
	if _, err := ba.Delete(ctx, "s4"); err != nil {
		t.Fatal(err)
	}
	if st, err := ba.Rotate(ctx); err != nil || st != (RotateStats{Records: 3}) {
		t.Fatalf("rotation after deleting s4: %+v, %v", st, err)
	}
}

// TestRedisProfilesLegacyRecord: a profile in the layout before (plain JSON
// from the Lua script beside the keys rv, pu and q) reads back whole; the
// next Apply folds it into one sealed record and deletes the three keys;
// Rotate does the same for another.
func TestRedisProfilesLegacyRecord(t *testing.T) {
	ctx := context.Background()
	ps := redisProfiles(t, ProfileConfig{Lookup: testLookup, Sealer: keyring(t, "A")}).(*RedisProfiles)
	P := ps.cfg.KeyPrefix
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	legacy := func(sh string) {
		t.Helper()
		// As the former script wrote them (cjson).
		u := fmt.Sprintf(`{"a":{"b:acme":2,"c:laptops":2.5},"last":%d,"n":{"click":1,"view":2},"ep":%d}`, t0, t0)
		pipe := ps.c.TxPipeline()
		pipe.Set(ctx, P+"u:"+sh, u, time.Hour)
		pipe.ZAdd(ctx, P+"rv:"+sh, redis.Z{Score: float64(t0), Member: "lap-acme"}, redis.Z{Score: float64(t0 - 1000), Member: "zzz-old"})
		pipe.ZAdd(ctx, P+"pu:"+sh, redis.Z{Score: float64(t0), Member: "ink-hp"})
		pipe.LPush(ctx, P+"q:"+sh, "old query")
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check := func(sh string, views string, counts map[Type]int64) {
		t.Helper()
		p, err := ps.Get(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		want := 2 * math.Exp2(-float64(time.Now().UnixMilli()-t0)/float64(DefaultHalfLife.Milliseconds()))
		if strings.Join(p.RecentViews, ",") != views || strings.Join(p.Purchased, ",") != "ink-hp" ||
			strings.Join(p.RecentQueries, ",") != "old query" || math.Abs(p.Brands["acme"]-want) > 1e-3 || p.Categories["laptops"] == 0 {
			t.Fatalf("%s: %+v", sh, p)
		}
		for typ, n := range counts {
			if p.Counts[typ] != n {
				t.Fatalf("%s: counts %v, want %v", sh, p.Counts, counts)
			}
		}
	}
	gone := func(sh string) {
		t.Helper()
		if n := ps.c.Exists(ctx, P+"rv:"+sh, P+"pu:"+sh, P+"q:"+sh).Val(); n != 0 {
			t.Fatalf("%s: %d legacy keys left", sh, n)
		}
		if raw := ps.c.Get(ctx, P+"u:"+sh).Val(); raw[0] != recordSealed {
			t.Fatalf("%s: record not sealed: %q", sh, raw)
		}
	}
	legacy("L1")
	check("L1", "lap-acme,zzz-old", map[Type]int64{View: 2, Click: 1})
	if err := ps.Apply(ctx, []Event{ev("n1", View, "L1", "lap-zeta", time.Now())}); err != nil {
		t.Fatal(err)
	}
	gone("L1")
	check("L1", "lap-zeta,lap-acme,zzz-old", map[Type]int64{View: 3, Click: 1})

	legacy("L2")
	st, err := ps.Rotate(ctx)
	if err != nil || st.Resealed != 1 {
		t.Fatalf("Rotate: %+v, %v; want the legacy record resealed", st, err)
	}
	gone("L2")
	check("L2", "lap-acme,zzz-old", map[Type]int64{View: 2, Click: 1})
	if ttl := ps.c.PTTL(ctx, P+"u:L2").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL %v after rotating a legacy record, want the hour it had", ttl)
	}
}

// TestRedisApplyConcurrentSameShoppers: Apply calls racing on the same few
// shoppers (their commits keep finding records changed, so they re-read,
// and take the apply lock), some applying the very same batch at once,
// still count every event exactly once, and leave no lock behind.
func TestRedisApplyConcurrentSameShoppers(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprint("sealed=", sealed), func(t *testing.T) {
			ctx := context.Background()
			cfg := ProfileConfig{Lookup: testLookup}
			if sealed {
				cfg.Sealer = keyring(t, "A")
			}
			ps := redisProfiles(t, cfg).(*RedisProfiles)
			const workers, batches, per = 4, 15, 30
			shoppers := []string{"x", "y", "z"}
			want := map[string]map[Type]int64{}
			batch := func(w, b int) []Event {
				evs := make([]Event, per)
				for i := range evs {
					sh := shoppers[(w+b+i)%len(shoppers)]
					evs[i] = ev(fmt.Sprintf("w%d-b%d-%d", w, b, i), []Type{View, Click, Purchase}[i%3], sh, "lap-acme", time.Now())
				}
				return evs
			}
			shared := batch(99, 0) // applied by every worker at once
			for _, evs := range append([][]Event{shared}, func() (all [][]Event) {
				for w := range workers {
					for b := range batches {
						all = append(all, batch(w, b))
					}
				}
				return all
			}()...) {
				for _, e := range evs {
					if want[e.UserID] == nil {
						want[e.UserID] = map[Type]int64{}
					}
					want[e.UserID][e.Type]++
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := range batches {
						if b == batches/2 {
							if err := ps.Apply(ctx, shared); err != nil {
								errs <- err
								return
							}
						}
						if err := ps.Apply(ctx, batch(w, b)); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			checkCounts(t, ps, want)
			if ps.c.Exists(ctx, ps.cfg.KeyPrefix+"lock").Val() != 0 {
				t.Fatal("the apply lock is still held")
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRedisStreamSealed: with a Sealer, entries are stored sealed (no
// product id in clear, field "s"), consumers read them and entries written
// plain alike; Unrotated counts what is not under the current key; Erase
// re-adds kept events sealed. Entries under a key the consumer lacks are
// not applied, stay pending and are logged; Erase reports them.
func TestRedisStreamSealed(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	P := redistest.Prefix(t)
	redistest.Cleanup(t, addr, P)
	var logs syncBuffer
	open := func(kr *privacy.Keyring) *RedisStream {
		cfg := Config{KeyPrefix: P, Consumer: "c", Block: 50 * time.Millisecond, ClaimIdle: 100 * time.Millisecond,
			ClaimInterval: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))}
		if kr != nil {
			cfg.Sealer = kr
		}
		s, err := NewRedisStream(ctx, redisClient(t, addr), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sealed, plain := open(keyring(t, "A")), open(nil)
	var evs []Event
	for i := range 100 {
		e := ev(fmt.Sprint("s", i), View, fmt.Sprint("u", i%3), secretProduct, time.UnixMilli(time.Now().UnixMilli()))
		e.Query, e.Price = secretQuery, 4711
		evs = append(evs, e)
	}
	if err := sealed.Publish(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := plain.Publish(ctx, []Event{ev("p0", View, "u0", "lap-acme", time.Now())}); err != nil {
		t.Fatal(err)
	}
	entries := sealed.c.XRange(ctx, sealed.Key(), "-", "+").Val()
	if len(entries) != 3 { // 64 + 36 sealed, 1 plain
		t.Fatalf("%d entries, want 3", len(entries))
	}
	for i, m := range entries {
		v, isSealed := m.Values[sealedField].(string)
		if isSealed != (i < 2) || len(m.Values) != 1 {
			t.Fatalf("entry %d fields %v", i, m.Values)
		}
		if isSealed && (strings.Contains(v, secretProduct) || strings.Contains(v, secretQuery)) {
			t.Fatalf("sealed entry %d holds event data in clear", i)
		}
	}
	if n, err := sealed.Unrotated(ctx); err != nil || n != 1 {
		t.Fatalf("Unrotated = %d, %v; want the plain entry", n, err)
	}
	if n, err := open(keyring(t, "B", "A")).Unrotated(ctx); err != nil || n != 3 {
		t.Fatalf("Unrotated under B = %d, %v; want 3", n, err)
	}
	if _, err := plain.Unrotated(ctx); err == nil {
		t.Fatal("Unrotated without a Sealer succeeded")
	}

	// Erase u1's events: the kept ones come back sealed.
	if n, err := sealed.Erase(ctx, func(e *Event) bool { return e.UserID == "u1" }); err != nil || n != 33 {
		t.Fatalf("Erase = %d, %v; want u1's 33 events", n, err)
	}
	for _, m := range sealed.c.XRange(ctx, sealed.Key(), "-", "+").Val() {
		if v, ok := m.Values[plainField].(string); ok {
			if evs := decodeEntry(nil, []byte(v)); len(evs) != 1 || evs[0].ID != "p0" {
				t.Fatalf("Erase re-added events in clear: %+v", evs)
			}
		}
	}

	// Consume: every event not erased, decoded whole, once.
	got := map[string]Event{}
	var mu sync.Mutex
	cctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sealed.Consume(cctx, func(_ context.Context, b []Event) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range b {
				if _, dup := got[e.ID]; dup {
					t.Errorf("%s delivered twice", e.ID)
				}
				got[e.ID] = e
			}
			return nil
		})
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 68 })
	mu.Lock()
	if e := got["s0"]; e.ProductID != secretProduct || e.Query != secretQuery || e.Price != 4711 || !e.TS.Equal(evs[0].TS) || e.UserID != "u0" {
		t.Errorf("s0 came back as %+v", e)
	}
	if _, ok := got["s1"]; ok {
		t.Error("an erased event was delivered")
	}
	mu.Unlock()

	// Entries under a key the consumer lacks.
	if err := open(keyring(t, "C")).Publish(ctx, []Event{ev("c0", View, "u0", "lap-acme", time.Now())}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "do not open") })
	time.Sleep(300 * time.Millisecond) // a few claim rounds
	stop()
	<-done
	if n, err := sealed.Pending(ctx); err != nil || n != 1 {
		t.Fatalf("pending %d, %v; want the entry sealed with C", n, err)
	}
	mu.Lock()
	_, applied := got["c0"]
	mu.Unlock()
	if applied {
		t.Fatal("an entry under an unknown key was applied")
	}
	if !strings.Contains(logs.String(), `privacy: record sealed with an unknown key \"C\"`) {
		t.Fatalf("log does not name the unknown key: %s", logs.String())
	}
	if _, err := sealed.Erase(ctx, func(e *Event) bool { return e.UserID == "u2" }); !errors.Is(err, privacy.ErrUnknownKey) {
		t.Fatalf("Erase over an entry that does not open: %v, want an error wrapping privacy.ErrUnknownKey", err)
	}
	if _, err := plain.Erase(ctx, func(e *Event) bool { return false }); !errors.Is(err, privacy.ErrNoKeys) {
		t.Fatalf("Erase of sealed entries without a key: %v, want privacy.ErrNoKeys", err)
	}
}
