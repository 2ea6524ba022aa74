package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
)

// sessionState is what a connection's worker knows of its session.
type sessionState struct {
	id     string
	userID string
}

// handle runs one client frame on the connection's worker goroutine.
func (s *Server) handle(c *conn, sess *sessionState, f ClientFrame) {
	switch f.Type {
	case TypeHello:
		s.hello(c, sess, f)
	case TypeMessage:
		s.turn(c, sess, f)
	case TypeEvent:
		s.event(c, sess, f)
	case TypeFeedback:
		s.feedback(c, sess, f)
	}
}

// event publishes a behaviour event from the widget (a product card shown
// or clicked …) for the connection's shopper. Accepted events get no
// answer; a rejected one gets a bad_event error naming the reason.
func (s *Server) event(c *conn, sess *sessionState, f ClientFrame) {
	if s.events == nil {
		c.sendError("", CodeBadEvent, "behaviour events are not enabled on this server")
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.cfg.TurnTimeout)
	defer cancel()
	var ev events.Event
	if err := json.Unmarshal(f.Event, &ev); err != nil {
		c.sendError("", CodeBadEvent, "malformed event: "+err.Error())
		return
	}
	if sess.id == "" {
		if err := s.newSession(ctx, c, sess); err != nil {
			code, msg := errorFrame(err)
			c.sendError("", code, msg)
			return
		}
	}
	// The connection says who the shopper is; the frame cannot.
	ev.SessionID, ev.UserID = sess.id, sess.userID
	if ev.Source == "" {
		ev.Source = "widget"
	}
	if rej := events.Check(&ev, time.Now(), events.Limits{}); rej != nil {
		c.sendError("", CodeBadEvent, string(rej.Reason)+": "+rej.Detail)
		return
	}
	if ev.ID == "" {
		ev.ID = events.NewID()
	}
	if err := s.events.Publish(ctx, []events.Event{ev}); err != nil {
		code, msg := errorFrame(err)
		c.sendError("", code, msg)
	}
}

// shopperKey is the id profiles are kept under: the user id when the
// shopper signed in, else the session id (as events.Event does).
func (sess *sessionState) shopperKey() string {
	if sess.userID != "" {
		return sess.userID
	}
	return sess.id
}

// hello starts or resumes a session. An unknown or expired session id starts
// a new session, reported with resumed=false.
func (s *Server) hello(c *conn, sess *sessionState, f ClientFrame) {
	if sess.id != "" {
		c.sendError("", CodeBadRequest, "hello must be the first frame of a connection")
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.cfg.TurnTimeout)
	defer cancel()
	sess.userID = f.UserID
	if f.SessionID != "" {
		if meta, err := s.store.Get(ctx, f.SessionID); err == nil {
			turns, err := s.store.History(ctx, f.SessionID, s.cfg.HistoryOnResume)
			if err != nil {
				code, msg := errorFrame(err)
				c.sendError("", code, msg)
				return
			}
			sess.id = f.SessionID
			c.follow(sess.id)
			resumed := true
			c.enqueue(ServerFrame{Type: TypeSession, SessionID: sess.id, Resumed: &resumed})
			c.enqueue(ServerFrame{Type: TypeHistory, SessionID: sess.id, Turns: turns})
			if st := handoffState(meta.Meta); st != StateBot {
				c.enqueue(ServerFrame{Type: TypeHandoff, State: st})
			}
			return
		} else if !errors.Is(err, sessions.ErrNotFound) {
			code, msg := errorFrame(err)
			c.sendError("", code, msg)
			return
		}
	}
	if err := s.newSession(ctx, c, sess); err != nil {
		code, msg := errorFrame(err)
		c.sendError("", code, msg)
	}
}

func (s *Server) newSession(ctx context.Context, c *conn, sess *sessionState) error {
	id := sessions.NewID()
	if err := s.store.Create(ctx, sessions.Session{ID: id, UserID: sess.userID}); err != nil {
		return err
	}
	sess.id = id
	c.follow(id)
	resumed := false
	c.enqueue(ServerFrame{Type: TypeSession, SessionID: id, Resumed: &resumed})
	return nil
}

