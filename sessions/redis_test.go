package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redistest"
)

func openRedisT(t testing.TB, addr, prefix string, ttl time.Duration) *Redis {
	t.Helper()
	r, err := OpenRedis(context.Background(), Config{RedisURL: "redis://" + addr, KeyPrefix: prefix, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRedisContract(t *testing.T) {
	addr := redistest.Addr(t)
	runContract(t, func(t *testing.T, ttl time.Duration) (Store, func() Store) {
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		return openRedisT(t, addr, prefix, ttl), func() Store { return openRedisT(t, addr, prefix, ttl) }
	})
}

func TestRedisKeysExpireAndIndexIsPruned(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	redistest.Cleanup(t, addr, prefix)
	r := openRedisT(t, addr, prefix, time.Second)
	id := NewID()
	mustNil(t, r.Create(ctx, Session{ID: id}))
	mustNil(t, r.Append(ctx, id, Turn{ID: "m1", Role: RoleShopper, Text: "hi"}))
	if n := r.c.Exists(ctx, r.sessKey(id), r.turnsKey(id)).Val(); n != 2 {
		t.Fatalf("%d of 2 session keys exist after Append", n)
	}
	for _, k := range []string{r.sessKey(id), r.turnsKey(id)} {
		if ttl := r.c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Second {
			t.Fatalf("PTTL %s = %v, want in (0, 1s]", k, ttl)
		}
	}
	deadline := time.Now().Add(expiryWait)
	for r.c.Exists(ctx, r.sessKey(id), r.turnsKey(id)).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("keys of %s still exist %v after a 1s TTL", id, expiryWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := r.List(ctx, ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := r.c.ZCard(ctx, r.idxKey()).Val(); n != 0 {
		t.Fatalf("index still has %d members after List", n)
	}
}

// TestRedisOutage stops Redis under a live store: calls fail with
// ErrUnavailable (not ErrNotFound, not a hang), and the same store works
// again once Redis is back.
func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Persistent())
	r := openRedisT(t, srv.Addr(), redistest.Prefix(t), time.Hour)
	id := NewID()
	mustNil(t, r.Create(ctx, Session{ID: id}))
	mustNil(t, r.Append(ctx, id, Turn{ID: "m1", Role: RoleShopper, Text: "before"}))

	srv.Stop()
	err := r.Append(ctx, id, Turn{ID: "m2", Role: RoleShopper, Text: "during"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := r.Get(ctx, id); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := r.History(ctx, id, 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("History with Redis down: %v, want ErrUnavailable", err)
	}
	if _, err := r.List(ctx, ListOptions{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("List with Redis down: %v, want ErrUnavailable", err)
	}
	if err := r.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping with Redis down: %v, want ErrUnavailable", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The client reconnects by itself; wait (generously) for it.
	deadline := time.Now().Add(expiryWait)
	for r.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("store did not reconnect within %v: %v", expiryWait, r.Ping(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustNil(t, r.Append(ctx, id, Turn{ID: "m3", Role: RoleShopper, Text: "after"}))
	h, err := r.History(ctx, id, 0)
	mustNil(t, err)
	if len(h) != 2 || h[0].ID != "m1" || h[1].ID != "m3" {
		t.Fatalf("history after the outage = %+v, want m1 (persisted) then m3", h)
	}
}

// TestRedisContextCancelled checks that a cancelled caller context ends the
// call with an error that is both ErrUnavailable and context.Canceled.
func TestRedisContextCancelled(t *testing.T) {
	addr := redistest.Addr(t)
	r := openRedisT(t, addr, redistest.Prefix(t), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.Append(ctx, "x", Turn{ID: "m"})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append with a cancelled context: %v, want ErrUnavailable wrapping context.Canceled", err)
	}
}

func TestOpenRedisUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	addr := srv.Addr()
	srv.Stop() // a port nothing listens on
	_, err := OpenRedis(context.Background(), Config{RedisURL: "redis://" + addr})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OpenRedis(%s) with nothing listening: %v, want ErrUnavailable", addr, err)
	}
}

func TestRedisCursorRoundTrip(t *testing.T) {
	for _, id := range []string{"a", "with|bar", ""} {
		s, got, err := decodeRedisCursor(encodeRedisCursor(1_700_000_000_123, id))
		if err != nil || s != 1_700_000_000_123 || got != id {
			t.Fatalf("round trip of %q: %d %q %v", id, s, got, err)
		}
	}
	for _, bad := range []string{"!!", "bm9waXBl" /* "nopipe" */} {
		if _, _, err := decodeRedisCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("decode %q: %v, want ErrInvalid", bad, err)
		}
	}
}

// TestRedisRetriedWriteIsNoop replays a write with the same nonce, as
// go-redis does when a reply is lost after the script ran: the replay must
// not duplicate turns; a new call (new nonce) must append.
func TestRedisRetriedWriteIsNoop(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	redistest.Cleanup(t, addr, prefix)
	r := openRedisT(t, addr, prefix, time.Hour)
	id := NewID()
	mustNil(t, r.create(ctx, Session{ID: id}, "nonce-0"))
	mustNil(t, r.create(ctx, Session{ID: id}, "nonce-0")) // the retry: no ErrExists
	if err := r.create(ctx, Session{ID: id}, "other"); !errors.Is(err, ErrExists) {
		t.Fatalf("Create by another call: %v, want ErrExists", err)
	}
	turns := []Turn{{ID: "m1", Role: RoleShopper, Text: "a"}, {ID: "b1", Role: RoleBot, Text: "b"}}
	mustNil(t, r.append(ctx, id, "nonce-1", turns))
	mustNil(t, r.append(ctx, id, "nonce-1", turns)) // the retry
	s, err := r.Get(ctx, id)
	mustNil(t, err)
	if s.Turns != 2 {
		t.Fatalf("Turns = %d after a replayed Append, want 2", s.Turns)
	}
	mustNil(t, r.append(ctx, id, "nonce-2", turns))
	h, err := r.History(ctx, id, 0)
	mustNil(t, err)
	if len(h) != 4 {
		t.Fatalf("history has %d turns after a second Append, want 4", len(h))
	}
}
