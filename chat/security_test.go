package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopassist/shopassist/audit"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/llm/llmtest"
	"github.com/shopassist/shopassist/privacy"
)

// Personal data of the redaction tests, and the message that carries it
// with an order number.
const (
	testEmail = "jane.doe@example.com"
	testPhone = "+44 20 7946 0958"
	testCard  = "4111 1111 1111 1111"
	piiText   = "my email is " + testEmail + ", call me on " + testPhone + ", card " + testCard + " — where is my order 10231?"
	newStreet = "Oranienstraße 7"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func testKeys(t testing.TB) *privacy.Keyring {
	t.Helper()
	entry, err := privacy.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := privacy.ParseKeys(entry)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// leaks returns the pieces of personal data found in s.
func leaks(s string) []string {
	var out []string
	for _, p := range []string{testEmail, "jane.doe", testPhone, "7946", testCard, "4111", newStreet, "Oranienstr"} {
		if strings.Contains(s, p) {
			out = append(out, p)
		}
	}
	return out
}

// TestRedactionInTheTurn: a message with an e-mail address, a phone
// number and a card number still drives the order flow by its order
// number, and the e-mail, phone and card reach neither the stored
// transcript and metadata, nor the operator API, nor the logs (at debug
// level), nor the LLM's prompt (which sees the redacted history). A new
// delivery address is read as typed, shown back to the shopper live and
// stored redacted. Feedback comments are redacted. Redactions are
// counted by kind; the originals are sealed, and only an admin reads
// them back.
func TestRedactionInTheTurn(t *testing.T) {
	logs := &syncBuffer{}
	fake := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"Here are some speakers."}})
	client, err := llm.New(llm.Config{BaseURL: fake.URL, Model: "test-model"})
	if err != nil {
		t.Fatal(err)
	}
	store := embeddedStore(t, t.TempDir())
	auditLog := audit.NewMemory(0)
	h := newDialogHarness(t, store, func(d *Deps) {
		d.LLM = client
		d.Keys = testKeys(t)
		d.Audit = auditLog
		d.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "m1", "text": piiText})
	var id, answer string
	for _, f := range sock.until(TypeDone) {
		switch f.Type {
		case TypeSession:
			id = f.SessionID
		case TypeMessage:
			answer = f.Text
		}
	}
	if !strings.Contains(answer, "10231") || !strings.Contains(strings.ToLower(answer), "order") {
		t.Fatalf("the order number did not drive the order flow: %q", answer)
	}
	sock.send(map[string]string{"type": "message", "id": "m2", "text": "bluetooth speaker"})
	var botID string
	for _, f := range sock.until(TypeDone) {
		if f.Type == TypeMessage {
			botID = f.ID
		}
	}
	if fake.LastRequest().Body == nil {
		t.Fatal("the LLM was not asked about the speakers")
	}
	sock.send(map[string]any{"type": "feedback", "message_id": botID, "rating": -1, "comment": "mail me at " + testEmail})
	sock.until(TypeFeedbackOK)
	sock.send(map[string]string{"type": "message", "id": "m3", "text": "I want to change the delivery address of my order 10231"})
	sock.until(TypeDone)
	sock.send(map[string]string{"type": "message", "id": "m4", "text": newStreet + ", 10997 Berlin"})
	var confirm string
	for _, f := range sock.until(TypeDone) {
		if f.Type == TypeMessage {
			confirm = f.Text
		}
	}
	if !strings.Contains(confirm, newStreet) {
		t.Fatalf("the new address was not read as typed: the shopper was asked %q", confirm)
	}
	// Until confirmed, the new address waits in the dialog state (sealed at
	// rest with the store's encryption); it is gone once the order has it.
	sock.send(map[string]string{"type": "message", "id": "m5", "text": "yes"})
	var done string
	for _, f := range sock.until(TypeDone) {
		if f.Type == TypeMessage {
			done = f.Text
		}
	}
	if !strings.Contains(done, newStreet) {
		t.Fatalf("the change was not confirmed: %q", done)
	}

	// The store.
	ctx := context.Background()
	turns, err := store.History(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"turns": turns, "meta": ss.Meta, "user": ss.UserID})
	if l := leaks(string(raw)); l != nil {
		t.Errorf("the store holds %q:\n%s", l, raw)
	}
	if turns[0].Text != "my email is [email], call me on [phone], card [card] — where is my order 10231?" {
		t.Errorf("stored shopper turn %q", turns[0].Text)
	}
	for _, i := range []int{len(turns) - 3, len(turns) - 1} { // the question and the confirmation
		if !strings.Contains(turns[i].Text, "[address]") {
			t.Errorf("stored answer %q: the address should be redacted", turns[i].Text)
		}
	}

	// A resumed session's history shows the redacted text.
	again := h.dial(t)
	again.send(map[string]string{"type": "hello", "session_id": id})
	for _, f := range again.until(TypeHistory) {
		if f.Type != TypeHistory {
			continue
		}
		b, _ := json.Marshal(f.Turns)
		if l := leaks(string(b)); l != nil || !strings.Contains(string(b), "[email]") {
			t.Errorf("history on resume holds %q: %s", l, b)
		}
	}

	// The operator API, for each role.
	for _, role := range []audit.Role{audit.RoleViewer, audit.RoleAgent, audit.RoleAdmin} {
		var tr transcript
		if code := h.operatorCallAs(t, http.MethodGet, "/api/operator/sessions/"+id, "op-"+string(role), role, nil, &tr); code != 200 {
			t.Fatalf("%s reads the transcript: %d", role, code)
		}
		b, _ := json.Marshal(tr)
		if l := leaks(string(b)); l != nil {
			t.Errorf("%s sees %q in the transcript", role, l)
		}
		if !tr.Turns[0].OriginalKept || tr.Turns[2].OriginalKept {
			t.Errorf("original_kept: %v on m1, %v on m2 (nothing to redact)", tr.Turns[0].OriginalKept, tr.Turns[2].OriginalKept)
		}
		if fb := tr.Turns[3].Feedback; fb == nil || fb.Comment != "mail me at [email]" {
			t.Errorf("feedback comment %+v", fb)
		}
	}
	var list listResp
	h.operatorCall(t, http.MethodGet, "/api/operator/sessions?q=oranien", "ada", nil, &list)
	if len(list.Sessions) != 0 {
		t.Error("searching transcripts finds redacted text")
	}

	// The logs and the LLM.
	if l := leaks(logs.String()); l != nil {
		t.Errorf("the logs hold %q", l)
	}
	for _, req := range fake.Requests() {
		if l := leaks(string(req.Body)); l != nil {
			t.Errorf("the LLM prompt holds %q: %s", l, req.Body)
		}
	}
	if !strings.Contains(string(fake.LastRequest().Body), "[email]") {
		t.Error("the LLM prompt's history lacks the redacted first message")
	}

	// Counted by kind: the e-mail twice (message and comment); the address
	// once (the message as typed; the bot's echo is not counted).
	for kind, want := range map[string]float64{"email": 2, "phone": 1, "card": 1, "address": 1, "iban": 0} {
		if got := testutil.ToFloat64(h.srv.metrics.redactions.WithLabelValues(kind)); got != want {
			t.Errorf("shopassist_redactions_total{kind=%q} = %v, want %v", kind, got, want)
		}
	}

	// The originals: admins only.
	orig := "/api/operator/sessions/" + id + "/messages/m1/original"
	for _, role := range []audit.Role{audit.RoleViewer, audit.RoleAgent} {
		var e map[string]string
		if code := h.operatorCallAs(t, http.MethodGet, orig, "op-"+string(role), role, nil, &e); code != http.StatusForbidden || !strings.Contains(e["error"], "admin") {
			t.Errorf("%s reads the original: %d %v", role, code, e)
		}
	}
	var o struct{ ID, Text string }
	if code := h.operatorCallAs(t, http.MethodGet, orig, "op-admin", audit.RoleAdmin, nil, &o); code != 200 || o.Text != piiText || o.ID != "m1" {
		t.Fatalf("admin reads the original: %d %+v", code, o)
	}
	if code := h.operatorCall(t, http.MethodGet, "/api/operator/sessions/"+id+"/messages/m2/original", "ada", nil, nil); code != 404 {
		t.Errorf("original of a message with nothing redacted: %d, want 404", code)
	}
	recs, _ := auditLog.Recent(ctx, 100)
	var views, denied int
	for _, r := range recs {
		if r.Action == audit.ActionViewOriginal && r.Session == id && r.Target == "m1" {
			switch r.Outcome {
			case audit.OK:
				views++
			case audit.Denied:
				denied++
			}
		}
	}
	if views != 1 || denied != 2 {
		t.Errorf("view_original records: %d ok, %d denied; want 1 and 2", views, denied)
	}
}