// turn answers one shopper message: typing, the detected intent, then
// products (when the answer shows any), token frames (when an LLM words the
// answer) and the message, a handoff frame when the turn changed the
// session's handoff state, then done; or an error frame with reply_to,
// which ends the turn instead of done. While an operator holds the session
// the message is stored and answered with done alone. The shopper's message
// is stored before any answer is sent, the answer before its message frame,
// and the dialog state before done, so a done frame means all of them are
// in the store.
//
// The message is redacted (privacy.Redact) before anything else looks at
// it: the intent model, the dialog manager, search, the LLM, the logs and
// the stored transcript see "[email]", "[phone]" … in place of personal
// data; only the address step of a change of delivery address reads the
// message as typed. See originals.go for what is kept of the original.
func (s *Server) turn(c *conn, sess *sessionState, f ClientFrame) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(c.ctx, s.cfg.TurnTimeout)
	defer cancel()
	// record counts the turn; it runs before the frame that ends the turn
	// is queued, so a client that has seen done or error sees it counted.
	record := func(outcome string) {
		s.metrics.turns.WithLabelValues(outcome).Inc()
		s.metrics.turnSeconds.Observe(time.Since(start).Seconds())
	}
	fail := func(err error) {
		if c.ctx.Err() != nil {
			record("disconnected")
			return // nobody to tell
		}
		code, msg := errorFrame(err)
		record(code)
		if code == CodeInternal {
			c.log.Error("turn failed", "err", err, "session", sess.id)
		}
		c.sendError(f.ID, code, msg)
	}

	if err := s.acquire(ctx); err != nil {
		fail(err)
		return
	}
	defer s.release()

	meta, err := s.sessionMeta(ctx, c, sess)
	if err != nil {
		fail(err)
		return
	}
	handoff := handoffState(meta)
	text, _ := s.redactShopper(f.Text)
	shopper := sessions.Turn{ID: f.ID, Role: sessions.RoleShopper, Text: text, At: start.UTC()}
	if handoff == StateAgent {
		// A person holds the conversation: store the message for them.
		if err := s.appendTurn(ctx, c, sess, shopper); err != nil {
			fail(err)
			return
		}
		kv := lastTurnMeta(shopper)
		s.keepOriginal(sess.id, shopper, f.Text, kv)
		if err := s.store.SetMeta(ctx, sess.id, kv); err != nil {
			fail(err)
			return
		}
		s.publishChange(sess.id, handoff)
		record("agent")
		c.enqueue(ServerFrame{Type: TypeDone, ReplyTo: f.ID})
		return
	}
	c.enqueue(ServerFrame{Type: TypeTyping, ReplyTo: f.ID})
	label := IntentProductSearch
	var conf *float64 // nil without an intent model
	if s.intents != nil {
		res, err := s.intents.Classify(ctx, text)
		if err != nil {
			fail(err)
			return
		}
		label, conf = res.Label, &res.Confidence
	}
	s.metrics.intents.WithLabelValues(label).Inc()
	shopper.Intent = label
	if err := s.appendTurn(ctx, c, sess, shopper); err != nil {
		fail(err)
		return
	}
	kv := map[string]string{} // the metadata written at the end of the turn
	s.keepOriginal(sess.id, shopper, f.Text, kv)
	if conf != nil {
		c.enqueue(ServerFrame{Type: TypeIntent, ReplyTo: f.ID, Intent: label, Confidence: conf})
	}

	st := loadDialog(meta)
	before := st.encode()
	rep, err := s.decide(ctx, sess, &st, turnInput{text: text, raw: f.Text, label: label, slots: s.slotx.Load().Extract(text), handoff: handoff})
	if err != nil {
		fail(err)
		return
	}
	rep.intent = label
	act := rep.act
	if act == "" {
		act = "none"
	}
	s.metrics.acts.WithLabelValues(act).Inc()
	if len(rep.items) > 0 {
		c.enqueue(ServerFrame{Type: TypeProducts, ReplyTo: f.ID, Items: rep.items})
	}
	bot := sessions.Turn{
		ID:       newMessageID(),
		ReplyTo:  f.ID,
		Role:     sessions.RoleBot,
		Text:     s.render(ctx, c, sess, f.ID, text, rep),
		Products: productRefs(rep.items),
	}
	bot.At = time.Now().UTC()
	// Stored (redacted: it may repeat an address) before it is shown as
	// written: a message frame means the answer is in the transcript.
	stored := s.storedTurn(sess.id, bot, kv)
	if err := s.store.Append(ctx, sess.id, stored); err != nil {
		fail(err)
		return
	}
	c.enqueue(ServerFrame{Type: TypeMessage, ReplyTo: f.ID, ID: bot.ID, Text: bot.Text, Suggestions: rep.suggestions})
	maps.Copy(kv, lastTurnMeta(stored))
	if enc := st.encode(); enc != before {
		kv[metaDialog] = enc
	}
	if rep.handoff != "" {
		n, _ := strconv.Atoi(meta[metaHandoffs])
		kv[metaHandoff] = rep.handoff
		kv[metaHandoffAt] = bot.At.Format(time.RFC3339Nano)
		kv[metaHandoffs] = strconv.Itoa(n + 1)
		handoff = rep.handoff
	}
	if err := s.store.SetMeta(ctx, sess.id, kv); err != nil {
		fail(err)
		return
	}
	if rep.handoff != "" {
		s.log.Info("session waits for a person", "session", sess.id, "intent", label)
		c.enqueue(ServerFrame{Type: TypeHandoff, ReplyTo: f.ID, State: rep.handoff})
	}
	s.publishChange(sess.id, handoff)
	record("ok")
	c.enqueue(ServerFrame{Type: TypeDone, ReplyTo: f.ID})
}

