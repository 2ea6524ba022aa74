package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopassist/shopassist/audit"
	"github.com/shopassist/shopassist/sessions"
)

// Limits of the operator API.
const (
	// operatorScanLimit bounds how many sessions one list or analytics
	// request reads: the session store has no index by handoff state or by
	// text, so both walk the sessions, most recently updated first.
	operatorScanLimit = 10000
	// operatorBodyLimit bounds a request body.
	operatorBodyLimit = 64 << 10
	// operatorTimeout bounds one request (the SSE stream excepted).
	operatorTimeout = 30 * time.Second
	// streamBuffer is how many session changes an SSE client may fall
	// behind before it is disconnected (EventSource reconnects by itself).
	streamBuffer = 256
	// streamPing is how often an idle SSE stream sends a comment line, so
	// proxies keep it open.
	streamPing = 20 * time.Second
)

// sessionChange is one event of the operator stream (and of the bus's
// ChangesTopic).
type sessionChange struct {
	Type      string    `json:"type"` // "session"
	ID        string    `json:"id"`
	State     string    `json:"state"`
	UpdatedAt time.Time `json:"updated_at"`
}

// publishChange tells operator streams (on every replica) that a session
// got a turn or changed state. Failures are logged: the console catches up
// on its next list request.
func (s *Server) publishChange(id, state string) {
	b, _ := json.Marshal(sessionChange{Type: "session", ID: id, State: state, UpdatedAt: time.Now().UTC()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.bus.Publish(ctx, ChangesTopic, b); err != nil {
		s.log.Warn("session change not published", "session", id, "err", err)
	}
}

// publishFrame sends a frame to the open sockets of a session, on every
// replica.
func (s *Server) publishFrame(ctx context.Context, id string, f ServerFrame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return s.bus.Publish(ctx, SessionTopic(id), b)
}

type operatorKey struct{}

// OperatorHandler serves the operator API under /api/operator/ (mount it
// there without stripping the prefix): the session list, a transcript,
// takeover, agent messages, handback, export, the original of a redacted
// message, the audit log, analytics and a Server-Sent Events stream of
// session changes (docs/protocol.md). Every request goes through
// Config.OperatorAuth (401; without the hook the API answers 404) and
// then the operator's role (403 when the role does not allow the
// endpoint's action: audit.Role.Allows): any role lists sessions, reads
// transcripts and analytics and follows the stream; agents and admins
// take over, reply and hand back; only admins export, read originals and
// read the audit log. Every operator action and every refusal by role is
// recorded in Deps.Audit (see Audit). Every response carries
// security headers (nosniff, no referrer, no framing, a CSP that allows
// nothing) and no-store; request bodies over 64 KiB get 413.
//
// Takeover, messages and handback are serialised per session within this
// process; two replicas taking over one session at the same instant can
// both succeed (the later write wins).
func (s *Server) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/operator/sessions", s.opList)
	mux.Handle("GET /api/operator/sessions/{id}", s.allow(audit.ActionViewTranscript, s.opGet))
	mux.Handle("POST /api/operator/sessions/{id}/takeover", s.allow(audit.ActionTakeover, s.opTakeover))
	mux.Handle("POST /api/operator/sessions/{id}/messages", s.allow(audit.ActionReply, s.opMessage))
	mux.Handle("POST /api/operator/sessions/{id}/handback", s.allow(audit.ActionHandback, s.opHandback))
	mux.Handle("GET /api/operator/sessions/{id}/export", s.allow(audit.ActionExport, s.opExport))
	mux.Handle("GET /api/operator/sessions/{id}/messages/{msg}/original", s.allow(audit.ActionViewOriginal, s.opOriginal))
	mux.Handle("GET /api/operator/audit", s.allow(audit.ActionViewAudit, s.opAudit))
	mux.HandleFunc("GET /api/operator/analytics", s.opAnalytics)
	mux.HandleFunc("GET /api/operator/stream", s.opStream)
	return s.guard(mux)
}

// OperatorEndpoint serves h as an operator endpoint outside this package
// (the erasure API): with the operator API's headers and body limit,
// Config.OperatorAuth (401; 404 without the hook) and the role's
// permission for action (403, recorded as denied). h finds the operator
// with OperatorFrom and records what it did with Audit.
func (s *Server) OperatorEndpoint(action audit.Action, h http.Handler) http.Handler {
	return s.guard(s.allow(action, h.ServeHTTP))
}

// OperatorFrom returns the operator of a request served by
// OperatorHandler or OperatorEndpoint.
func OperatorFrom(ctx context.Context) (Operator, bool) {
	op, ok := ctx.Value(operatorKey{}).(Operator)
	return op, ok
}

func operatorOf(r *http.Request) Operator {
	op, _ := OperatorFrom(r.Context())
	return op
}

// operatorCSP allows an API answer nothing: it is data, never a page.
const operatorCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// guard is what every operator request goes through: security headers,
// the body limit, then Config.OperatorAuth with a valid role.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", operatorCSP)
		h.Set("Cache-Control", "no-store")
		if s.cfg.OperatorAuth == nil {
			http.NotFound(w, r)
			return
		}
		if r.ContentLength > operatorBodyLimit {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over the operator API's limit of %d KiB", operatorBodyLimit>>10))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, operatorBodyLimit)
		op, ok := s.cfg.OperatorAuth(r)
		if !ok || op.Name == "" {
			httpError(w, http.StatusUnauthorized, "operator authorisation required")
			return
		}
		if !op.Role.Valid() {
			httpError(w, http.StatusForbidden, fmt.Sprintf("operator %q has no valid role (viewer, agent or admin)", op.Name))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)))
	})
}