// TestNoKeysNoOriginal: without keys the original is not kept anywhere.
func TestNoKeysNoOriginal(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "m1", "text": piiText})
	id := sock.until(TypeDone)[0].SessionID
	ss, _ := store.Get(context.Background(), id)
	for k := range ss.Meta {
		if strings.HasPrefix(k, metaOriginal) {
			t.Errorf("metadata %q kept without keys", k)
		}
	}
	var tr transcript
	h.operatorCall(t, http.MethodGet, "/api/operator/sessions/"+id, "ada", nil, &tr)
	if tr.Turns[0].OriginalKept {
		t.Error("original_kept without keys")
	}
	if code := h.operatorCall(t, http.MethodGet, "/api/operator/sessions/"+id+"/messages/m1/original", "ada", nil, nil); code != 404 {
		t.Errorf("original without keys: %d, want 404", code)
	}
}

// TestAgentMessageStoredRedacted: an operator's reply reaches the shopper
// as written and is stored redacted, its original sealed.
func TestAgentMessageStoredRedacted(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store, func(d *Deps) { d.Keys = testKeys(t) })
	sock := h.dial(t)
	sock.send(map[string]string{"type": "hello"})
	id := sock.next().SessionID
	base := "/api/operator/sessions/" + id
	h.operatorCallAs(t, http.MethodPost, base+"/takeover", "alex", audit.RoleAgent, nil, nil)
	sock.next() // handoff
	text := "I'll email you at " + testEmail
	var sent struct{ ID string }
	if code := h.operatorCallAs(t, http.MethodPost, base+"/messages", "alex", audit.RoleAgent, map[string]string{"text": text}, &sent); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	if f := sock.next(); f.Text != text {
		t.Errorf("the shopper got %q, want it as written", f.Text)
	}
	turns, _ := store.History(context.Background(), id, 0)
	if got := turns[len(turns)-1].Text; got != "I'll email you at [email]" {
		t.Errorf("stored %q", got)
	}
	var o struct{ Text string }
	if code := h.operatorCall(t, http.MethodGet, base+"/messages/"+sent.ID+"/original", "ada", nil, &o); code != 200 || o.Text != text {
		t.Errorf("original of the reply: %d %q", code, o.Text)
	}
}

