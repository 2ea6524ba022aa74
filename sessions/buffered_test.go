package sessions

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redistest"
)

// The store contract still holds through the buffer while the backend is
// up.
func TestBufferedContract(t *testing.T) {
	runContract(t, func(t *testing.T, ttl time.Duration) (Store, func() Store) {
		dir := t.TempDir()
		open := func() Store {
			b := NewBuffered(openEmbeddedT(t, dir, ttl), BufferConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
		return open(), open
	})
}

// TestBufferedRidesOutARedisOutage stops Redis in the middle of two
// conversations: writes keep succeeding (held), reads answer from what the
// process knows, a session can even start; once Redis is back every turn is
// in the store, in order, with its metadata — and the turns acknowledged
// before the outage are still there.
func TestBufferedRidesOutARedisOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Persistent())
	ctx := context.Background()
	inner, err := OpenRedis(ctx, Config{RedisURL: "redis://" + srv.Addr(), ReadTimeout: 200 * time.Millisecond, DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuffered(inner, BufferConfig{RetryEvery: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer b.Close()

	id := NewID()
	mustNil(t, b.Create(ctx, Session{ID: id, UserID: "u1"}))
	mustNil(t, b.Append(ctx, id, Turn{ID: "1", Role: RoleShopper, Text: "before the outage"}))
	mustNil(t, b.SetMeta(ctx, id, map[string]string{"dialog": "v1"}))
	if b.Degraded() {
		t.Fatal("degraded while Redis is up")
	}

	srv.Stop()
	mustNil(t, b.Append(ctx, id, Turn{ID: "2", Role: RoleShopper, Text: "during the outage"}, Turn{ID: "2b", Role: RoleBot, Text: "answer"}))
	mustNil(t, b.SetMeta(ctx, id, map[string]string{"dialog": "v2", "handoff": "handoff_pending"}))
	if !b.Degraded() || b.Held() != 2 {
		t.Fatalf("degraded %v, held %d; want true, 2", b.Degraded(), b.Held())
	}
	got, err := b.Get(ctx, id)
	if err != nil || got.Meta["dialog"] != "v2" || got.Meta["handoff"] != "handoff_pending" || got.UserID != "u1" {
		t.Fatalf("Get during the outage: %+v, %v", got, err)
	}
	if h, err := b.History(ctx, id, 0); err != nil || len(h) != 2 || h[0].ID != "2" {
		t.Fatalf("History during the outage: %+v, %v (want the held turns)", h, err)
	}
	// A shopper arriving during the outage starts a session.
	fresh := NewID()
	mustNil(t, b.Create(ctx, Session{ID: fresh}))
	mustNil(t, b.Append(ctx, fresh, Turn{ID: "a", Role: RoleShopper, Text: "hello"}))
	// A session this process never saw cannot be read.
	if _, err := b.Get(ctx, NewID()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown session during the outage: %v", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.Degraded() || b.Held() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("held writes not flushed: degraded %v, held %d", b.Degraded(), b.Held())
		}
		time.Sleep(50 * time.Millisecond)
	}
	turns, err := inner.History(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tr := range turns {
		ids = append(ids, tr.ID)
	}
	if len(ids) != 3 || ids[0] != "1" || ids[1] != "2" || ids[2] != "2b" {
		t.Fatalf("transcript after the outage: %v, want [1 2 2b]", ids)
	}
	s, err := inner.Get(ctx, id)
	if err != nil || s.Meta["dialog"] != "v2" || s.Meta["handoff"] != "handoff_pending" || s.Turns != 3 {
		t.Fatalf("session after the outage: %+v, %v", s, err)
	}
	if h, err := inner.History(ctx, fresh, 0); err != nil || len(h) != 1 || h[0].Text != "hello" {
		t.Fatalf("session started during the outage: %+v, %v", h, err)
	}
}

// TestBufferedIsBounded: beyond MaxTurns, writes fail as without a buffer.
func TestBufferedIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	inner, err := OpenRedis(ctx, Config{RedisURL: "redis://" + srv.Addr(), ReadTimeout: 200 * time.Millisecond, DialTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuffered(inner, BufferConfig{MaxTurns: 3, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer b.Close()
	id := NewID()
	mustNil(t, b.Create(ctx, Session{ID: id}))
	srv.Stop()
	for i := range 3 {
		mustNil(t, b.Append(ctx, id, Turn{ID: string(rune('a' + i)), Role: RoleShopper, Text: "x"}))
	}
	if err := b.Append(ctx, id, Turn{ID: "d", Role: RoleShopper, Text: "x"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("4th held turn: %v, want ErrUnavailable", err)
	}
}