// allow serves h only to roles that may do action; others get 403 and the
// refusal is audited.
func (s *Server) allow(action audit.Action, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operatorOf(r)
		if !op.Role.Allows(action) {
			_ = s.Audit(r, audit.Record{Action: action, Outcome: audit.Denied, Session: r.PathValue("id"), Target: r.PathValue("msg")})
			httpError(w, http.StatusForbidden, fmt.Sprintf("your role (%s) may not %s; that needs the %s role", op.Role, action.Describe(), action.Needs()))
			return
		}
		h(w, r)
	})
}

// auditTimeout bounds writing one audit record.
const auditTimeout = 5 * time.Second

// Audit records an operator action of r in Deps.Audit: the operator and
// role of r (unless rec names them), its client address, the time, and
// outcome OK unless rec says otherwise; it also logs the action. When the
// record cannot be written it counts shopassist_audit_failures_total,
// logs the record at error level and returns the error: callers refuse a
// read (nothing is shown that is not audited) and report a change that is
// already done.
func (s *Server) Audit(r *http.Request, rec audit.Record) error {
	if rec.Operator == "" {
		op := operatorOf(r)
		rec.Operator, rec.Role = op.Name, op.Role
	}
	if rec.IP == "" {
		rec.IP = s.cfg.ClientIP(r)
	}
	if rec.Outcome == "" {
		rec.Outcome = audit.OK
	}
	rec.Time = time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	err := s.audit.Append(ctx, rec)
	attrs := []any{"operator", rec.Operator, "role", rec.Role, "action", rec.Action, "outcome", rec.Outcome, "session", rec.Session, "target", rec.Target, "ip", rec.IP}
	if err != nil {
		s.metrics.auditFailures.Inc()
		s.log.Error("audit record not written", append(attrs, "err", err)...)
		return err
	}
	s.log.Info("operator action", attrs...)
	return nil
}

// auditUnavailable answers a read whose audit record could not be written.
func auditUnavailable(w http.ResponseWriter) {
	httpError(w, http.StatusServiceUnavailable, "the audit log is unavailable, so this is not shown; try again in a moment")
}

// remoteIP is the host part of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// viewWindow is how long a transcript view is remembered: the console
// reloads an open transcript on every change, and one record per operator
// and session per window says as much as one per reload.
const viewWindow = 10 * time.Minute

