package sessions

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/internal/redistest"
)

// pseudo is a stand-in for privacy.Pseudonymizer.ID: any function will do
// for the store, which only needs it stable.
func pseudo(tag string) func(string) string {
	return func(u string) string { return tag + "-" + strings.ToUpper(u) }
}

// rawRedisAll returns every key under prefix with every value (the store
// writes only strings, hashes, sorted sets and lists).
func rawRedisAll(t *testing.T, r *Redis) []byte {
	t.Helper()
	ctx := context.Background()
	var all bytes.Buffer
	iter := r.c.Scan(ctx, 0, redisopt.GlobEscape(r.prefix)+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		all.WriteString(k + "\n")
		switch typ := r.c.Type(ctx, k).Val(); typ {
		case "string":
			all.WriteString(r.c.Get(ctx, k).Val())
		case "hash":
			for f, v := range r.c.HGetAll(ctx, k).Val() {
				all.WriteString(f + "=" + v + "\n")
			}
		case "zset":
			all.WriteString(strings.Join(r.c.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "list":
			all.WriteString(strings.Join(r.c.LRange(ctx, k, 0, -1).Val(), "\n"))
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
	}
	mustNil(t, iter.Err())
	return all.Bytes()
}

// TestDeleteUserLeavesNothing: after DeleteUser, no byte of the user's
// sessions is left in either backend — not the user id, its index key,
// the session ids, the transcript or the metadata — with and without
// encryption, while another user's sessions stay whole.
func TestDeleteUserLeavesNothing(t *testing.T) {
	ctx := context.Background()
	kr := keyring(t, "k1")
	const alice, bob = "alice.secret@example.com", "bob@example.com"
	type backend struct {
		name string
		open func(t *testing.T, cfg Config) (Store, func() []byte)
	}
	backends := []backend{
		{"embedded", func(t *testing.T, cfg Config) (Store, func() []byte) {
			cfg.DataDir, cfg.SweepInterval = t.TempDir(), time.Hour
			e, err := OpenEmbedded(cfg)
			mustNil(t, err)
			t.Cleanup(func() { _ = e.Close() })
			return e, func() []byte { return rawEmbedded(t, e) }
		}},
		{"redis", func(t *testing.T, cfg Config) (Store, func() []byte) {
			addr := redistest.Addr(t)
			cfg.KeyPrefix = redistest.Prefix(t)
			redistest.Cleanup(t, addr, cfg.KeyPrefix)
			cfg.RedisURL = "redis://" + addr
			r, err := OpenRedis(ctx, cfg)
			mustNil(t, err)
			t.Cleanup(func() { _ = r.Close() })
			return r, func() []byte { return rawRedisAll(t, r) }
		}},
	}
	configs := map[string]Config{
		"plain":          {TTL: time.Hour},
		"sealed":         {TTL: time.Hour, Sealer: kr},
		"sealed+userkey": {TTL: time.Hour, Sealer: kr, UserKey: pseudo("p")},
		"plain+userkey":  {TTL: time.Hour, UserKey: pseudo("p")},
	}
	for _, b := range backends {
		for name, cfg := range configs {
			t.Run(b.name+"/"+name, func(t *testing.T) {
				s, raw := b.open(t, cfg)
				var aliceIDs []string
				for range 3 {
					id := NewID()
					aliceIDs = append(aliceIDs, id)
					writeSecrets(t, s, id) // as secrets[0] = alice
				}
				bobID := NewID()
				mustNil(t, s.Create(ctx, Session{ID: bobID, UserID: bob, Meta: map[string]string{"lang": "de"}}))
				mustNil(t, s.Append(ctx, bobID, Turn{ID: "1", Role: RoleShopper, Text: "hallo"}))

				ids, err := s.DeleteUser(ctx, alice)
				mustNil(t, err)
				slices.Sort(ids)
				slices.Sort(aliceIDs)
				if !slices.Equal(ids, aliceIDs) {
					t.Fatalf("deleted %v, want %v", ids, aliceIDs)
				}
				dump := raw()
				traces := append([]string{alice, cfg.withDefaults().userKeyFunc()(alice)}, aliceIDs...)
				traces = append(traces, secrets...)
				for _, x := range traces {
					if bytes.Contains(dump, []byte(x)) {
						t.Errorf("%q still stored after DeleteUser", x)
					}
				}
				if !bytes.Contains(dump, []byte(bobID)) {
					t.Fatalf("bob's session id is gone from storage")
				}
				got, err := s.Get(ctx, bobID)
				if err != nil || got.UserID != bob || got.Meta["lang"] != "de" {
					t.Fatalf("bob's session: %+v, %v", got, err)
				}
				if h, err := s.History(ctx, bobID, 0); err != nil || len(h) != 1 {
					t.Fatalf("bob's history: %+v, %v", h, err)
				}
			})
		}
	}
}

// TestUserIndexRebuilt: a store opened over data indexed with another key
// function (or none: data from before the index existed) rebuilds the
// index, so DeleteUser still finds every session, and the old index keys
// are gone.
func TestUserIndexRebuilt(t *testing.T) {
	ctx := context.Background()
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		open := func(uk func(string) string) *Embedded {
			e, err := OpenEmbedded(Config{DataDir: dir, TTL: time.Hour, UserKey: uk})
			mustNil(t, err)
			return e
		}
		e := open(pseudo("old"))
		id := NewID()
		mustNil(t, e.Create(ctx, Session{ID: id, UserID: "carol"}))
		mustNil(t, e.Close())
		e = open(pseudo("new"))
		defer e.Close()
		if bytes.Contains(rawEmbedded(t, e), []byte("old-CAROL")) {
			t.Fatal("the index under the old key function is still stored")
		}
		ids, err := e.DeleteUser(ctx, "carol")
		if err != nil || !slices.Equal(ids, []string{id}) {
			t.Fatalf("DeleteUser after the key changed: %v, %v; want [%s]", ids, err, id)
		}
	})
	t.Run("redis", func(t *testing.T) {
		addr := redistest.Addr(t)
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		open := func(uk func(string) string) *Redis {
			r, err := OpenRedis(ctx, Config{RedisURL: "redis://" + addr, KeyPrefix: prefix, TTL: time.Hour, UserKey: uk})
			mustNil(t, err)
			return r
		}
		r := open(pseudo("old"))
		legacy, changed := NewID(), NewID()
		mustNil(t, r.Create(ctx, Session{ID: legacy, UserID: "carol"}))
		// Data written before the index existed: no index key, no marker.
		mustNil(t, r.c.Del(ctx, r.userIdxKey("carol"), prefix+"usidx").Err())
		mustNil(t, r.c.HDel(ctx, r.sessKey(legacy), "uk").Err())
		mustNil(t, r.Close())
		r = open(pseudo("old"))
		mustNil(t, r.Create(ctx, Session{ID: changed, UserID: "carol"}))
		mustNil(t, r.Close())
		r = open(pseudo("new"))
		defer r.Close()
		if bytes.Contains(rawRedisAll(t, r), []byte("old-CAROL")) {
			t.Fatal("the index under the old key function is still stored")
		}
		// A write after the rebuild keeps the session under the new key.
		mustNil(t, r.Append(ctx, changed, Turn{ID: "1", Role: RoleShopper, Text: "hi"}))
		ids, err := r.DeleteUser(ctx, "carol")
		slices.Sort(ids)
		want := []string{legacy, changed}
		slices.Sort(want)
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("DeleteUser after the rebuild: %v, %v; want %v", ids, err, want)
		}
		if n := r.c.Exists(ctx, r.userIdxKey("carol")).Val(); n != 0 {
			t.Fatal("the user's index key outlives its sessions")
		}
	})
}

