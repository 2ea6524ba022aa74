package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
// takeover, agent messages, handback, export, analytics and a Server-Sent
// Events stream of session changes (docs/protocol.md). Every request goes
// through Config.OperatorAuth; without it the API answers 404.
//
// Takeover, messages and handback are serialised per session within this
// process; two replicas taking over one session at the same instant can
// both succeed (the later write wins).
func (s *Server) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/operator/sessions", s.opList)
	mux.HandleFunc("GET /api/operator/sessions/{id}", s.opGet)
	mux.HandleFunc("POST /api/operator/sessions/{id}/takeover", s.opTakeover)
	mux.HandleFunc("POST /api/operator/sessions/{id}/messages", s.opMessage)
	mux.HandleFunc("POST /api/operator/sessions/{id}/handback", s.opHandback)
	mux.HandleFunc("GET /api/operator/sessions/{id}/export", s.opExport)
	mux.HandleFunc("GET /api/operator/analytics", s.opAnalytics)
	mux.HandleFunc("GET /api/operator/stream", s.opStream)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.OperatorAuth == nil {
			http.NotFound(w, r)
			return
		}
		op, ok := s.cfg.OperatorAuth(r)
		if !ok || op == "" {
			httpError(w, http.StatusUnauthorized, "operator authorisation required")
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operatorKey{}, op)))
	})
}

func operatorOf(r *http.Request) string {
	op, _ := r.Context().Value(operatorKey{}).(string)
	return op
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

// opTurn is a transcript turn with the shopper's rating of it.
type opTurn struct {
	sessions.Turn
	Feedback *feedbackRecord `json:"feedback,omitempty"`
}

func withFeedback(turns []sessions.Turn, meta map[string]string) []opTurn {
	out := make([]opTurn, len(turns))
	for i, t := range turns {
		out[i].Turn = t
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

// opGet serves GET /api/operator/sessions/{id}.
func (s *Server) opGet(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	t, err := s.loadTranscript(ctx, r.PathValue("id"))
	if err != nil {
		s.operatorFailed(w, "get session", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
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
	s.log.Info("operator action", "operator", operatorOf(r), "action", "export", "session", id)
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

// opTakeover serves POST /api/operator/sessions/{id}/takeover.
func (s *Server) opTakeover(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, op := r.PathValue("id"), operatorOf(r)
	unlock := s.opLocks.lock(id)
	defer unlock()
	ss, err := s.store.Get(ctx, id)
	if err != nil {
		s.operatorFailed(w, "takeover", err)
		return
	}
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
	s.log.Info("operator action", "operator", op, "action", "takeover", "session", id, "from", handoffState(ss.Meta))
	s.announce(ctx, id, StateAgent, "A person from our team has joined the conversation.")
	ss.Meta = mergedMeta(ss.Meta, map[string]string{metaHandoff: StateAgent, metaOperator: op})
	writeJSON(w, http.StatusOK, toOpSession(ss))
}

// opMessage serves POST /api/operator/sessions/{id}/messages {"text"}.
func (s *Server) opMessage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, op := r.PathValue("id"), operatorOf(r)
	var body struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, operatorBodyLimit)).Decode(&body); err != nil {
		httpError(w, http.StatusBadRequest, `body must be {"text": "..."}`)
		return
	}
	body.Text = strings.TrimSpace(body.Text)
	if body.Text == "" || len(body.Text) > MaxTextBytes {
		httpError(w, http.StatusBadRequest, fmt.Sprintf(`"text" must hold 1 to %d bytes`, MaxTextBytes))
		return
	}
	unlock := s.opLocks.lock(id)
	defer unlock()
	ss, err := s.store.Get(ctx, id)
	if err != nil {
		s.operatorFailed(w, "send message", err)
		return
	}
	if handoffState(ss.Meta) != StateAgent || ss.Meta[metaOperator] != op {
		httpError(w, http.StatusConflict, "take the session over before writing in it")
		return
	}
	t := sessions.Turn{ID: newMessageID(), Role: sessions.RoleAgent, Text: body.Text, At: time.Now().UTC()}
	if err := s.store.Append(ctx, id, t); err != nil {
		s.operatorFailed(w, "send message", err)
		return
	}
	if err := s.store.SetMeta(ctx, id, lastTurnMeta(t)); err != nil {
		s.log.Warn("last turn of session not recorded", "session", id, "err", err)
	}
	if err := s.publishFrame(ctx, id, ServerFrame{Type: TypeMessage, ID: t.ID, Text: t.Text, Role: RoleAgent}); err != nil {
		// Stored: the shopper sees it on resume.
		s.log.Warn("agent message not delivered live", "session", id, "err", err)
	}
	s.publishChange(id, StateAgent)
	s.log.Info("operator action", "operator", op, "action", "message", "session", id, "message", t.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"id": t.ID, "at": t.At})
}

// opHandback serves POST /api/operator/sessions/{id}/handback: the
// assistant answers again. A waiting session may be handed back by any
// operator (the request is dismissed); a held one only by its holder.
func (s *Server) opHandback(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), operatorTimeout)
	defer cancel()
	id, op := r.PathValue("id"), operatorOf(r)
	unlock := s.opLocks.lock(id)
	defer unlock()
	ss, err := s.store.Get(ctx, id)
	if err != nil {
		s.operatorFailed(w, "handback", err)
		return
	}
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
	s.log.Info("operator action", "operator", op, "action", "handback", "session", id, "from", state)
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
			s.log.Warn("operator stream fell behind; closed", "operator", operatorOf(r))
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
