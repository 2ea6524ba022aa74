package events

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

// rawRedis returns every key under prefix and every value in it, of any
// type the events package writes (strings, hashes, lists, sorted sets,
// streams with their consumer groups).
func rawRedis(t *testing.T, c *redis.Client, prefix string) []byte {
	t.Helper()
	ctx := context.Background()
	var all bytes.Buffer
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		all.WriteString(k + "\n")
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			all.WriteString(c.Get(ctx, k).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				all.WriteString(f + "=" + v + "\n")
			}
		case "list":
			all.WriteString(strings.Join(c.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			all.WriteString(strings.Join(c.SMembers(ctx, k).Val(), "\n"))
		case "zset":
			all.WriteString(strings.Join(c.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					all.WriteString(m.ID + " " + f + "=" + v.(string) + "\n")
				}
			}
			for _, g := range c.XInfoGroups(ctx, k).Val() {
				all.WriteString("group " + g.Name + "\n")
				for _, cons := range c.XInfoConsumers(ctx, k, g.Name).Val() {
					all.WriteString("consumer " + cons.Name + "\n")
				}
			}
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}

func pseudonymizer(t testing.TB) *privacy.Pseudonymizer {
	t.Helper()
	p, err := privacy.NewPseudonymizer(bytes.Repeat([]byte("k"), privacy.MinPseudonymSecret))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// catalogCandidates answers candidate queries from testCatalog.
func catalogCandidates(_ context.Context, q CandidateQuery) ([]*catalog.Product, error) {
	var out []*catalog.Product
	for _, id := range []string{"lap-acme", "lap-zeta", "lap-acme2", "prn-hp", "ink-hp"} {
		p := testCatalog[id]
		if (q.Brand != "" && strings.EqualFold(p.Brand, q.Brand)) || (q.Category != "" && strings.EqualFold(p.Category[len(p.Category)-1], q.Category)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// TestServicePseudonymizes: with Config.Pseudonymize, events posted over
// HTTP and profile look-ups go through the pseudonym: the raw user and
// session ids are nowhere in Redis, the pseudonym is, and the profile,
// recommendations and erasure still work by raw id; also with the stream
// and profiles encrypted (redis-sealed).
func TestServicePseudonymizes(t *testing.T) {
	const user, session = "alice@example.com", "sess-alice-0001"
	for _, backend := range []string{"memory", "redis", "redis-sealed"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			pz := pseudonymizer(t)
			scfg := Config{Backend: backend, Pseudonymize: pz.ID, Block: 100 * time.Millisecond}
			pcfg := ProfileConfig{Backend: backend, Lookup: testLookup}
			if backend == "redis-sealed" {
				scfg.Backend, pcfg.Backend = "redis", "redis"
				scfg.Sealer, pcfg.Sealer = keyring(t, "A"), keyring(t, "A")
			}
			var client *redis.Client
			var prefix string
			if scfg.Backend == "redis" {
				addr := redistest.Addr(t)
				prefix = redistest.Prefix(t)
				redistest.Cleanup(t, addr, prefix)
				scfg.KeyPrefix, pcfg.KeyPrefix = prefix+"ev:", prefix+"pr:"
				client = redisClient(t, addr)
			}
			svc, err := Start(ctx, scfg, pcfg, 1, client)
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			body := `[{"type":"view","user_id":"` + user + `","session_id":"` + session + `","product_id":"lap-acme"},
				{"type":"click","user_id":"` + user + `","session_id":"` + session + `","product_id":"lap-acme2"},
				{"type":"search","session_id":"` + session + `","query":"acme laptop"}]`
			rec := httptest.NewRecorder()
			Handler(svc.Stream, Limits{}, nil, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/events", strings.NewReader(body)))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("POST /api/events: %d %s", rec.Code, rec.Body)
			}
			waitFor(t, func() bool {
				p, err := svc.Profiles.Get(ctx, user)
				return err == nil && p.Events() == 2
			})
			p, err := svc.Profiles.Get(ctx, user)
			if err != nil || p.Shopper != user || p.Brands["acme"] == 0 {
				t.Fatalf("profile by raw id: %+v, %v", p, err)
			}
			waitFor(t, func() bool { p, err := svc.Profiles.Get(ctx, session); return err == nil && p.Events() == 1 })
			recs, err := (&Recommender{Profiles: svc.Profiles, Lookup: testLookup, Candidates: catalogCandidates}).Recommend(ctx, user, 5)
			byBrand := false
			for _, r := range recs {
				byBrand = byBrand || r.Reason == "brand:acme"
			}
			if err != nil || !byBrand {
				t.Fatalf("recommendations by raw id: %+v, %v; want some from the profile's brand", recs, err)
			}
			if client != nil {
				raw := rawRedis(t, client, prefix)
				for _, x := range []string{user, session} {
					if bytes.Contains(raw, []byte(x)) {
						t.Errorf("raw id %q is stored in Redis", x)
					}
				}
				if !bytes.Contains(raw, []byte(pz.ID(user))) || !bytes.Contains(raw, []byte(pz.ID(session))) {
					t.Fatal("the pseudonyms are not stored either: the test proves nothing")
				}
			}
			got, err := svc.Erase(ctx, user, []string{session})
			if err != nil || got.Profiles != 2 {
				t.Fatalf("Erase = %+v, %v; want 2 profiles", got, err)
			}
			if client != nil {
				raw := rawRedis(t, client, prefix)
				for _, x := range []string{user, session, pz.ID(user), pz.ID(session)} {
					if bytes.Contains(raw, []byte(x)) {
						t.Errorf("%q is still in Redis after Erase", x)
					}
				}
			}
			for _, id := range []string{user, session} {
				if p, err := svc.Profiles.Get(ctx, id); err != nil || p.Events() != 0 {
					t.Errorf("profile of %s after Erase: %+v, %v", id, p, err)
				}
			}
		})
	}
}

// TestProfileTTL: a profile without events for ProfileTTL is gone (Redis:
// its keys expire; memory: it reads as empty and is swept).
func TestProfileTTL(t *testing.T) {
	ctx := context.Background()
	t.Run("memory", func(t *testing.T) {
		c := &clock{t: time.Now()}
		ps := NewMemoryProfiles(ProfileConfig{Lookup: testLookup, ProfileTTL: time.Hour, Now: c.Now})
		if err := ps.Apply(ctx, []Event{ev("e1", View, "u", "lap-acme", c.Now())}); err != nil {
			t.Fatal(err)
		}
		c.Add(59 * time.Minute)
		if p, _ := ps.Get(ctx, "u"); p.Events() != 1 {
			t.Fatal("profile gone before its TTL")
		}
		c.Add(2 * time.Minute)
		if p, _ := ps.Get(ctx, "u"); p.Events() != 0 {
			t.Fatalf("profile %+v still there after its TTL", p)
		}
	})
	t.Run("redis", func(t *testing.T) {
		ps := redisProfiles(t, ProfileConfig{Lookup: testLookup, ProfileTTL: time.Second}).(*RedisProfiles)
		q := ev("e2", Search, "u", "", time.Now())
		q.Query = "laptop"
		if err := ps.Apply(ctx, []Event{ev("e1", View, "u", "lap-acme", time.Now()), ev("e3", Purchase, "u", "ink-hp", time.Now()), q}); err != nil {
			t.Fatal(err)
		}
		// One record holds everything about the shopper.
		key := ps.cfg.KeyPrefix + "u:u"
		if ps.c.Exists(ctx, key).Val() != 1 {
			t.Fatalf("no record %s", key)
		}
		if p, _ := ps.Get(ctx, "u"); p.Events() != 3 || len(p.RecentQueries) != 1 || len(p.Purchased) != 1 || len(p.RecentViews) != 1 {
			t.Fatalf("profile before its TTL: %+v", p)
		}
		waitFor(t, func() bool { return ps.c.Exists(ctx, key).Val() == 0 })
		if p, err := ps.Get(ctx, "u"); err != nil || p.Events()+int64(len(p.RecentQueries)+len(p.Purchased)+len(p.RecentViews)) != 0 {
			t.Fatalf("profile after its TTL: %+v, %v", p, err)
		}
	})
}

// TestRedisStreamTrimsByAge: entries older than Config.MaxAge leave the
// stream when a consumer trims; newer ones stay.
func TestRedisStreamTrimsByAge(t *testing.T) {
	ctx := context.Background()
	s := redisStreamT(t, Config{MaxAge: time.Hour, Consumer: "c"}).(*RedisStream)
	old := strconv.FormatInt(time.Now().Add(-2*time.Hour).UnixMilli(), 10) + "-0"
	e := ev("old", View, "u", "p", time.Now())
	if err := s.c.XAdd(ctx, &redis.XAddArgs{Stream: s.Key(), ID: old, Values: []any{"e", appendEvent(nil, &e)}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, []Event{ev("new", View, "u", "p", time.Now())}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Consume(cctx, func(context.Context, []Event) error { return nil }) }()
	waitFor(t, func() bool { return s.c.XLen(ctx, s.Key()).Val() == 1 })
	cancel()
	<-done
	left := s.c.XRange(ctx, s.Key(), "-", "+").Val()
	if len(left) != 1 || left[0].ID == old {
		t.Fatalf("stream after trimming: %v, want only the new entry", left)
	}
}
