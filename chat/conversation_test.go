package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/audit"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/policies"
	"github.com/shopassist/shopassist/sessions"
)

var update = flag.Bool("update", false, "rewrite the expected frames and states of testdata/conversations/*.json")

// conversation is one scripted conversation of testdata/conversations. Each
// step has inputs (send, operator, feedback, reconnect) and the expected
// outcome (frames, status, state), which -update rewrites from what the
// server did.
type conversation struct {
	Description string `json:"description"`
	// Backends lists the session stores to run on: "embedded" (default)
	// and "redis".
	Backends []string `json:"backends,omitempty"`
	Steps    []step   `json:"steps"`
}

type step struct {
	// Send is a shopper message.
	Send string `json:"send,omitempty"`
	// Operator is an operator API call: "takeover", "message" (with
	// Text) or "handback", made as operator As.
	Operator string `json:"operator,omitempty"`
	As       string `json:"as,omitempty"`
	Text     string `json:"text,omitempty"`
	// Feedback rates the last bot message (1 or -1).
	Feedback int `json:"feedback,omitempty"`
	// Reconnect closes the socket and resumes the session on a new one.
	Reconnect bool `json:"reconnect,omitempty"`

	// Status is the operator call's HTTP status.
	Status int `json:"status,omitempty"`
	// Frames are the frames the shopper's socket got for the step.
	Frames []goldenFrame `json:"frames"`
	// State is the session's handoff state, operator and dialog state
	// after the step.
	State goldenState `json:"state"`
}

// goldenFrame is a server frame without what changes between runs (ids,
// scores, confidences, timestamps).
type goldenFrame struct {
	Type        string   `json:"type"`
	Intent      string   `json:"intent,omitempty"`
	Items       []string `json:"items,omitempty"`
	Text        string   `json:"text,omitempty"`
	Role        string   `json:"role,omitempty"`
	Suggestions []string `json:"suggestions,omitempty"`
	State       string   `json:"state,omitempty"`
	Message     string   `json:"message,omitempty"`
	Code        string   `json:"code,omitempty"`
	// Turns are a history frame's turns as "role: text".
	Turns []string `json:"turns,omitempty"`
}

type goldenState struct {
	Handoff  string          `json:"handoff"`
	Operator string          `json:"operator,omitempty"`
	Dialog   json.RawMessage `json:"dialog,omitempty"`
}

func normalise(f ServerFrame) goldenFrame {
	g := goldenFrame{Type: f.Type, Intent: f.Intent, Text: f.Text, Role: f.Role, Suggestions: f.Suggestions, State: f.State, Message: f.Message, Code: f.Code}
	for _, it := range f.Items {
		g.Items = append(g.Items, it.ID)
	}
	for _, t := range f.Turns {
		g.Turns = append(g.Turns, string(t.Role)+": "+t.Text)
	}
	return g
}

// TestConversations replays every scripted conversation over a real
// WebSocket against the demo catalogue, the committed intent model, the
// demo orders and policies, and checks each step's frames and session
// state. Run with -update to rewrite the expectations after a deliberate
// change, and review the diff.
func TestConversations(t *testing.T) {
	files, err := filepath.Glob("testdata/conversations/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conversations: %v", err)
	}
	clf := realClassifier(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var conv conversation
			if err := json.Unmarshal(raw, &conv); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			backends := conv.Backends
			if len(backends) == 0 {
				backends = []string{"embedded"}
			}
			for i, backend := range backends {
				t.Run(backend, func(t *testing.T) {
					got := runConversation(t, conv, backend, clf)
					if *update && i == 0 {
						writeConversation(t, file, got)
						conv = got // the other backends must do the same
						return
					}
					compareConversation(t, conv, got)
				})
			}
		})
	}
}

func compareConversation(t *testing.T, want, got conversation) {
	t.Helper()
	for i := range want.Steps {
		w, g := want.Steps[i], got.Steps[i]
		wj, _ := json.MarshalIndent(w, "", "  ")
		gj, _ := json.MarshalIndent(g, "", "  ")
		if !bytes.Equal(wj, gj) {
			t.Errorf("step %d (%s): got\n%s\nwant\n%s", i+1, stepName(w), gj, wj)
		}
	}
}

func stepName(s step) string {
	switch {
	case s.Send != "":
		return fmt.Sprintf("send %q", s.Send)
	case s.Operator != "":
		return "operator " + s.Operator
	case s.Feedback != 0:
		return "feedback"
	}
	return "reconnect"
}

func writeConversation(t *testing.T, file string, c conversation) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("updated %s", file)
}

// dialogHarness is a chat server with the demo store's dialog deps, its
// WebSocket and operator API on one test HTTP server.
type dialogHarness struct {
	srv   *Server
	http  *httptest.Server
	store sessions.Store
}

func newDialogHarness(t testing.TB, store sessions.Store, opts ...func(*Deps)) *dialogHarness {
	t.Helper()
	d, err := demoCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	ord, err := orders.LoadDemo(demodata.Orders())
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policies.Load(demodata.Policies())
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{
		Store: store, Index: d.index, Brands: d.brands, Orders: ord, Policies: pol,
		Metrics: NewMetrics(prometheus.NewRegistry()),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&deps)
	}
	srv, err := NewServer(Config{OperatorAuth: headerAuth, MessageRate: 1000, MessageBurst: 1000}, deps) // scripts type faster than people
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.Handle("/api/operator/", srv.OperatorHandler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &dialogHarness{srv: srv, http: hs, store: store}
}