// sessionMeta returns the metadata of the connection's session, starting a
// session first when the connection has none or its session expired.
func (s *Server) sessionMeta(ctx context.Context, c *conn, sess *sessionState) (map[string]string, error) {
	if sess.id != "" {
		got, err := s.store.Get(ctx, sess.id)
		if err == nil {
			return got.Meta, nil
		}
		if !errors.Is(err, sessions.ErrNotFound) {
			return nil, err
		}
	}
	return nil, s.newSession(ctx, c, sess)
}

// appendTurn stores a shopper turn, starting a new session when the old one
// expired a moment ago.
func (s *Server) appendTurn(ctx context.Context, c *conn, sess *sessionState, t sessions.Turn) error {
	err := s.store.Append(ctx, sess.id, t)
	if errors.Is(err, sessions.ErrNotFound) {
		if err = s.newSession(ctx, c, sess); err == nil {
			err = s.store.Append(ctx, sess.id, t)
		}
	}
	return err
}

// lastTurnMeta is the metadata that shows a session's last turn in the
// operator list.
func lastTurnMeta(t sessions.Turn) map[string]string {
	text := t.Text
	if len(text) > 200 {
		text = text[:200]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
		text += "…"
	}
	return map[string]string{metaLastText: text, metaLastRole: string(t.Role)}
}

// handoffState reads the session's handoff state; none means bot.
func handoffState(meta map[string]string) string {
	switch st := meta[metaHandoff]; st {
	case StateHandoffPending, StateAgent:
		return st
	}
	return StateBot
}

