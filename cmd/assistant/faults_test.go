package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/sessions"
)

// TestServeRidesOutARedisOutage stops Redis in the middle of a
// conversation: the chat keeps answering (degraded: the metric says so),
// and once Redis is back every turn — those acknowledged before the outage
// and those during it — is in the transcript, in order.
func TestServeRidesOutARedisOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Persistent())
	url := "redis://" + srv.Addr() + "/0"
	s := startServe(t, "--data-dir", t.TempDir(), "--redis-url", url)
	ws := dialWS(t, s.addr)
	turn := func(id, text string) []chat.ServerFrame {
		t.Helper()
		if err := ws.WriteJSON(map[string]string{"type": "message", "id": id, "text": text}); err != nil {
			t.Fatal(err)
		}
		fs := readUntil(t, ws, chat.TypeDone)
		for _, f := range fs {
			if f.Type == chat.TypeError {
				t.Fatalf("turn %q: error frame %s: %s", text, f.Code, f.Message)
			}
		}
		return fs
	}
	sessionID := turn("1", "bluetooth speaker")[0].SessionID

	srv.Stop()
	turn("2", "wireless mouse")
	turn("3", "where is my order?")
	if _, body := get(t, "http://"+s.addr+"/metrics"); !strings.Contains(body, "assistant_session_store_degraded 1") {
		t.Errorf("metrics during the outage:\n%s", grepLines(body, "assistant_session_store"))
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, "http://"+s.addr+"/metrics")
		if strings.Contains(body, "assistant_session_store_degraded 0") && strings.Contains(body, "assistant_session_store_held_turns 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held turns not flushed after Redis came back:\n%s", grepLines(body, "assistant_session_store"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, err := sessions.OpenRedis(context.Background(), sessions.Config{RedisURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	turns, err := st.History(context.Background(), sessionID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range turns {
		if tr.Role == sessions.RoleShopper {
			got = append(got, tr.Text)
		}
	}
	if strings.Join(got, "|") != "bluetooth speaker|wireless mouse|where is my order?" || len(turns) != 6 {
		t.Fatalf("transcript after the outage: %d turns, shopper said %q", len(turns), got)
	}
}
