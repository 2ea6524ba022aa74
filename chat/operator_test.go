package chat

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/sessions"
)

// seed creates a session with turns and metadata directly in the store.
func seed(t *testing.T, st sessions.Store, id string, meta map[string]string, turns ...sessions.Turn) {
	t.Helper()
	ctx := context.Background()
	if err := st.Create(ctx, sessions.Session{ID: id, UserID: "u-" + id}); err != nil {
		t.Fatal(err)
	}
	if len(turns) > 0 {
		if err := st.Append(ctx, id, turns...); err != nil {
			t.Fatal(err)
		}
	}
	if len(meta) > 0 {
		if err := st.SetMeta(ctx, id, meta); err != nil {
			t.Fatal(err)
		}
	}
}

type listResp struct {
	Sessions []opSession `json:"sessions"`
	Next     string      `json:"next"`
}

func ids(l listResp) string {
	var s []string
	for _, o := range l.Sessions {
		s = append(s, o.ID)
	}
	return strings.Join(s, ",")
}

func TestOperatorAuth(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	deps := Deps{Store: store, Index: testIndex(t), Metrics: NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	off, err := NewServer(Config{}, deps)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	off.OperatorHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/operator/sessions", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("without OperatorAuth: %d, want 404", rec.Code)
	}
	deps.Metrics = NewMetrics(prometheus.NewRegistry())
	on, err := NewServer(Config{OperatorAuth: headerAuth}, deps)
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	on.OperatorHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/operator/sessions", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("hook says no: %d, want 401", rec.Code)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/operator/sessions/x/takeover", nil)
	req.Header.Set("X-Operator", "alice")
	on.OperatorHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET on takeover: %d, want 405", rec.Code)
	}
}