// feedbackRecord is a shopper's rating of one answer, kept in the session's
// metadata under "fb:" + the message id.
type feedbackRecord struct {
	Rating  int       `json:"rating"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// feedbackScan is how many of the last turns a feedback frame's message id
// is looked for in.
const feedbackScan = 500

// feedback stores a rating of one of the session's bot or agent messages
// and answers feedback_ok; an unknown message id is a bad_request.
func (s *Server) feedback(c *conn, sess *sessionState, f ClientFrame) {
	if sess.id == "" {
		c.sendError("", CodeBadRequest, "feedback needs a conversation: send hello or a message first")
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.cfg.TurnTimeout)
	defer cancel()
	turns, err := s.store.History(ctx, sess.id, feedbackScan)
	if err != nil {
		code, msg := errorFrame(err)
		c.sendError("", code, msg)
		return
	}
	found := false
	for _, t := range turns {
		if t.ID == f.MessageID && t.Role != sessions.RoleShopper {
			found = true
			break
		}
	}
	if !found {
		c.sendError("", CodeBadRequest, fmt.Sprintf("no answer with message_id %q in this conversation", f.MessageID))
		return
	}
	comment, _ := s.redactShopper(f.Comment)
	rec, _ := json.Marshal(feedbackRecord{Rating: f.Rating, Comment: comment, At: time.Now().UTC()})
	if err := s.store.SetMeta(ctx, sess.id, map[string]string{metaFeedback + f.MessageID: string(rec)}); err != nil {
		code, msg := errorFrame(err)
		c.sendError("", code, msg)
		return
	}
	s.metrics.feedback.WithLabelValues(map[int]string{1: "up", -1: "down"}[f.Rating]).Inc()
	c.enqueue(ServerFrame{Type: TypeFeedbackOK, MessageID: f.MessageID})
}

func recItems(recs []events.Rec) []Item {
	hits := make([]retrieval.Hit, len(recs))
	for i, r := range recs {
		hits[i] = retrieval.Hit{Product: r.Product, Score: r.Score}
	}
	return Items(hits)
}

// recommendAnswer says what the recommendations are based on.
func recommendAnswer(recs []events.Rec) string {
	if len(recs) == 0 {
		return "I don't have enough to go on yet. Tell me what you're looking for — a product type, a brand or a budget — and I'll find good options."
	}
	personal := false
	for _, r := range recs {
		if r.Reason != "trending" {
			personal = true
			break
		}
	}
	if personal {
		return fmt.Sprintf("Based on what you've been looking at, you might like these. My top pick is %s%s.", recs[0].Product.Title, priceSuffix(recItems(recs[:1])[0]))
	}
	return fmt.Sprintf("Here's what's popular in the shop right now. The top one is %s%s.", recs[0].Product.Title, priceSuffix(recItems(recs[:1])[0]))
}

// Items converts search hits to the protocol's product items.
func Items(hits []retrieval.Hit) []Item {
	items := make([]Item, 0, len(hits))
	for _, h := range hits {
		p := h.Product
		items = append(items, Item{
			ID:        p.ID,
			Title:     p.Title,
			Brand:     p.Brand,
			Price:     p.PriceUnits(),
			Currency:  p.Currency,
			Image:     p.Image,
			URL:       p.URL,
			Score:     h.Score,
			Sponsored: h.Sponsored,
		})
	}
	return items
}

func productRefs(items []Item) []sessions.ProductRef {
	if len(items) == 0 {
		return nil
	}
	refs := make([]sessions.ProductRef, len(items))
	for i, it := range items {
		refs[i] = sessions.ProductRef{ID: it.ID, Title: it.Title, Brand: it.Brand, Price: it.Price, Currency: it.Currency, Image: it.Image, Score: it.Score}
	}
	return refs
}

func priceSuffix(it Item) string {
	if it.Price <= 0 {
		return ""
	}
	return " at " + FormatPrice(it.Price, it.Currency)
}

// FormatPrice writes a price for people: "€49.95", "$5.00", "12.50 CHF".
func FormatPrice(units float64, currency string) string {
	switch currency {
	case "EUR":
		return fmt.Sprintf("€%.2f", units)
	case "USD":
		return fmt.Sprintf("$%.2f", units)
	case "GBP":
		return fmt.Sprintf("£%.2f", units)
	case "":
		return fmt.Sprintf("%.2f", units)
	default:
		return fmt.Sprintf("%.2f %s", units, currency)
	}
}

func newMessageID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "m_" + hex.EncodeToString(b[:])
}