// TestOperatorRoles: each endpoint answers each role as audit.Role.Allows
// says; a refusal is a 403 that names the role needed, and is audited.
func TestOperatorRoles(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	log := audit.NewMemory(0)
	h := newDialogHarness(t, store, func(d *Deps) { d.Audit = log; d.Keys = testKeys(t) })
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "m1", "text": "mail " + testEmail})
	id := sock.until(TypeDone)[0].SessionID
	base := "/api/operator/sessions/" + id
	type call struct {
		method, path string
		body         any
		action       audit.Action // "" for endpoints any role may use
	}
	calls := []call{
		{"GET", "/api/operator/sessions", nil, ""},
		{"GET", "/api/operator/analytics", nil, ""},
		{"GET", base, nil, audit.ActionViewTranscript},
		{"POST", base + "/takeover", nil, audit.ActionTakeover},
		{"POST", base + "/messages", map[string]string{"text": "hello"}, audit.ActionReply},
		{"POST", base + "/handback", nil, audit.ActionHandback},
		{"GET", base + "/export", nil, audit.ActionExport},
		{"GET", base + "/messages/m1/original", nil, audit.ActionViewOriginal},
		{"GET", "/api/operator/audit", nil, audit.ActionViewAudit},
	}
	for _, role := range []audit.Role{audit.RoleViewer, audit.RoleAgent, audit.RoleAdmin} {
		for _, c := range calls {
			var e map[string]any
			code := h.operatorCallAs(t, c.method, c.path, "op", role, c.body, &e)
			allowed := c.action == "" || role.Allows(c.action)
			if allowed && code >= 400 || !allowed && code != http.StatusForbidden {
				t.Errorf("%s %s %s: %d, allowed=%v", role, c.method, c.path, code, allowed)
			}
			if !allowed && !strings.Contains(e["error"].(string), string(c.action.Needs())) {
				t.Errorf("%s %s: refusal %q does not name the role needed", role, c.path, e["error"])
			}
		}
		h.operatorCallAs(t, "POST", base+"/handback", "op", audit.RoleAdmin, nil, nil)
	}
	var e map[string]string
	if code := h.operatorCallAs(t, "GET", "/api/operator/sessions", "op", "root", nil, &e); code != http.StatusForbidden {
		t.Errorf("an unknown role: %d, want 403", code)
	}
	// The viewer's refused takeover is on record.
	recs, _ := log.Recent(context.Background(), audit.MaxRecent)
	found := 0
	for _, r := range recs {
		if r.Action == audit.ActionTakeover && r.Role == audit.RoleViewer && r.Outcome == audit.Denied && r.Session == id && r.Operator == "op" {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d denied takeover records for the viewer, want 1", found)
	}
}

