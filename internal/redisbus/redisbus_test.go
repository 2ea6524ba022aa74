package redisbus

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redistest"
)

func newBus(t *testing.T, addr, prefix string) *Bus {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	b := New(c, prefix, nil)
	t.Cleanup(func() { b.Close(); c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func recv(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing received, want %q", want)
	}
}

func none(t *testing.T, ch <-chan string) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("unexpected %q", got)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestAcrossReplicas: two buses on one Redis stand for two replicas; a
// message published on one reaches the other's subscribers of that topic
// only, and the publisher's own subscribers once.
func TestAcrossReplicas(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t) + "bus:"
	a, b := newBus(t, addr, prefix), newBus(t, addr, prefix)
	other := newBus(t, addr, prefix+"x:") // another deployment's prefix

	onB, onA, onOther, onTopic2 := make(chan string, 10), make(chan string, 10), make(chan string, 10), make(chan string, 10)
	unsubB := b.Subscribe("session:1", func(p []byte) { onB <- string(p) })
	a.Subscribe("session:1", func(p []byte) { onA <- string(p) })
	b.Subscribe("session:2", func(p []byte) { onTopic2 <- string(p) })
	other.Subscribe("session:1", func(p []byte) { onOther <- string(p) })

	ctx := context.Background()
	if err := a.Publish(ctx, "session:1", []byte("hello from an operator")); err != nil {
		t.Fatal(err)
	}
	recv(t, onB, "hello from an operator")
	recv(t, onA, "hello from an operator")
	none(t, onA)
	none(t, onTopic2)
	none(t, onOther)

	unsubB()
	if err := a.Publish(ctx, "session:1", []byte("second")); err != nil {
		t.Fatal(err)
	}
	recv(t, onA, "second")
	none(t, onB)
}

// TestResubscribesAfterRedisRestart: after Redis restarts, the bus hears
// messages again without anything being done.
func TestResubscribesAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "bus:"
	sub := newBus(t, srv.Addr(), prefix)
	got := make(chan string, 10)
	sub.Subscribe("t", func(p []byte) { got <- string(p) })
	pub := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer pub.Close()
	ctx := context.Background()
	if err := pub.Publish(ctx, prefix+"t", "before").Err(); err != nil {
		t.Fatal(err)
	}
	recv(t, got, "before")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := pub.Publish(ctx, prefix+"t", "after").Result()
		if err == nil && n > 0 { // a subscriber is back
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no subscriber after restart: %d, %v", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	recv(t, got, "after")
}