func TestOperatorListOrderFilterSearchAndPages(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	now := time.Now().UTC()
	shopper := func(text string) sessions.Turn {
		return sessions.Turn{ID: "s", Role: sessions.RoleShopper, Text: text, Intent: "product_search"}
	}
	// Created in this order; each later one is updated more recently.
	seed(t, store, "bot-old", nil, shopper("bluetooth speaker"))
	seed(t, store, "wait-late", map[string]string{metaHandoff: StateHandoffPending, metaHandoffAt: now.Add(-1 * time.Minute).Format(time.RFC3339Nano)}, shopper("I want a human"))
	seed(t, store, "agent", map[string]string{metaHandoff: StateAgent, metaOperator: "alice"}, shopper("my parcel is late"))
	seed(t, store, "wait-early", map[string]string{metaHandoff: StateHandoffPending, metaHandoffAt: now.Add(-10 * time.Minute).Format(time.RFC3339Nano)}, shopper("Complaint about a PARCEL"))
	seed(t, store, "bot-new", map[string]string{metaLastText: "hello", metaLastRole: "shopper"}, shopper("hello"))

	var l listResp
	if code := h.operatorCall(t, http.MethodGet, "/api/operator/sessions", "alice", nil, &l); code != http.StatusOK {
		t.Fatalf("list: %d", code)
	}
	if got := ids(l); got != "wait-early,wait-late,bot-new,agent,bot-old" {
		t.Errorf("order %s: want waiting sessions first (longest waiting first), then most recently updated", got)
	}
	if l.Sessions[0].State != StateHandoffPending || l.Sessions[0].WaitingSince == nil || l.Sessions[3].Operator != "alice" ||
		l.Sessions[2].LastText != "hello" || l.Sessions[2].LastRole != "shopper" || l.Sessions[2].UserID != "u-bot-new" || l.Sessions[2].Turns != 1 {
		t.Errorf("fields: %+v", l.Sessions)
	}
	l = listResp{}
	h.operatorCall(t, http.MethodGet, "/api/operator/sessions?state=agent", "alice", nil, &l)
	if got := ids(l); got != "agent" {
		t.Errorf("state=agent: %s", got)
	}
	l = listResp{}
	h.operatorCall(t, http.MethodGet, "/api/operator/sessions?q=parcel", "alice", nil, &l)
	if got := ids(l); got != "wait-early,agent" {
		t.Errorf("q=parcel: %s", got)
	}
	// Pages of two.
	var pages []string
	cursor := ""
	for i := 0; ; i++ {
		l = listResp{}
		h.operatorCall(t, http.MethodGet, "/api/operator/sessions?limit=2&cursor="+cursor, "alice", nil, &l)
		pages = append(pages, ids(l))
		if l.Next == "" || i > 5 {
			break
		}
		cursor = l.Next
	}
	if got := strings.Join(pages, "|"); got != "wait-early,wait-late|bot-new,agent|bot-old" {
		t.Errorf("pages %s", got)
	}
	for _, bad := range []string{"?state=lost", "?limit=0", "?limit=x", "?cursor=-1"} {
		if code := h.operatorCall(t, http.MethodGet, "/api/operator/sessions"+bad, "alice", nil, nil); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

func TestOperatorTakeoverMessagesHandbackAndConflicts(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	// Two tabs of one shopper's session.
	tab1 := h.dial(t)
	tab1.send(map[string]string{"type": "hello"})
	id := tab1.next().SessionID
	tab2 := h.dial(t)
	tab2.send(map[string]string{"type": "hello", "session_id": id})
	tab2.until(TypeHistory)

	base := "/api/operator/sessions/" + id
	if code := h.operatorCall(t, http.MethodPost, base+"/messages", "alice", map[string]string{"text": "hi"}, nil); code != http.StatusConflict {
		t.Errorf("message before takeover: %d, want 409", code)
	}
	var o opSession
	if code := h.operatorCall(t, http.MethodPost, base+"/takeover", "alice", nil, &o); code != http.StatusOK || o.State != StateAgent || o.Operator != "alice" {
		t.Fatalf("takeover: %d %+v", code, o)
	}
	for _, tab := range []*socket{tab1, tab2} {
		if f := tab.next(); f.Type != TypeHandoff || f.State != StateAgent {
			t.Fatalf("after takeover the shopper got %+v", f)
		}
	}
	if code := h.operatorCall(t, http.MethodPost, base+"/takeover", "alice", nil, nil); code != http.StatusOK {
		t.Errorf("takeover again by the holder: %d, want 200", code)
	}
	if code := h.operatorCall(t, http.MethodPost, base+"/takeover", "bob", nil, nil); code != http.StatusConflict {
		t.Errorf("takeover by another operator: %d, want 409", code)
	}
	if code := h.operatorCall(t, http.MethodPost, base+"/messages", "bob", map[string]string{"text": "hi"}, nil); code != http.StatusConflict {
		t.Errorf("message by a non-holder: %d, want 409", code)
	}
	for _, body := range []any{map[string]string{"text": "  "}, map[string]int{"text": 1}, map[string]string{"text": strings.Repeat("a", MaxTextBytes+1)}} {
		if code := h.operatorCall(t, http.MethodPost, base+"/messages", "alice", body, nil); code != http.StatusBadRequest {
			t.Errorf("message body %v: %d, want 400", body, code)
		}
	}
	var sent struct {
		ID string    `json:"id"`
		At time.Time `json:"at"`
	}
	if code := h.operatorCall(t, http.MethodPost, base+"/messages", "alice", map[string]string{"text": "Hello, this is Alice."}, &sent); code != http.StatusCreated || sent.ID == "" {
		t.Fatalf("message: %d %+v", code, sent)
	}
	for _, tab := range []*socket{tab1, tab2} {
		f := tab.next()
		if f.Type != TypeMessage || f.Role != RoleAgent || f.Text != "Hello, this is Alice." || f.ID != sent.ID || f.ReplyTo != "" {
			t.Fatalf("agent message on the socket: %+v", f)
		}
	}
	// The shopper's message is stored for the operator and not answered.
	tab1.send(map[string]string{"type": "message", "id": "q", "text": "thanks, where is my parcel?"})
	if fs := tab1.until(TypeDone); len(fs) != 1 {
		t.Fatalf("while an agent holds the session the shopper got %+v", fs)
	}
	var tr transcript
	h.operatorCall(t, http.MethodGet, base, "bob", nil, &tr)
	if len(tr.Turns) != 2 || tr.Turns[0].Role != sessions.RoleAgent || tr.Turns[1].Text != "thanks, where is my parcel?" || tr.Session.Operator != "alice" {
		t.Fatalf("transcript %+v", tr)
	}
	if code := h.operatorCall(t, http.MethodPost, base+"/handback", "bob", nil, nil); code != http.StatusConflict {
		t.Errorf("handback by a non-holder: %d, want 409", code)
	}
	o = opSession{}
	if code := h.operatorCall(t, http.MethodPost, base+"/handback", "alice", nil, &o); code != http.StatusOK || o.State != StateBot || o.Operator != "" {
		t.Fatalf("handback: %d %+v", code, o)
	}
	for _, tab := range []*socket{tab1, tab2} {
		if f := tab.next(); f.Type != TypeHandoff || f.State != StateBot {
			t.Fatalf("after handback the shopper got %+v", f)
		}
	}
	// The assistant answers again.
	tab1.send(map[string]string{"type": "message", "id": "r", "text": "bluetooth speaker"})
	if fs := tab1.until(TypeDone); types(fs) != "typing,products,message,done" {
		t.Fatalf("after handback: %s", types(fs))
	}
	if code := h.operatorCall(t, http.MethodPost, "/api/operator/sessions/nope/takeover", "alice", nil, nil); code != http.StatusNotFound {
		t.Errorf("takeover of an unknown session: %d, want 404", code)
	}
}

func TestOperatorExportAndFeedback(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	var botID, sessionID string
	for _, f := range sock.until(TypeDone) {
		if f.Type == TypeSession {
			sessionID = f.SessionID
		}
		if f.Type == TypeMessage {
			botID = f.ID
		}
	}
	sock.send(map[string]any{"type": "feedback", "message_id": "1", "rating": 1}) // the shopper's own message
	if f := sock.next(); f.Type != TypeError || f.Code != CodeBadRequest {
		t.Fatalf("feedback on a shopper turn: %+v", f)
	}
	sock.send(map[string]any{"type": "feedback", "message_id": "m_unknown", "rating": 1})
	if f := sock.next(); f.Type != TypeError || f.Code != CodeBadRequest {
		t.Fatalf("feedback on an unknown message: %+v", f)
	}
	sock.send(map[string]any{"type": "feedback", "message_id": botID, "rating": -1, "comment": "not what I asked"})
	if f := sock.next(); f.Type != TypeFeedbackOK || f.MessageID != botID {
		t.Fatalf("feedback: %+v", f)
	}

	req, _ := http.NewRequest(http.MethodGet, h.http.URL+"/api/operator/sessions/"+sessionID+"/export", nil)
	req.Header.Set("X-Operator", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if cd := resp.Header.Get("Content-Disposition"); resp.StatusCode != http.StatusOK || cd != `attachment; filename="session-`+sessionID+`.json"` {
		t.Fatalf("export: %d, Content-Disposition %q", resp.StatusCode, cd)
	}
	var tr transcript
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	if len(tr.Turns) != 2 || tr.Turns[1].Feedback == nil || tr.Turns[1].Feedback.Rating != -1 || tr.Turns[1].Feedback.Comment != "not what I asked" ||
		tr.Turns[0].Feedback != nil || len(tr.Turns[1].Products) == 0 {
		t.Fatalf("exported transcript %+v", tr)
	}
}

func TestOperatorAnalytics(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	now := time.Now().UTC()
	fb := func(r int, at time.Time) string {
		b, _ := json.Marshal(feedbackRecord{Rating: r, At: at})
		return string(b)
	}
	seed(t, store, "a", map[string]string{metaHandoffs: "1", metaFeedback + "m1": fb(1, now), metaFeedback + "m2": fb(-1, now)},
		sessions.Turn{ID: "1", Role: sessions.RoleShopper, Text: "x", Intent: "product_search", At: now.Add(-30 * time.Minute)},
		sessions.Turn{ID: "m1", Role: sessions.RoleBot, Text: "y", At: now.Add(-30 * time.Minute)},
		sessions.Turn{ID: "2", Role: sessions.RoleShopper, Text: "x", Intent: "track_order", At: now.Add(-2 * time.Hour)},
		sessions.Turn{ID: "3", Role: sessions.RoleShopper, Text: "x", Intent: "track_order", At: now.Add(-48 * time.Hour)}, // outside the window
	)
	seed(t, store, "b", map[string]string{metaFeedback + "m9": fb(1, now.Add(-72*time.Hour))},
		sessions.Turn{ID: "1", Role: sessions.RoleShopper, Text: "x", Intent: "greeting", At: now.Add(-10 * time.Minute)},
	)
	var a analytics
	if code := h.operatorCall(t, http.MethodGet, "/api/operator/analytics?hours=24", "alice", nil, &a); code != http.StatusOK {
		t.Fatalf("analytics: %d", code)
	}
	if a.Sessions != 2 || a.HandoffRate != 0.5 || a.Feedback.Up != 1 || a.Feedback.Down != 1 ||
		a.Intents["product_search"] != 1 || a.Intents["track_order"] != 1 || a.Intents["greeting"] != 1 || len(a.Intents) != 3 {
		t.Fatalf("analytics %+v", a)
	}
	total := 0
	for i, hc := range a.TurnsPerHour {
		total += hc.Turns
		if i > 0 && !hc.Hour.Equal(a.TurnsPerHour[i-1].Hour.Add(time.Hour)) {
			t.Fatalf("hours not consecutive: %v", a.TurnsPerHour)
		}
	}
	last := a.TurnsPerHour[len(a.TurnsPerHour)-1].Hour
	if len(a.TurnsPerHour) != 24 || total != 3 || time.Since(last) < 0 || time.Since(last) > time.Hour+time.Minute {
		t.Fatalf("turns per hour %+v", a.TurnsPerHour)
	}
	if code := h.operatorCall(t, http.MethodGet, "/api/operator/analytics?hours=0", "alice", nil, nil); code != http.StatusBadRequest {
		t.Errorf("hours=0: %d", code)
	}
}

// TestOperatorStream reads the SSE stream while a shopper talks and an
// operator takes over, and checks it ends at shutdown.
func TestOperatorStream(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	req, _ := http.NewRequest(http.MethodGet, h.http.URL+"/api/operator/stream", nil)
	req.Header.Set("X-Operator", "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan sessionChange, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev sessionChange
				if json.Unmarshal([]byte(data), &ev) == nil {
					events <- ev
				}
			}
		}
	}()
	next := func() sessionChange {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
		return sessionChange{}
	}
	// The subscription starts with the response; wait until it is there.
	waitFor(t, func() bool { return h.srv.bus.(*MemoryBus).subscribers(ChangesTopic) == 1 })
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	fs := sock.until(TypeDone)
	id := fs[0].SessionID
	if ev := next(); ev.Type != "session" || ev.ID != id || ev.State != StateBot || ev.UpdatedAt.IsZero() {
		t.Fatalf("turn event %+v", ev)
	}
	h.operatorCall(t, http.MethodPost, "/api/operator/sessions/"+id+"/takeover", "alice", nil, nil)
	if ev := next(); ev.ID != id || ev.State != StateAgent {
		t.Fatalf("takeover event %+v", ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go h.srv.Shutdown(ctx)
	for range events { // drains until the server ends the stream
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMemoryBus(t *testing.T) {
	b := NewMemoryBus()
	var got []string
	unsub := b.Subscribe("t", func(p []byte) { got = append(got, string(p)) })
	unsub2 := b.Subscribe("t", func(p []byte) { got = append(got, "2:"+string(p)) })
	_ = b.Publish(context.Background(), "t", []byte("a"))
	_ = b.Publish(context.Background(), "other", []byte("x"))
	unsub()
	unsub() // idempotent
	_ = b.Publish(context.Background(), "t", []byte("b"))
	unsub2()
	if b.subscribers("t") != 0 {
		t.Fatal("subscribers left after unsubscribing")
	}
	if strings.Join(got, ",") != "a,2:a,2:b" && strings.Join(got, ",") != "2:a,a,2:b" {
		t.Fatalf("deliveries %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, "t", nil); err == nil {
		t.Fatal("publish with a cancelled context succeeded")
	}
}

// TestClosedSocketUnsubscribes checks that a connection leaves the bus when
// it ends, so sessions do not leak subscribers.
func TestClosedSocketUnsubscribes(t *testing.T) {
	h := newDialogHarness(t, embeddedStore(t, t.TempDir()))
	sock := h.dial(t)
	sock.send(map[string]string{"type": "hello"})
	id := sock.next().SessionID
	bus := h.srv.bus.(*MemoryBus)
	if bus.subscribers(SessionTopic(id)) != 1 {
		t.Fatalf("%d subscribers of the session", bus.subscribers(SessionTopic(id)))
	}
	sock.ws.Close()
	waitFor(t, func() bool { return bus.subscribers(SessionTopic(id)) == 0 })
}

// subscribers reports how many subscribers topic has.
func (b *MemoryBus) subscribers(topic string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs[topic])
}