// headerAuth is the tests' OperatorAuth: the operator's name in
// X-Operator, the role in X-Role (default admin).
func headerAuth(r *http.Request) (Operator, bool) {
	op := Operator{Name: r.Header.Get("X-Operator"), Role: audit.Role(r.Header.Get("X-Role"))}
	if op.Role == "" {
		op.Role = audit.RoleAdmin
	}
	return op, op.Name != ""
}

// operatorCall makes an operator API request as an admin and decodes the
// JSON answer into out (when not nil).
func (h *dialogHarness) operatorCall(t testing.TB, method, path, operator string, body any, out any) int {
	t.Helper()
	return h.operatorCallAs(t, method, path, operator, audit.RoleAdmin, body, out)
}

// operatorCallAs is operatorCall with a role.
func (h *dialogHarness) operatorCallAs(t testing.TB, method, path, operator string, role audit.Role, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.http.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if operator != "" {
		req.Header.Set("X-Operator", operator)
		req.Header.Set("X-Role", string(role))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// socket reads frames on its own goroutine, so a step can wait for frames
// with a timeout without a read deadline (which would break the socket).
type socket struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan ServerFrame
}

func (h *dialogHarness) dial(t testing.TB) *socket {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(h.http.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &socket{t: t, ws: ws, frames: make(chan ServerFrame, 64)}
	go func() {
		defer close(s.frames)
		for {
			var f ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				return
			}
			s.frames <- f
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return s
}

func (s *socket) send(v any) {
	s.t.Helper()
	if err := s.ws.WriteJSON(v); err != nil {
		s.t.Fatal(err)
	}
}

// next waits for the next frame.
func (s *socket) next() ServerFrame {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatal("socket closed")
		}
		return f
	case <-time.After(15 * time.Second):
		s.t.Fatal("no frame within 15s")
	}
	return ServerFrame{}
}

// until reads frames up to and including the first of one of the types.
func (s *socket) until(types ...string) []ServerFrame {
	s.t.Helper()
	var fs []ServerFrame
	for {
		f := s.next()
		fs = append(fs, f)
		for _, typ := range types {
			if f.Type == typ {
				return fs
			}
		}
	}
}

// quiet fails when a frame is waiting that no step accounted for.
func (s *socket) quiet() {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if ok {
			s.t.Fatalf("unexpected frame %+v", f)
		}
	default:
	}
}

func openStore(t testing.TB, backend string) sessions.Store {
	t.Helper()
	if backend == "redis" {
		st, err := sessions.New(context.Background(), sessions.Config{RedisURL: "redis://" + redistest.Addr(t), KeyPrefix: redistest.Prefix(t), TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := embeddedStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	return st
}

// runConversation plays the steps of c and returns them with what
// happened.
func runConversation(t *testing.T, c conversation, backend string, clf IntentClassifier) conversation {
	h := newDialogHarness(t, openStore(t, backend), func(d *Deps) { d.Intents = clf })
	sock := h.dial(t)
	sock.send(map[string]string{"type": "hello"})
	sessionID := sock.next().SessionID
	out := conversation{Description: c.Description, Backends: c.Backends}
	lastBot := ""
	for i, in := range c.Steps {
		st := step{Send: in.Send, Operator: in.Operator, As: in.As, Text: in.Text, Feedback: in.Feedback, Reconnect: in.Reconnect, Frames: []goldenFrame{}}
		var frames []ServerFrame
		switch {
		case in.Send != "":
			sock.send(map[string]string{"type": "message", "id": fmt.Sprint(i + 1), "text": in.Send})
			frames = sock.until(TypeDone, TypeError)
		case in.Operator != "":
			before := readState(t, h, sessionID).Handoff
			path := "/api/operator/sessions/" + sessionID + "/" + map[string]string{"takeover": "takeover", "message": "messages", "handback": "handback"}[in.Operator]
			var body any
			if in.Operator == "message" {
				body = map[string]string{"text": in.Text}
			}
			st.Status = h.operatorCall(t, http.MethodPost, path, in.As, body, nil)
			after := readState(t, h, sessionID).Handoff
			if st.Status/100 == 2 && (in.Operator == "message" || before != after) {
				frames = []ServerFrame{sock.next()}
			}
		case in.Feedback != 0:
			sock.send(map[string]any{"type": "feedback", "message_id": lastBot, "rating": in.Feedback})
			frames = sock.until(TypeFeedbackOK, TypeError)
		case in.Reconnect:
			sock.ws.Close()
			sock = h.dial(t)
			sock.send(map[string]string{"type": "hello", "session_id": sessionID})
			frames = []ServerFrame{sock.next(), sock.next()}
			if s := readState(t, h, sessionID); s.Handoff != StateBot {
				frames = append(frames, sock.next())
			}
		default:
			t.Fatalf("step %d does nothing", i+1)
		}
		for _, f := range frames {
			if f.Type == TypeMessage && f.Role == "" {
				lastBot = f.ID
			}
			st.Frames = append(st.Frames, normalise(f))
		}
		sock.quiet()
		st.State = readState(t, h, sessionID)
		out.Steps = append(out.Steps, st)
	}
	return out
}

func readState(t testing.TB, h *dialogHarness, id string) goldenState {
	t.Helper()
	ss, err := h.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	g := goldenState{Handoff: handoffState(ss.Meta), Operator: ss.Meta[metaOperator]}
	if d := ss.Meta[metaDialog]; d != "" {
		g.Dialog = json.RawMessage(d)
	}
	return g
}
