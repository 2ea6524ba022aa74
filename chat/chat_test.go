package chat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
)

var testProducts = []catalog.Product{
	{ID: "1", Title: "JBL Flip 5 portable bluetooth speaker waterproof", Brand: "JBL", Price: 9995, Currency: "EUR"},
	{ID: "2", Title: "Sony SRS-XB13 bluetooth speaker", Brand: "Sony", Price: 4999, Currency: "EUR"},
	{ID: "3", Title: "Bose SoundLink Mini bluetooth speaker", Brand: "Bose", Price: 19900, Currency: "EUR"},
	{ID: "4", Title: "Sony WH-1000XM4 wireless headphones", Brand: "Sony", Price: 27900, Currency: "EUR"},
	{ID: "5", Title: "HP 61 black ink cartridge", Brand: "HP", Price: 1795, Currency: "EUR"},
	{ID: "6", Title: "Logitech M185 wireless mouse", Brand: "Logitech", Price: 1499, Currency: "EUR"},
	{ID: "7", Title: "Anker Soundcore 2 bluetooth speaker", Brand: "Anker", Price: 3999, Currency: "EUR"},
	{ID: "8", Title: "Ultimate Ears Boom 3 bluetooth speaker", Brand: "Ultimate Ears", Price: 12999, Currency: "EUR"},
}

