package chat

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestMessageRatePerConnection: beyond its token bucket a connection's
// message gets a busy error at once, naming the reason; the messages within
// it are answered.
func TestMessageRatePerConnection(t *testing.T) {
	h := newHarness(t, Config{MessageRate: 0.001, MessageBurst: 2}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	for _, id := range []string{"1", "2", "3"} {
		c.send(map[string]string{"type": "message", "id": id, "text": "bluetooth speaker"})
	}
	var busy, done []string
	for len(busy)+len(done) < 3 {
		f := c.next()
		switch {
		case f.Type == TypeError && f.Code == CodeBusy:
			if !strings.Contains(f.Message, "too fast") {
				t.Errorf("busy message %q does not say why", f.Message)
			}
			busy = append(busy, f.ReplyTo)
		case f.Type == TypeError:
			t.Fatalf("unexpected error %+v", f)
		case f.Type == TypeDone:
			done = append(done, f.ReplyTo)
		}
	}
	if strings.Join(done, ",") != "1,2" || strings.Join(busy, ",") != "3" {
		t.Fatalf("done %v, busy %v; want 1,2 answered and 3 refused", done, busy)
	}
}

// TestMaxConnections: an upgrade beyond MaxConnections is refused with 503
// and Retry-After; a slot frees when a connection closes.
func TestMaxConnections(t *testing.T) {
	h := newHarness(t, Config{MaxConnections: 2}, embeddedStore(t, t.TempDir()))
	a, _ := h.dial(t), h.dial(t)
	// The server registers a connection just after the handshake the
	// client has seen: wait until both count.
	for open := 0; open < 2; {
		h.srv.mu.Lock()
		open = len(h.srv.conns)
		h.srv.mu.Unlock()
		sleepShort()
	}
	url := "ws" + strings.TrimPrefix(h.http.URL, "http")
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: err %v, resp %+v; want 503 with Retry-After", err, resp)
	}
	a.ws.Close()
	for range 100 {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err == nil {
			ws.Close()
			return
		}
		sleepShort()
	}
	t.Fatal("no slot after a connection closed")
}

func sleepShort() { time.Sleep(20 * time.Millisecond) }