// TestRedisUserIndexExpiresWithLastSession: the user index key lives as
// long as the user's longest-lived session, and no longer.
func TestRedisUserIndexExpiresWithLastSession(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	redistest.Cleanup(t, addr, prefix)
	r := openRedisT(t, addr, prefix, time.Hour)
	long, short := NewID(), NewID()
	mustNil(t, r.Create(ctx, Session{ID: long, UserID: "dave"}))
	// Created later but last updated 50 minutes ago: expires first.
	mustNil(t, r.Create(ctx, Session{ID: short, UserID: "dave", UpdatedAt: time.Now().Add(-50 * time.Minute)}))
	uk := r.userIdxKey("dave")
	sessTTL := r.c.PTTL(ctx, r.sessKey(long)).Val()
	if ttl := r.c.PTTL(ctx, uk).Val(); ttl < sessTTL-time.Second || ttl > sessTTL+time.Second {
		t.Fatalf("index PTTL %v, want that of the longest-lived session, %v", ttl, sessTTL)
	}
	mustNil(t, r.Append(ctx, short, Turn{ID: "1", Role: RoleShopper, Text: "x"}))
	if ttl := r.c.PTTL(ctx, uk).Val(); ttl < r.c.PTTL(ctx, r.sessKey(short)).Val()-time.Second {
		t.Fatalf("index PTTL %v after an Append renewed a session", ttl)
	}
}