// TestEveryOperatorActionAuditedOnce: each action makes exactly one record
// with the operator, role, action, session and time — a transcript read
// again within the window makes none — and an endpoint outside the
// package (erasure) records through OperatorEndpoint and Audit.
func TestEveryOperatorActionAuditedOnce(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	log := audit.NewMemory(0)
	h := newDialogHarness(t, store, func(d *Deps) { d.Audit = log; d.Keys = testKeys(t) })
	erase := h.srv.OperatorEndpoint(audit.ActionErase, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.srv.Audit(r, audit.Record{Action: audit.ActionErase, Target: "pseudonym-1"}); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "m1", "text": "mail " + testEmail})
	id := sock.until(TypeDone)[0].SessionID
	base := "/api/operator/sessions/" + id
	steps := []struct {
		method, path string
		role         audit.Role
		body         any
		action       audit.Action
		session      bool
	}{
		{"GET", base, audit.RoleAdmin, nil, audit.ActionViewTranscript, true},
		{"GET", base, audit.RoleAdmin, nil, "", true}, // again: no record
		{"POST", base + "/takeover", audit.RoleAgent, nil, audit.ActionTakeover, true},
		{"POST", base + "/messages", audit.RoleAgent, map[string]string{"text": "hi"}, audit.ActionReply, true},
		{"POST", base + "/handback", audit.RoleAgent, nil, audit.ActionHandback, true},
		{"GET", base + "/export", audit.RoleAdmin, nil, audit.ActionExport, true},
		{"GET", base + "/messages/m1/original", audit.RoleAdmin, nil, audit.ActionViewOriginal, true},
		{"GET", "/api/operator/audit?limit=5", audit.RoleAdmin, nil, audit.ActionViewAudit, false},
		{"GET", "/api/operator/sessions", audit.RoleViewer, nil, "", false}, // lists are not recorded
	}
	name := func(r audit.Role) string { return "op-" + string(r) }
	for _, st := range steps {
		before, _ := log.Recent(context.Background(), audit.MaxRecent)
		if code := h.operatorCallAs(t, st.method, st.path, name(st.role), st.role, st.body, nil); code >= 400 {
			t.Fatalf("%s %s: %d", st.method, st.path, code)
		}
		after, _ := log.Recent(context.Background(), audit.MaxRecent)
		added := after[:len(after)-len(before)]
		if st.action == "" {
			if len(added) != 0 {
				t.Errorf("%s %s: recorded %+v, want nothing", st.method, st.path, added)
			}
			continue
		}
		if len(added) != 1 {
			t.Fatalf("%s %s: %d records, want 1: %+v", st.method, st.path, len(added), added)
		}
		r := added[0]
		if r.Action != st.action || r.Operator != name(st.role) || r.Role != st.role || r.Outcome != audit.OK || r.Time.IsZero() || r.IP == "" || (r.Session == id) != st.session {
			t.Errorf("%s %s: record %+v", st.method, st.path, r)
		}
	}
	// The erasure endpoint: an agent is refused (and that is recorded), an
	// admin erases.
	for _, tc := range []struct {
		role    audit.Role
		code    int
		outcome audit.Outcome
	}{{audit.RoleAgent, http.StatusForbidden, audit.Denied}, {audit.RoleAdmin, http.StatusNoContent, audit.OK}} {
		req := httptest.NewRequest(http.MethodDelete, "/api/users/u1", nil)
		req.Header.Set("X-Operator", "op-"+string(tc.role))
		req.Header.Set("X-Role", string(tc.role))
		rec := httptest.NewRecorder()
		erase.ServeHTTP(rec, req)
		last, _ := log.Recent(context.Background(), 1)
		if rec.Code != tc.code || last[0].Action != audit.ActionErase || last[0].Outcome != tc.outcome || last[0].Role != tc.role {
			t.Errorf("erase as %s: %d, record %+v", tc.role, rec.Code, last[0])
		}
	}
	var got struct{ Records []audit.Record }
	h.operatorCall(t, "GET", "/api/operator/audit?limit=3", "ada", nil, &got)
	if len(got.Records) != 3 || got.Records[0].Action != audit.ActionViewAudit || got.Records[0].Operator != "ada" || got.Records[1].Action != audit.ActionErase {
		t.Errorf("GET /api/operator/audit?limit=3: %+v", got.Records)
	}
	for _, bad := range []string{"0", "1001", "x"} {
		if code := h.operatorCall(t, "GET", "/api/operator/audit?limit="+bad, "ada", nil, nil); code != 400 {
			t.Errorf("limit=%s: %d, want 400", bad, code)
		}
	}
}