// viewSeen remembers, per operator and session, when a view was last
// audited (in this process). Safe for concurrent use.
type viewSeen struct {
	mu sync.Mutex
	m  map[[2]string]time.Time
}

// recent reports whether op's view of session was audited within
// viewWindow.
func (v *viewSeen) recent(op, session string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	at, ok := v.m[[2]string{op, session}]
	return ok && now.Sub(at) < viewWindow
}

// mark remembers an audited view, forgetting old ones when many are kept.
func (v *viewSeen) mark(op, session string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[[2]string]time.Time{}
	}
	if len(v.m) >= 10000 {
		for k, at := range v.m {
			if now.Sub(at) >= viewWindow {
				delete(v.m, k)
			}
		}
	}
	v.m[[2]string{op, session}] = now
}

// opSession is a session as the operator API shows it.
type opSession struct {
	ID           string     `json:"id"`
	UserID       string     `json:"user_id,omitempty"`
	State        string     `json:"state"`
	UpdatedAt    time.Time  `json:"updated_at"`
	Turns        int        `json:"turns"`
	LastText     string     `json:"last_text"`
	LastRole     string     `json:"last_role"`
	Operator     string     `json:"operator,omitempty"`
	WaitingSince *time.Time `json:"waiting_since,omitempty"`
}

func toOpSession(ss sessions.Session) opSession {
	o := opSession{
		ID: ss.ID, UserID: ss.UserID, State: handoffState(ss.Meta), UpdatedAt: ss.UpdatedAt, Turns: ss.Turns,
		LastText: ss.Meta[metaLastText], LastRole: ss.Meta[metaLastRole],
	}
	if o.State == StateAgent {
		o.Operator = ss.Meta[metaOperator]
	}
	if o.State == StateHandoffPending {
		if t, err := time.Parse(time.RFC3339Nano, ss.Meta[metaHandoffAt]); err == nil {
			o.WaitingSince = &t
		}
	}
	return o
}

// opTurn is a transcript turn (its text redacted) with the shopper's
// rating of it, and whether an admin can read its original.
type opTurn struct {
	sessions.Turn
	Feedback     *feedbackRecord `json:"feedback,omitempty"`
	OriginalKept bool            `json:"original_kept,omitempty"`
}

func withFeedback(turns []sessions.Turn, meta map[string]string) []opTurn {
	out := make([]opTurn, len(turns))
	for i, t := range turns {
		out[i].Turn = t
		out[i].OriginalKept = meta[metaOriginal+t.ID] != ""
		if v := meta[metaFeedback+t.ID]; v != "" && t.Role != sessions.RoleShopper {
			var fb feedbackRecord
			if json.Unmarshal([]byte(v), &fb) == nil {
				out[i].Feedback = &fb
			}
		}
	}
	return out
}

// scanSessions calls fn for live sessions, most recently updated first,
// until fn returns false or operatorScanLimit sessions were read. It
// reports whether the limit cut the walk short.
func (s *Server) scanSessions(ctx context.Context, fn func(sessions.Session) (bool, error)) (truncated bool, err error) {
	cursor, n := "", 0
	for {
		page, err := s.store.List(ctx, sessions.ListOptions{Cursor: cursor, Limit: 200})
		if err != nil {
			return false, err
		}
		for _, ss := range page.Sessions {
			if n == operatorScanLimit {
				return true, nil
			}
			n++
			more, err := fn(ss)
			if err != nil || !more {
				return false, err
			}
		}
		if page.Next == "" {
			return false, nil
		}
		cursor = page.Next
	}
}

