package chat

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/internal/redisbus"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/sessions"
)

var _ Bus = (*redisbus.Bus)(nil)

// TestHandoffAcrossReplicas runs two chat servers sharing one Redis (the
// session store and a redisbus.Bus each): the shopper's socket is on
// replica A, the operator talks to replica B, and the takeover, the agent's
// message and the handback reach the shopper's socket on A, while B's
// operator stream sees A's turns.
func TestHandoffAcrossReplicas(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	replica := func() *dialogHarness {
		st, err := sessions.New(context.Background(), sessions.Config{RedisURL: "redis://" + addr, KeyPrefix: prefix, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bus := redisbus.New(st.(*sessions.Redis).Client(), prefix+"bus:", slog.New(slog.NewTextHandler(io.Discard, nil)))
		t.Cleanup(func() { bus.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		return newDialogHarness(t, st, func(d *Deps) {
			d.Bus = bus
			d.Metrics = NewMetrics(prometheus.NewRegistry())
		})
	}
	a, b := replica(), replica()

	sock := a.dial(t)
	sock.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	id := sock.until(TypeDone)[0].SessionID

	base := "/api/operator/sessions/" + id
	if code := b.operatorCall(t, http.MethodPost, base+"/takeover", "alice", nil, nil); code != http.StatusOK {
		t.Fatalf("takeover on B: %d", code)
	}
	if f := sock.next(); f.Type != TypeHandoff || f.State != StateAgent {
		t.Fatalf("shopper on A got %+v after the takeover on B", f)
	}
	if code := b.operatorCall(t, http.MethodPost, base+"/messages", "alice", map[string]string{"text": "Hi from replica B"}, nil); code != http.StatusCreated {
		t.Fatalf("message on B: %d", code)
	}
	if f := sock.next(); f.Type != TypeMessage || f.Role != RoleAgent || f.Text != "Hi from replica B" {
		t.Fatalf("shopper on A got %+v after the message on B", f)
	}
	// A's turn while B's operator holds the session is stored, not answered.
	sock.send(map[string]string{"type": "message", "id": "2", "text": "thanks!"})
	if fs := sock.until(TypeDone); len(fs) != 1 {
		t.Fatalf("A answered while the agent held the session: %+v", fs)
	}
	if code := b.operatorCall(t, http.MethodPost, base+"/handback", "alice", nil, nil); code != http.StatusOK {
		t.Fatalf("handback on B: %d", code)
	}
	if f := sock.next(); f.Type != TypeHandoff || f.State != StateBot {
		t.Fatalf("shopper on A got %+v after the handback on B", f)
	}
	var tr transcript
	b.operatorCall(t, http.MethodGet, base, "alice", nil, &tr)
	if n := len(tr.Turns); n != 4 || tr.Turns[2].Role != sessions.RoleAgent || tr.Turns[3].Text != "thanks!" {
		t.Fatalf("transcript on B: %+v", tr.Turns)
	}
}