// downLog is an audit log that cannot be written.
type downLog struct{ audit.Memory }

func (*downLog) Append(context.Context, audit.Record) error { return audit.ErrUnavailable }

// TestAuditDownRefusesReads: without a working audit log, transcripts,
// exports and originals are not shown (503); a takeover still happens,
// and the lost record is counted and logged.
func TestAuditDownRefusesReads(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	logs := &syncBuffer{}
	h := newDialogHarness(t, store, func(d *Deps) {
		d.Audit = &downLog{}
		d.Keys = testKeys(t)
		d.Log = slog.New(slog.NewTextHandler(logs, nil))
	})
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "m1", "text": "mail " + testEmail})
	id := sock.until(TypeDone)[0].SessionID
	base := "/api/operator/sessions/" + id
	for _, p := range []string{base, base + "/export", base + "/messages/m1/original", "/api/operator/audit"} {
		if code := h.operatorCall(t, "GET", p, "ada", nil, nil); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s with the audit log down: %d, want 503", p, code)
		}
	}
	if code := h.operatorCall(t, "POST", base+"/takeover", "ada", nil, nil); code != 200 {
		t.Errorf("takeover with the audit log down: %d", code)
	}
	if got := testutil.ToFloat64(h.srv.metrics.auditFailures); got != 5 {
		t.Errorf("shopassist_audit_failures_total = %v, want 5", got)
	}
	if !strings.Contains(logs.String(), "audit record not written") || !strings.Contains(logs.String(), "action=takeover") {
		t.Errorf("the lost takeover record is not in the logs:\n%s", logs)
	}
}

// TestOperatorHeadersAndBodyLimit: every answer of the operator API —
// success, 401, 403, 404, 413 — carries the security headers; bodies over
// 64 KiB get 413 whether their length is declared or not.
func TestOperatorHeadersAndBodyLimit(t *testing.T) {
	store := embeddedStore(t, t.TempDir())
	h := newDialogHarness(t, store)
	sock := h.dial(t)
	sock.send(map[string]string{"type": "hello"})
	id := sock.next().SessionID
	base := h.http.URL + "/api/operator/sessions/" + id
	do := func(method, url, op, role string, body io.Reader, chunked bool) *http.Response {
		req, _ := http.NewRequest(method, url, body)
		if op != "" {
			req.Header.Set("X-Operator", op)
			req.Header.Set("X-Role", role)
		}
		if chunked {
			req.ContentLength = -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	big := strings.Repeat("x", operatorBodyLimit+1)
	cases := []struct {
		what string
		resp *http.Response
		code int
	}{
		{"list", do("GET", h.http.URL+"/api/operator/sessions", "ada", "admin", nil, false), 200},
		{"no operator", do("GET", base, "", "", nil, false), 401},
		{"viewer takes over", do("POST", base+"/takeover", "vera", "viewer", nil, false), 403},
		{"unknown session", do("GET", base+"x", "ada", "admin", nil, false), 404},
		{"declared big body", do("POST", base+"/takeover", "ada", "admin", strings.NewReader(big), false), 413},
		{"chunked big message", do("POST", base+"/messages", "ada", "admin", strings.NewReader(`{"text":"`+big+`"}`), true), 413},
	}
	for _, tc := range cases {
		hd := tc.resp.Header
		if tc.resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.what, tc.resp.StatusCode, tc.code)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'none'") || hd.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", tc.what, hd)
		}
	}
}