// TestBufferedDeleteUserDropsHeldWrites: sessions created and turns
// appended while the backend was down, not yet flushed, are erased too:
// once the buffer flushes, nothing of the user reaches Redis.
func TestBufferedDeleteUserDropsHeldWrites(t *testing.T) {
	srv := redistest.Start(t, redistest.Persistent())
	ctx := context.Background()
	inner, err := OpenRedis(ctx, Config{RedisURL: "redis://" + srv.Addr(), ReadTimeout: 200 * time.Millisecond, DialTimeout: 200 * time.Millisecond})
	mustNil(t, err)
	// No automatic flush: the test flushes by closing.
	b := NewBuffered(inner, BufferConfig{RetryEvery: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	stored, bobs := NewID(), NewID()
	mustNil(t, b.Create(ctx, Session{ID: stored, UserID: "erin"}))
	mustNil(t, b.Create(ctx, Session{ID: bobs, UserID: "bob"}))
	srv.Stop()
	fresh := NewID()
	mustNil(t, b.Create(ctx, Session{ID: fresh, UserID: "erin"}))
	mustNil(t, b.Append(ctx, fresh, Turn{ID: "1", Role: RoleShopper, Text: "held"}))
	mustNil(t, b.Append(ctx, stored, Turn{ID: "1", Role: RoleShopper, Text: "held too"}))
	mustNil(t, b.Append(ctx, bobs, Turn{ID: "1", Role: RoleShopper, Text: "bob's"}))
	if _, err := b.DeleteUser(ctx, "erin"); err == nil {
		t.Fatal("DeleteUser succeeded with the backend down")
	}
	mustNil(t, srv.Restart())
	ids, err := b.DeleteUser(ctx, "erin")
	mustNil(t, err)
	slices.Sort(ids)
	want := []string{stored, fresh}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("DeleteUser = %v, want %v (stored and held)", ids, want)
	}
	if b.Held() != 1 {
		t.Fatalf("held turns %d after erasing erin, want bob's 1", b.Held())
	}
	if _, err := b.Get(ctx, fresh); err == nil {
		t.Fatal("the held session is still readable from the cache")
	}
	mustNil(t, b.Close()) // flushes bob's turn
	check, err := OpenRedis(ctx, Config{RedisURL: "redis://" + srv.Addr()})
	mustNil(t, err)
	defer check.Close()
	dump := rawRedisAll(t, check)
	for _, x := range []string{"erin", stored, fresh, "held"} {
		if bytes.Contains(dump, []byte(x)) {
			t.Errorf("%q reached Redis after DeleteUser", x)
		}
	}
	if h, err := check.History(ctx, bobs, 0); err != nil || len(h) != 1 {
		t.Fatalf("bob's held turn: %v, %v", h, err)
	}
}
