package chat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

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
		if _, err := s.store.Get(ctx, f.SessionID); err == nil {
			turns, err := s.store.History(ctx, f.SessionID, s.cfg.HistoryOnResume)
			if err != nil {
				code, msg := errorFrame(err)
				c.sendError("", code, msg)
				return
			}
			sess.id = f.SessionID
			resumed := true
			c.enqueue(ServerFrame{Type: TypeSession, SessionID: sess.id, Resumed: &resumed})
			c.enqueue(ServerFrame{Type: TypeHistory, SessionID: sess.id, Turns: turns})
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
	resumed := false
	c.enqueue(ServerFrame{Type: TypeSession, SessionID: id, Resumed: &resumed})
	return nil
}

// turn answers one shopper message: typing, the detected intent, then
// products (for a product search) and a message, then done; or an error
// frame with reply_to, which ends the turn instead of done. The shopper's message is stored before any answer is sent, and the
// answer before done, so a done frame means both are in the transcript.
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

	if sess.id == "" {
		if err := s.newSession(ctx, c, sess); err != nil {
			fail(err)
			return
		}
	}
	c.enqueue(ServerFrame{Type: TypeTyping, ReplyTo: f.ID})
	label := IntentProductSearch
	var conf *float64 // nil without an intent model
	if s.intents != nil {
		res, err := s.intents.Classify(ctx, f.Text)
		if err != nil {
			fail(err)
			return
		}
		label, conf = res.Label, &res.Confidence
	}
	s.metrics.intents.WithLabelValues(label).Inc()

	shopper := sessions.Turn{ID: f.ID, Role: sessions.RoleShopper, Text: f.Text, Intent: label, At: start.UTC()}
	err := s.store.Append(ctx, sess.id, shopper)
	if errors.Is(err, sessions.ErrNotFound) { // expired since the last turn
		if err = s.newSession(ctx, c, sess); err == nil {
			err = s.store.Append(ctx, sess.id, shopper)
		}
	}
	if err != nil {
		fail(err)
		return
	}
	if conf != nil {
		c.enqueue(ServerFrame{Type: TypeIntent, ReplyTo: f.ID, Intent: label, Confidence: conf})
	}

	var items []Item
	var text string
	switch label {
	case IntentProductSearch:
		hits, err := s.search(ctx, sess, f.Text)
		if err != nil {
			fail(err)
			return
		}
		items = Items(hits)
		text = searchAnswer(f.Text, items)
	case IntentRecommend:
		if s.recs == nil {
			text = intentAnswer(label)
			break
		}
		recs, err := s.recs.Recommend(ctx, sess.shopperKey(), s.cfg.ProductsPerAnswer)
		if err != nil {
			fail(err)
			return
		}
		items = recItems(recs)
		text = recommendAnswer(recs)
	default:
		text = intentAnswer(label)
	}
	bot := sessions.Turn{
		ID:       newMessageID(),
		ReplyTo:  f.ID,
		Role:     sessions.RoleBot,
		Text:     text,
		Products: productRefs(items),
		At:       time.Now().UTC(),
	}
	if len(items) > 0 {
		c.enqueue(ServerFrame{Type: TypeProducts, ReplyTo: f.ID, Items: items})
	}
	c.enqueue(ServerFrame{Type: TypeMessage, ReplyTo: f.ID, ID: bot.ID, Text: bot.Text})
	if err := s.store.Append(ctx, sess.id, bot); err != nil {
		fail(err)
		return
	}
	record("ok")
	c.enqueue(ServerFrame{Type: TypeDone, ReplyTo: f.ID})
}

// search finds the products of a turn. With personalisation on, it takes a
// wider candidate set and re-ranks it with the shopper's live profile
// before cutting; a profile that cannot be read leaves the search order.
func (s *Server) search(ctx context.Context, sess *sessionState, text string) ([]retrieval.Hit, error) {
	n := s.cfg.ProductsPerAnswer
	if s.profile == nil || s.pweight <= 0 {
		return s.index.Search(ctx, retrieval.Query{Text: text, K: n})
	}
	hits, err := s.index.Search(ctx, retrieval.Query{Text: text, K: max(4*n, 32)})
	if err != nil {
		return nil, err
	}
	if p, err := s.profile.Get(ctx, sess.shopperKey()); err != nil {
		s.log.Warn("profile unavailable; search not personalised", "err", err)
	} else {
		hits = events.Personalize(hits, p, s.pweight)
	}
	return hits[:min(n, len(hits))], nil
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
			ID:       p.ID,
			Title:    p.Title,
			Brand:    p.Brand,
			Price:    p.PriceUnits(),
			Currency: p.Currency,
			Image:    p.Image,
			Score:    h.Score,
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
		refs[i] = sessions.ProductRef(it)
	}
	return refs
}

// intentAnswer is the answer to a message that is not a product search.
func intentAnswer(label string) string {
	if a, ok := smallTalk[label]; ok {
		return a
	}
	if a, ok := serviceAnswers[label]; ok {
		return a
	}
	// Out of scope, or a label of a store's own model that the chat has no
	// answer for.
	return outOfScopeAnswer
}

// searchAnswer is the templated answer to a product search.
func searchAnswer(query string, items []Item) string {
	q := strings.Join(strings.Fields(query), " ")
	if len(q) > 80 {
		q = q[:strings.LastIndexByte(q[:80], ' ')+1] + "…"
	}
	switch len(items) {
	case 0:
		return fmt.Sprintf("I couldn't find anything for “%s”. Could you describe it another way — a product type, a brand or a model number?", q)
	case 1:
		return fmt.Sprintf("I found one product for “%s”: %s%s.", q, items[0].Title, priceSuffix(items[0]))
	default:
		return fmt.Sprintf("Here are %d products for “%s”. The best match is %s%s.", len(items), q, items[0].Title, priceSuffix(items[0]))
	}
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