func testIndex(t *testing.T) retrieval.Index {
	t.Helper()
	idx, err := retrieval.New(retrieval.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Upsert(context.Background(), testProducts); err != nil {
		t.Fatal(err)
	}
	return idx
}

func embeddedStore(t testing.TB, dir string) sessions.Store {
	t.Helper()
	st, err := sessions.New(context.Background(), sessions.Config{DataDir: dir, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type harness struct {
	srv   *Server
	http  *httptest.Server
	store sessions.Store
}

func newHarness(t *testing.T, cfg Config, store sessions.Store, opts ...func(*Deps)) *harness {
	t.Helper()
	deps := Deps{
		Store:   store,
		Index:   testIndex(t),
		Metrics: NewMetrics(prometheus.NewRegistry()),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&deps)
	}
	srv, err := NewServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &harness{srv: srv, http: hs, store: store}
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (h *harness) dial(t *testing.T) *client {
	t.Helper()
	url := "ws" + strings.TrimPrefix(h.http.URL, "http")
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) sendRaw(kind int, data []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(kind, data); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) next() ServerFrame {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f ServerFrame
	if err := c.ws.ReadJSON(&f); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// until reads frames up to and including the first of type typ.
func (c *client) until(typ string) []ServerFrame {
	c.t.Helper()
	var fs []ServerFrame
	for {
		f := c.next()
		fs = append(fs, f)
		if f.Type == typ {
			return fs
		}
		if f.Type == TypeError && typ != TypeError {
			c.t.Fatalf("unexpected error frame %+v", f)
		}
	}
}

func types(fs []ServerFrame) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Type)
	}
	return strings.Join(s, ",")
}

func TestMessageIsAnsweredWithProducts(t *testing.T) {
	h := newHarness(t, Config{ProductsPerAnswer: 5}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	c.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	fs := c.until(TypeDone)
	if got := types(fs); got != "session,typing,products,message,done" {
		t.Fatalf("frames %s", got)
	}
	sessID := fs[0].SessionID
	if len(sessID) < 22 {
		t.Errorf("session id %q is too short to be unguessable", sessID)
	}
	items := fs[2].Items
	if len(items) != 5 {
		t.Fatalf("%d items, want 5", len(items))
	}
	for _, it := range items {
		if !strings.Contains(strings.ToLower(it.Title), "speaker") {
			t.Errorf("irrelevant product %q for bluetooth speaker", it.Title)
		}
		if it.Currency != "EUR" || it.Price <= 0 {
			t.Errorf("item %s: price %v %q", it.ID, it.Price, it.Currency)
		}
	}
	for _, f := range fs[1:] {
		if f.ReplyTo != "1" {
			t.Errorf("%s frame reply_to %q, want 1", f.Type, f.ReplyTo)
		}
	}
	if fs[3].Text == "" || fs[3].ID == "" {
		t.Errorf("message frame without text or id: %+v", fs[3])
	}
	// done means both turns are in the transcript.
	turns, err := h.store.History(context.Background(), sessID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 2 || turns[0].Role != sessions.RoleShopper || turns[0].Text != "bluetooth speaker" ||
		turns[1].Role != sessions.RoleBot || turns[1].ReplyTo != "1" || len(turns[1].Products) != 5 {
		t.Fatalf("transcript %+v", turns)
	}
}

func TestNoResultsAnswer(t *testing.T) {
	h := newHarness(t, Config{}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	c.send(map[string]string{"type": "message", "id": "x", "text": "zzqx"})
	fs := c.until(TypeDone)
	if got := types(fs); got != "session,typing,message,done" {
		t.Fatalf("frames %s", got)
	}
	if !strings.Contains(fs[2].Text, "couldn't find") {
		t.Errorf("no-result answer %q", fs[2].Text)
	}
}

func resumeAfterRestart(t *testing.T, open func() sessions.Store) {
	store := open()
	h := newHarness(t, Config{}, store)
	c := h.dial(t)
	c.send(map[string]string{"type": "hello", "user_id": "u1"})
	sess := c.next()
	if sess.Type != TypeSession || sess.Resumed == nil || *sess.Resumed {
		t.Fatalf("first frame %+v", sess)
	}
	c.send(map[string]string{"type": "message", "id": "a", "text": "wireless headphones"})
	c.until(TypeDone)
	c.send(map[string]string{"type": "message", "id": "b", "text": "hp 61 ink"})
	c.until(TypeDone)
	c.ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	h.http.Close()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// A new server over a reopened store replays the history.
	h2 := newHarness(t, Config{}, open())
	c2 := h2.dial(t)
	c2.send(map[string]string{"type": "hello", "session_id": sess.SessionID})
	f := c2.next()
	if f.Type != TypeSession || f.SessionID != sess.SessionID || f.Resumed == nil || !*f.Resumed {
		t.Fatalf("resume frame %+v", f)
	}
	hist := c2.next()
	if hist.Type != TypeHistory || len(hist.Turns) != 4 {
		t.Fatalf("history frame %+v", hist)
	}
	want := []struct {
		role sessions.Role
		text string
	}{{sessions.RoleShopper, "wireless headphones"}, {sessions.RoleBot, ""}, {sessions.RoleShopper, "hp 61 ink"}, {sessions.RoleBot, ""}}
	for i, w := range want {
		got := hist.Turns[i]
		if got.Role != w.role || (w.text != "" && got.Text != w.text) {
			t.Errorf("turn %d: %s %q", i, got.Role, got.Text)
		}
	}
	if len(hist.Turns[3].Products) == 0 || !strings.Contains(hist.Turns[3].Products[0].Title, "HP 61") {
		t.Errorf("replayed bot turn lost its products: %+v", hist.Turns[3].Products)
	}
	// The session goes on.
	c2.send(map[string]string{"type": "message", "id": "c", "text": "mouse"})
	if fs := c2.until(TypeDone); types(fs) != "typing,products,message,done" {
		t.Fatalf("frames after resume %s", types(fs))
	}
}

func TestResumeAfterRestartEmbedded(t *testing.T) {
	dir := t.TempDir()
	resumeAfterRestart(t, func() sessions.Store { return embeddedStore(t, dir) })
}

func TestResumeAfterRestartRedis(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	resumeAfterRestart(t, func() sessions.Store {
		st, err := sessions.New(context.Background(), sessions.Config{RedisURL: "redis://" + addr, TTL: time.Hour, KeyPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestUnknownSessionStartsANewOne(t *testing.T) {
	h := newHarness(t, Config{}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	c.send(map[string]string{"type": "hello", "session_id": "does-not-exist"})
	f := c.next()
	if f.Type != TypeSession || f.SessionID == "does-not-exist" || f.Resumed == nil || *f.Resumed {
		t.Fatalf("frame %+v", f)
	}
}

func TestBadFramesGetSpecificErrorsAndConnectionStaysUsable(t *testing.T) {
	h := newHarness(t, Config{}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	cases := []struct {
		name string
		kind int
		data string
		code string
	}{
		{"not json", websocket.TextMessage, "hello there", CodeInvalidJSON},
		{"truncated json", websocket.TextMessage, `{"type":"message","id":"1"`, CodeInvalidJSON},
		{"json array", websocket.TextMessage, `[1,2]`, CodeInvalidJSON},
		{"unknown type", websocket.TextMessage, `{"type":"dance"}`, CodeUnknownType},
		{"missing type", websocket.TextMessage, `{"text":"hi"}`, CodeUnknownType},
		{"missing text", websocket.TextMessage, `{"type":"message","id":"1"}`, CodeEmptyText},
		{"blank text", websocket.TextMessage, `{"type":"message","id":"1","text":"  \n "}`, CodeEmptyText},
		{"missing id", websocket.TextMessage, `{"type":"message","text":"hi"}`, CodeBadRequest},
		{"text not a string", websocket.TextMessage, `{"type":"message","id":"1","text":42}`, CodeBadRequest},
		{"text too large", websocket.TextMessage, `{"type":"message","id":"1","text":"` + strings.Repeat("a", MaxTextBytes+1) + `"}`, CodeTooLarge},
		{"invalid utf-8", websocket.TextMessage, "{\"type\":\"message\",\"id\":\"1\",\"text\":\"caf\xe9\"}", CodeInvalidUTF8},
		{"event without object", websocket.TextMessage, `{"type":"event","event":"click"}`, CodeBadEvent},
		{"event on a server without events", websocket.TextMessage, `{"type":"event","event":{"type":"click","product_id":"1"}}`, CodeBadEvent},
		{"binary frame", websocket.BinaryMessage, `{"type":"message","id":"1","text":"hi"}`, CodeBinaryMessage},
		{"feedback without message id", websocket.TextMessage, `{"type":"feedback","rating":1}`, CodeBadRequest},
		{"feedback with rating 2", websocket.TextMessage, `{"type":"feedback","message_id":"m","rating":2}`, CodeBadRequest},
		{"feedback with string rating", websocket.TextMessage, `{"type":"feedback","message_id":"m","rating":"1"}`, CodeBadRequest},
		{"feedback before a session", websocket.TextMessage, `{"type":"feedback","message_id":"m","rating":1}`, CodeBadRequest},
	}
	for _, tc := range cases {
		c.sendRaw(tc.kind, []byte(tc.data))
		f := c.next()
		if f.Type != TypeError || f.Code != tc.code || f.Message == "" {
			t.Errorf("%s: got %+v, want error %s", tc.name, f, tc.code)
		}
	}
	// Text of exactly the limit is accepted.
	c.send(map[string]string{"type": "message", "id": "ok", "text": "speaker " + strings.Repeat("x", MaxTextBytes-8)})
	if fs := c.until(TypeDone); fs[len(fs)-1].ReplyTo != "ok" {
		t.Fatalf("frames %+v", fs)
	}
}

func TestFrameOverReadLimitClosesWith1009(t *testing.T) {
	h := newHarness(t, Config{ReadLimit: 8 << 10}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	c.sendRaw(websocket.TextMessage, []byte(`{"type":"message","id":"1","text":"`+strings.Repeat("a", 9<<10)+`"}`))
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("read after oversized frame: %v, want close 1009", err)
	}
}

func TestSessionStoreOutageGivesUnavailableAndRecovers(t *testing.T) {
	rs := redistest.Start(t)
	store, err := sessions.New(context.Background(), sessions.Config{RedisURL: "redis://" + rs.Addr(), TTL: time.Hour, KeyPrefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h := newHarness(t, Config{}, store)
	c := h.dial(t)
	c.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	c.until(TypeDone)

	rs.Stop()
	c.send(map[string]string{"type": "message", "id": "2", "text": "wireless mouse"})
	fs := c.until(TypeError)
	last := fs[len(fs)-1]
	if last.Code != CodeUnavailable || last.ReplyTo != "2" {
		t.Fatalf("during outage: %+v", last)
	}

	rs.Restart()
	// go-redis reconnects on its own; the same connection recovers.
	deadline := time.Now().Add(20 * time.Second)
	for i := 3; ; i++ {
		id := string(rune('0' + i))
		c.send(map[string]string{"type": "message", "id": id, "text": "wireless mouse"})
		fs := c.until(TypeDone)
		if types(fs) == "typing,products,message,done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis restart: %s", types(fs))
		}
	}
}

func TestShutdownClosesConnectionsWith1001(t *testing.T) {
	h := newHarness(t, Config{}, embeddedStore(t, t.TempDir()))
	c := h.dial(t)
	c.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	c.until(TypeDone)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("got %v, want close 1001", err)
	}
	c.ws.Close()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// New connections are refused while shutting down.
	resp, err := http.Get(h.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status after shutdown %d", resp.StatusCode)
	}
}

func TestSearchHandler(t *testing.T) {
	hs := httptest.NewServer(SearchHandler(testIndex(t)))
	defer hs.Close()
	get := func(q string) (int, SearchResponse) {
		resp, err := http.Get(hs.URL + "/api/search?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sr SearchResponse
		_ = json.NewDecoder(resp.Body).Decode(&sr)
		return resp.StatusCode, sr
	}
	if code, _ := get(""); code != http.StatusBadRequest {
		t.Errorf("no q: %d", code)
	}
	if code, _ := get("q=speaker&k=0"); code != http.StatusBadRequest {
		t.Errorf("k=0: %d", code)
	}
	if code, _ := get("q=speaker&k=abc"); code != http.StatusBadRequest {
		t.Errorf("k=abc: %d", code)
	}
	code, sr := get("q=bluetooth+speaker&k=3")
	if code != http.StatusOK || len(sr.Items) != 3 {
		t.Fatalf("status %d, %d items", code, len(sr.Items))
	}
	for _, it := range sr.Items {
		if !strings.Contains(it.Title, "speaker") {
			t.Errorf("irrelevant %q", it.Title)
		}
	}
}