// opList serves GET /api/operator/sessions?state=&q=&limit=&cursor=.
func (s *Server) opList(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	qv := r.URL.Query()
	state := qv.Get("state")
	switch state {
	case "", StateBot, StateHandoffPending, StateAgent:
	default:
		httpError(w, http.StatusBadRequest, `"state" must be bot, handoff_pending or agent`)
		return
	}
	limit := 50
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			httpError(w, http.StatusBadRequest, `"limit" must be an integer from 1 to 200`)
			return
		}
		limit = n
	}
	offset := 0
	if v := qv.Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			httpError(w, http.StatusBadRequest, `bad "cursor"`)
			return
		}
		offset = n
	}
	q := strings.ToLower(strings.TrimSpace(qv.Get("q")))
	var list []opSession
	_, err := s.scanSessions(ctx, func(ss sessions.Session) (bool, error) {
		o := toOpSession(ss)
		if state != "" && o.State != state {
			return true, nil
		}
		if q != "" {
			turns, err := s.store.History(ctx, ss.ID, 0)
			if errors.Is(err, sessions.ErrNotFound) {
				return true, nil // expired meanwhile
			}
			if err != nil {
				return false, err
			}
			if !slices.ContainsFunc(turns, func(t sessions.Turn) bool { return strings.Contains(strings.ToLower(t.Text), q) }) {
				return true, nil
			}
		}
		list = append(list, o)
		return true, nil
	})
	if err != nil {
		s.operatorFailed(w, "list sessions", err)
		return
	}
	// Waiting sessions first, the longest waiting first; then the rest as
	// listed (most recently updated first).
	slices.SortStableFunc(list, func(a, b opSession) int {
		ap, bp := a.State == StateHandoffPending, b.State == StateHandoffPending
		switch {
		case ap && !bp:
			return -1
		case bp && !ap:
			return 1
		case ap && bp:
			return waitingSince(a).Compare(waitingSince(b))
		}
		return 0
	})
	resp := struct {
		Sessions []opSession `json:"sessions"`
		Next     string      `json:"next,omitempty"`
	}{Sessions: []opSession{}}
	if offset < len(list) {
		end := min(offset+limit, len(list))
		resp.Sessions = list[offset:end]
		if end < len(list) {
			resp.Next = strconv.Itoa(end)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func waitingSince(o opSession) time.Time {
	if o.WaitingSince != nil {
		return *o.WaitingSince
	}
	return o.UpdatedAt
}

// transcript is a session with its turns, as GET /sessions/{id} and the
// export return it.
type transcript struct {
	Session opSession `json:"session"`
	Turns   []opTurn  `json:"turns"`
}

func (s *Server) loadTranscript(ctx context.Context, id string) (transcript, error) {
	ss, err := s.store.Get(ctx, id)
	if err != nil {
		return transcript{}, err
	}
	turns, err := s.store.History(ctx, id, 0)
	if err != nil {
		return transcript{}, err
	}
	return transcript{Session: toOpSession(ss), Turns: withFeedback(turns, ss.Meta)}, nil
}

// opGet serves GET /api/operator/sessions/{id}. The view is audited once
// per operator and session per viewWindow.
func (s *Server) opGet(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id := r.PathValue("id")
	t, err := s.loadTranscript(ctx, id)
	if err != nil {
		s.operatorFailed(w, "get session", err)
		return
	}
	now, op := time.Now(), operatorOf(r).Name
	if !s.views.recent(op, id, now) {
		if err := s.Audit(r, audit.Record{Action: audit.ActionViewTranscript, Session: id}); err != nil {
			auditUnavailable(w)
			return
		}
		s.views.mark(op, id, now)
	}
	writeJSON(w, http.StatusOK, t)
}

// opOriginal serves GET /api/operator/sessions/{id}/messages/{msg}/original
// (admins): {"id","at","text"}, the message as written before
// redaction. 404 when none is kept.
func (s *Server) opOriginal(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, msg := r.PathValue("id"), r.PathValue("msg")
	ss, err := s.store.Get(ctx, id)
	if err != nil {
		s.operatorFailed(w, "original", err)
		return
	}
	o, err := s.openOriginal(id, msg, ss.Meta)
	if errors.Is(err, errNoOriginal) {
		httpError(w, http.StatusNotFound, "no original is kept for this message: nothing in it was redacted, or no encryption key was configured when it was written")
		return
	}
	if err != nil {
		s.operatorFailed(w, "original", err)
		return
	}
	if err := s.Audit(r, audit.Record{Action: audit.ActionViewOriginal, Session: id, Target: msg}); err != nil {
		auditUnavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": msg, "at": o.At, "text": o.Text})
}

// opAudit serves GET /api/operator/audit?limit= (admins): {"records":
// [...]}, the last limit (1–1000, default 100) records, newest first.
// Reading the log is itself recorded.
func (s *Server) opAudit(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxRecent {
			httpError(w, http.StatusBadRequest, fmt.Sprintf(`"limit" must be an integer from 1 to %d`, audit.MaxRecent))
			return
		}
		limit = n
	}
	if err := s.Audit(r, audit.Record{Action: audit.ActionViewAudit}); err != nil {
		auditUnavailable(w)
		return
	}
	recs, err := s.audit.Recent(ctx, limit)
	if err != nil {
		s.log.Error("audit log unreadable", "err", err)
		auditUnavailable(w)
		return
	}
	if recs == nil {
		recs = []audit.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": recs})
}

// opExport serves GET /api/operator/sessions/{id}/export: the transcript
// as a JSON attachment.
func (s *Server) opExport(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id := r.PathValue("id")
	t, err := s.loadTranscript(ctx, id)
	if err != nil {
		s.operatorFailed(w, "export session", err)
		return
	}
	if err := s.Audit(r, audit.Record{Action: audit.ActionExport, Session: id}); err != nil {
		auditUnavailable(w)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="session-%s.json"`, safeFileName(id)))
	writeJSON(w, http.StatusOK, t)
}

// safeFileName keeps letters, digits, '-' and '_' of an id.
func safeFileName(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
}

// lockSession takes the operator lock of session id (state changes of one
// session are serialised) and reads the session. On failure it answers the
// request (naming action) and holds no lock; otherwise the caller must call
// unlock.
func (s *Server) lockSession(ctx context.Context, w http.ResponseWriter, id, action string) (ss sessions.Session, unlock func(), ok bool) {
	unlock = s.opLocks.lock(id)
	ss, err := s.store.Get(ctx, id)
	if err != nil {
		unlock()
		s.operatorFailed(w, action, err)
		return ss, nil, false
	}
	return ss, unlock, true
}

// opTakeover serves POST /api/operator/sessions/{id}/takeover.
func (s *Server) opTakeover(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, op := r.PathValue("id"), operatorOf(r).Name
	ss, unlock, ok := s.lockSession(ctx, w, id, "takeover")
	if !ok {
		return
	}
	defer unlock()
	if handoffState(ss.Meta) == StateAgent {
		if holder := ss.Meta[metaOperator]; holder != op {
			httpError(w, http.StatusConflict, fmt.Sprintf("operator %q holds this session", holder))
			return
		}
		writeJSON(w, http.StatusOK, toOpSession(ss))
		return
	}
	if err := s.store.SetMeta(ctx, id, map[string]string{metaHandoff: StateAgent, metaOperator: op}); err != nil {
		s.operatorFailed(w, "takeover", err)
		return
	}
	_ = s.Audit(r, audit.Record{Action: audit.ActionTakeover, Session: id, Detail: "from " + handoffState(ss.Meta)})
	s.announce(ctx, id, StateAgent, "A person from our team has joined the conversation.")
	ss.Meta = mergedMeta(ss.Meta, map[string]string{metaHandoff: StateAgent, metaOperator: op})
	writeJSON(w, http.StatusOK, toOpSession(ss))
}

// opMessage serves POST /api/operator/sessions/{id}/messages {"text"}.
func (s *Server) opMessage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, op := r.PathValue("id"), operatorOf(r).Name
	var body struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over the operator API's limit of %d KiB", operatorBodyLimit>>10))
			return
		}
		httpError(w, http.StatusBadRequest, `body must be {"text": "..."}`)
		return
	}
	body.Text = strings.TrimSpace(body.Text)
	if body.Text == "" || len(body.Text) > MaxTextBytes {
		httpError(w, http.StatusBadRequest, fmt.Sprintf(`"text" must hold 1 to %d bytes`, MaxTextBytes))
		return
	}
	ss, unlock, ok := s.lockSession(ctx, w, id, "send message")
	if !ok {
		return
	}
	defer unlock()
	if handoffState(ss.Meta) != StateAgent || ss.Meta[metaOperator] != op {
		httpError(w, http.StatusConflict, "take the session over before writing in it")
		return
	}
	t := sessions.Turn{ID: newMessageID(), Role: sessions.RoleAgent, Text: body.Text, At: time.Now().UTC()}
	// Stored redacted like every turn; the shopper gets it as written.
	kv := map[string]string{}
	stored := s.storedTurn(id, t, kv)
	if err := s.store.Append(ctx, id, stored); err != nil {
		s.operatorFailed(w, "send message", err)
		return
	}
	maps.Copy(kv, lastTurnMeta(stored))
	if err := s.store.SetMeta(ctx, id, kv); err != nil {
		s.log.Warn("last turn of session not recorded", "session", id, "err", err)
	}
	if err := s.publishFrame(ctx, id, ServerFrame{Type: TypeMessage, ID: t.ID, Text: t.Text, Role: RoleAgent}); err != nil {
		// Stored: the shopper sees it on resume.
		s.log.Warn("agent message not delivered live", "session", id, "err", err)
	}
	s.publishChange(id, StateAgent)
	_ = s.Audit(r, audit.Record{Action: audit.ActionReply, Session: id, Target: t.ID})
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "at": t.At})
}

// opHandback serves POST /api/operator/sessions/{id}/handback: the
// assistant answers again. A waiting session may be handed back by any
// operator (the request is dismissed); a held one only by its holder.
func (s *Server) opHandback(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, op := r.PathValue("id"), operatorOf(r).Name
	ss, unlock, ok := s.lockSession(ctx, w, id, "handback")
	if !ok {
		return
	}
	defer unlock()
	state := handoffState(ss.Meta)
	if state == StateAgent && ss.Meta[metaOperator] != op {
		httpError(w, http.StatusConflict, fmt.Sprintf("operator %q holds this session", ss.Meta[metaOperator]))
		return
	}
	if state == StateBot {
		writeJSON(w, http.StatusOK, toOpSession(ss))
		return
	}
	clear := map[string]string{metaHandoff: "", metaOperator: "", metaHandoffAt: ""}
	if err := s.store.SetMeta(ctx, id, clear); err != nil {
		s.operatorFailed(w, "handback", err)
		return
	}
	_ = s.Audit(r, audit.Record{Action: audit.ActionHandback, Session: id, Detail: "from " + state})
	s.announce(ctx, id, StateBot, "You're chatting with the assistant again.")
	ss.Meta = mergedMeta(ss.Meta, clear)
	writeJSON(w, http.StatusOK, toOpSession(ss))
}

// announce tells the shopper's sockets and the operator streams about a
// handoff state change.
func (s *Server) announce(ctx context.Context, id, state, message string) {
	if err := s.publishFrame(ctx, id, ServerFrame{Type: TypeHandoff, State: state, Message: message}); err != nil {
		s.log.Warn("handoff change not delivered live", "session", id, "err", err)
	}
	s.publishChange(id, state)
}

func mergedMeta(m, kv map[string]string) map[string]string {
	out := make(map[string]string, len(m)+len(kv))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range kv {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// analytics is the body of GET /api/operator/analytics.
type analytics struct {
	Hours        int            `json:"hours"`
	TurnsPerHour []hourCount    `json:"turns_per_hour"`
	Intents      map[string]int `json:"intents"`
	HandoffRate  float64        `json:"handoff_rate"`
	Feedback     feedbackCounts `json:"feedback"`
	Sessions     int            `json:"sessions"`
	// Truncated says the scan stopped at operatorScanLimit sessions.
	Truncated bool `json:"truncated,omitempty"`
}

type hourCount struct {
	Hour  time.Time `json:"hour"`
	Turns int       `json:"turns"`
}

type feedbackCounts struct {
	Up   int `json:"up"`
	Down int `json:"down"`
}

// opAnalytics serves GET /api/operator/analytics?hours=24 over the
// sessions updated in the window: shopper turns per hour, their intents,
// the share of sessions that asked for a person, and feedback.
func (s *Server) opAnalytics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 24*31 {
			httpError(w, http.StatusBadRequest, `"hours" must be an integer from 1 to 744`)
			return
		}
		hours = n
	}
	now := time.Now().UTC()
	first := now.Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	since := now.Add(-time.Duration(hours) * time.Hour)
	a := analytics{Hours: hours, Intents: map[string]int{}, TurnsPerHour: make([]hourCount, hours)}
	for i := range a.TurnsPerHour {
		a.TurnsPerHour[i].Hour = first.Add(time.Duration(i) * time.Hour)
	}
	handedOff := 0
	truncated, err := s.scanSessions(ctx, func(ss sessions.Session) (bool, error) {
		if ss.UpdatedAt.Before(since) {
			return false, nil // the rest is older
		}
		turns, err := s.store.History(ctx, ss.ID, 0)
		if errors.Is(err, sessions.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		a.Sessions++
		if ss.Meta[metaHandoffs] != "" {
			handedOff++
		}
		for _, t := range turns {
			if t.Role != sessions.RoleShopper || t.At.Before(since) {
				continue
			}
			if i := int(t.At.Sub(first) / time.Hour); i >= 0 && i < hours {
				a.TurnsPerHour[i].Turns++
			}
			if t.Intent != "" {
				a.Intents[t.Intent]++
			}
		}
		for k, v := range ss.Meta {
			if !strings.HasPrefix(k, metaFeedback) {
				continue
			}
			var fb feedbackRecord
			if json.Unmarshal([]byte(v), &fb) != nil || fb.At.Before(since) {
				continue
			}
			if fb.Rating > 0 {
				a.Feedback.Up++
			} else {
				a.Feedback.Down++
			}
		}
		return true, nil
	})
	if err != nil {
		s.operatorFailed(w, "analytics", err)
		return
	}
	a.Truncated = truncated
	if a.Sessions > 0 {
		a.HandoffRate = float64(handedOff) / float64(a.Sessions)
	}
	writeJSON(w, http.StatusOK, a)
}

// opStream serves GET /api/operator/stream: Server-Sent Events, one
// `data: {"type":"session","id","state","updated_at"}` per session change,
// a comment line every 20 s while idle. A client that falls behind by
// streamBuffer events is disconnected; the stream ends when the server
// shuts down.
func (s *Server) opStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	events := make(chan []byte, streamBuffer)
	overflow := make(chan struct{})
	var once sync.Once
	unsubscribe := s.bus.Subscribe(ChangesTopic, func(p []byte) {
		select {
		case events <- p:
		default:
			once.Do(func() { close(overflow) })
		}
	})
	defer unsubscribe()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, ": connected\n\n"); err != nil {
		return
	}
	flusher.Flush()
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		var err error
		select {
		case p := <-events:
			_, err = fmt.Fprintf(w, "data: %s\n\n", p)
		case <-ping.C:
			_, err = io.WriteString(w, ": ping\n\n")
		case <-overflow:
			s.log.Warn("operator stream fell behind; closed", "operator", operatorOf(r).Name)
			return
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		}
		if err != nil {
			return
		}
		flusher.Flush()
	}
}

// operatorFailed answers a failed operator request: 404 for an unknown
// session, 503 for a store outage, 500 otherwise (logged).
func (s *Server) operatorFailed(w http.ResponseWriter, op string, err error) {
	switch {
	case errors.Is(err, sessions.ErrNotFound), errors.Is(err, sessions.ErrInvalid):
		httpError(w, http.StatusNotFound, "no such session")
	case errors.Is(err, sessions.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		httpError(w, http.StatusServiceUnavailable, "the session store is unavailable; try again")
	default:
		s.log.Error("operator request failed", "op", op, "err", err)
		httpError(w, http.StatusInternalServerError, "internal error")
	}
}
