package chat

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/policies"
	"github.com/shopassist/shopassist/ranking"
	"github.com/shopassist/shopassist/retrieval"
)

// reply is what one turn answers: the material the answer is grounded on
// and the template text that says it. The answer step (render) sends the
// template, or an LLM's wording of the same material.
type reply struct {
	// act names what the turn did, kept in the dialog state.
	act string
	// text is the complete templated answer.
	text string
	// items are the products shown with the answer (a products frame).
	items []Item
	// products are the catalogue records behind items, for grounding.
	products []*catalog.Product
	// passages are the policy passages the answer quotes.
	passages []policies.Passage
	// suggestions are quick replies.
	suggestions []string
	// handoff, when set, is the session's new handoff state.
	handoff string
	// grounded says an LLM may word the answer: it has products or
	// passages to stand on.
	grounded bool
	// intent is the message's intent, for the LLM prompt.
	intent string
}

// turnInput is one message as the dialog manager sees it.
type turnInput struct {
	// text is the message redacted (privacy.Redact); raw is the message as
	// typed, read only by the step that needs personal data to do its job
	// (a new delivery address).
	text    string
	raw     string
	label   string // the intent model's label
	slots   intent.Slots
	handoff string // the session's handoff state
}

// serviceIntents are the customer-service intents: a pending product
// question or a follow-up never swallows them.
func serviceIntent(label string) bool {
	switch label {
	case IntentProductSearch, IntentRecommend, IntentGreeting, IntentGoodbye, IntentThanks, IntentOutOfScope:
		return false
	}
	return true
}

// decide runs the dialog manager for one message: it updates st and
// returns the reply. A request for a person is recognised by its words too;
// then a pending question is answered, an order number with an order word
// picks its order flow, a follow-up on the last results is served, and
// otherwise the message is routed by its intent (see the package doc).
func (s *Server) decide(ctx context.Context, sess *sessionState, st *dialogState, in turnInput) (reply, error) {
	// Asking for a person must always work, whatever the model thought of
	// the wording (and the "Talk to a person" quick reply must too).
	if in.label != "complaint" && in.label != "contact_human_agent" {
		if l := handoffCue(in.text); l != "" {
			in.label = l
		}
	}
	if st.Pending != nil {
		rep, handled, err := s.answerPending(ctx, sess, st, in)
		if err != nil || handled {
			return rep, err
		}
	}
	label := in.label
	// An order number with an order word picks the order flow whatever the
	// model said: digits confuse it ("I want to cancel my order 10231" can
	// read as a newsletter question to it).
	if num, _ := orders.FindNumber(in.text); num != "" && orderFlowOf[label] == "" {
		flow := flowFromText(in.text)
		if flow == "" && st.Order != "" && in.slots.Type == "" && len(in.slots.Terms) <= 3 {
			flow = "track" // "and 10231?" after another order
		}
		if flow != "" {
			return s.orderFlow(ctx, st, flow, in.text)
		}
	}
	// A message that only narrows the search is a product search whatever
	// the model thought of it ("between 20 and 50 euros" reads as out of
	// scope to it).
	if (label == IntentGreeting || label == IntentOutOfScope || label == IntentRecommend) && (in.slots.HasFilters() || in.slots.Type != "" || (st.Need != "" && (in.slots.AnyBrand || in.slots.AnyPrice || in.slots.AnyColour))) {
		label = IntentProductSearch
	}
	if len(st.Results) > 0 && !serviceIntent(label) && !isNewNeed(*st, withoutPositions(in.slots), in.text) {
		if fu, ok := parseFollowUp(in.text, len(st.Results)); ok {
			return s.followUp(ctx, sess, st, fu)
		}
	}
	// A bare order number is an order to look up.
	if _, err := orders.ParseNumber(in.text); err == nil && !serviceIntent(label) {
		label = "track_order"
	}
	// "ok", "yes", "no" with no question pending: nothing to search for.
	if !serviceIntent(label) && !in.slots.HasFilters() && len(in.slots.Terms) == 0 && ackRe.MatchString(in.text) {
		return s.small(st, "ack", "Alright! Is there anything else I can help you with — a product, an order or a question about delivery or returns?"), nil
	}
	switch {
	case label == IntentProductSearch:
		if policyQuestion(in.slots) {
			return s.policyAnswer(st, label, in.text), nil
		}
		return s.productSearch(ctx, sess, st, in)
	case label == IntentRecommend:
		if in.slots.Type != "" || len(in.slots.Terms) > 0 {
			return s.productSearch(ctx, sess, st, in)
		}
		if in.slots.Generic || s.recs == nil {
			return s.askType(st, in.slots), nil
		}
		return s.recommend(ctx, sess, st)
	case orderFlowOf[label] != "":
		return s.orderFlow(ctx, st, orderFlowOf[label], in.text)
	case label == "complaint" || label == "contact_human_agent":
		return s.handoffRequest(st, label, in.handoff), nil
	case label == "contact_customer_service":
		rep := s.small(st, "service", serviceAnswers[label])
		rep.suggestions = []string{suggestHuman}
		return rep, nil
	case policyIntents[label]:
		return s.policyAnswer(st, label, in.text), nil
	case smallTalk[label] != "":
		return s.small(st, label, smallTalk[label]), nil
	case serviceAnswers[label] != "":
		return s.small(st, label, serviceAnswers[label]), nil
	default:
		rep := s.small(st, IntentOutOfScope, outOfScopeAnswer)
		rep.suggestions = []string{suggestHuman}
		return rep, nil
	}
}

var (
	cancelWordRe = regexp.MustCompile(`\bcancel`)
	changeWordRe = regexp.MustCompile(`\b(change|modify|edit|update)\b`)
	orderWordRe  = regexp.MustCompile(`\b(orders?|parcel|package|shipment|delivery|tracking|track|where|status|arrive[ds]?)\b`)
)

// flowFromText names the order flow a message with an order number asks
// for by its words, or "".
func flowFromText(text string) string {
	t := strings.ToLower(text)
	switch {
	case cancelWordRe.MatchString(t):
		return "cancel"
	case strings.Contains(t, "address"):
		return "change_address"
	case strings.Contains(t, "refund"):
		return "refund_status"
	case changeWordRe.MatchString(t):
		return "change_order"
	case orderWordRe.MatchString(t):
		return "track"
	}
	return ""
}

var (
	complainRe = regexp.MustCompile(`\bcomplain(t|ts|ing)?\b`)
	humanRe    = regexp.MustCompile(`\b(human|real person|live (agent|person|chat)|(customer service )?(agent|representative|operator)|someone from your (team|staff)|(talk|speak|chat) (to|with) (a |an |someone|somebody|a real )?(person|people|someone|somebody|manager|staff))\b`)
)

// handoffCue recognises a complaint or a request for a person by its
// words: "complaint", "talk to a person", "real person", "human".
func handoffCue(text string) string {
	t := strings.ToLower(text)
	switch {
	case complainRe.MatchString(t):
		return "complaint"
	case humanRe.MatchString(t):
		return "contact_human_agent"
	}
	return ""
}

// withoutPositions drops the one- and two-digit numbers from the terms of
// a message, which name positions in a follow-up ("compare 1 and 3"), so
// they do not count as a new product need.
func withoutPositions(sl intent.Slots) intent.Slots {
	var terms []string
	for _, t := range sl.Terms {
		if len(t) > 2 || strings.Trim(t, "0123456789") != "" {
			terms = append(terms, t)
		}
	}
	sl.Terms = terms
	return sl
}

// recommend answers with the shopper's recommendations (profile or
// trending).
func (s *Server) recommend(ctx context.Context, sess *sessionState, st *dialogState) (reply, error) {
	recs, err := s.recs.Recommend(ctx, sess.shopperKey(), s.cfg.ProductsPerAnswer)
	if err != nil {
		return reply{}, err
	}
	items := recItems(recs)
	st.Results = itemIDs(items)
	st.Act = "recommend"
	return reply{act: st.Act, text: recommendAnswer(recs), items: items, products: recProducts(recs), grounded: len(recs) > 0}, nil
}

// suggestHuman is the quick reply that asks for a person.
const suggestHuman = "Talk to a person"

func (s *Server) small(st *dialogState, act, text string) reply {
	st.Act = act
	return reply{act: act, text: text}
}

// productSearch answers a product search: a new need, or a refinement of
// the current one, or a clarifying question when the need is too vague.
func (s *Server) productSearch(ctx context.Context, sess *sessionState, st *dialogState, in turnInput) (reply, error) {
	sl := in.slots
	if isNewNeed(*st, sl, in.text) {
		clarified := st.Pending != nil && st.Pending.Kind == pendingClarify
		st.newNeed(sl)
		st.Clarified = clarified
		st.Filters.apply(sl)
		st.Act = "search"
	} else {
		if st.Need == "" {
			// Filters without a product: keep them and ask what for.
			st.Filters.apply(sl)
			return s.askType(st, sl), nil
		}
		st.Filters.apply(sl)
		st.addTerms(sl.Terms)
		st.Act = "refine"
	}
	st.Pending = nil
	st.Page = 0
	return s.showResults(ctx, sess, st, sl.Currency)
}

// showResults runs the state's search and answers with its first page, or
// asks one clarifying question when the need is too vague or the results
// too mixed.
func (s *Server) showResults(ctx context.Context, sess *sessionState, st *dialogState, named string) (reply, error) {
	hits, err := s.find(ctx, sess, *st, st.Page)
	if err != nil {
		return reply{}, err
	}
	if q, ok := s.clarifyBudget(st, hits); ok {
		return q, nil
	}
	items := Items(hits)
	st.Results = itemIDs(items)
	if len(items) == 0 {
		return s.noResults(st), nil
	}
	text := productsAnswer(*st, items, s.cfg.Currency)
	if named != "" && named != items[0].Currency {
		text += fmt.Sprintf(" (Prices here are in %s.)", items[0].Currency)
	}
	return reply{act: st.Act, text: text, items: items, products: hitProducts(hits), grounded: true}, nil
}

// clarifyBudget asks for a budget instead of showing products when the
// need is only a broad product type ("a laptop") or the results spread over
// a tenfold price range, and no price was given. It asks once per need.
func (s *Server) clarifyBudget(st *dialogState, hits []retrieval.Hit) (reply, bool) {
	if st.Clarified || st.Filters.hasPrice() || len(st.Filters.Brands) > 0 || len(hits) == 0 {
		return reply{}, false
	}
	var prices []int64
	for _, h := range hits {
		if h.Product.Price > 0 {
			prices = append(prices, h.Product.Price)
		}
	}
	slices.Sort(prices)
	bare := len(strings.Fields(st.needText())) == 1
	broad := bare && intent.BroadType(st.Type)
	mixed := bare && len(prices) >= 4 && prices[len(prices)-1] >= 10*prices[0]
	if !broad && !mixed {
		return reply{}, false
	}
	st.Clarified = true
	st.Pending = &pending{Kind: pendingClarify, Field: "budget"}
	st.Results = nil
	st.Act = "clarify"
	need := st.needText()
	var text string
	if broad {
		text = fmt.Sprintf("Happy to help you find a %s! What's your budget? Then I can show you the best ones in your price range.", need)
	} else {
		text = fmt.Sprintf("I found quite different things for “%s”, from %s to %s. What's your budget?", need,
			formatAmount(prices[0], s.cfg.Currency), formatAmount(prices[len(prices)-1], s.cfg.Currency))
	}
	return reply{act: st.Act, text: text, suggestions: budgetChips(prices, s.cfg.Currency)}, true
}

// askType asks what kind of product the shopper is looking for.
func (s *Server) askType(st *dialogState, sl intent.Slots) reply {
	st.Pending = &pending{Kind: pendingClarify, Field: "type"}
	st.Clarified = true
	st.Act = "clarify"
	text := "Happy to help! What kind of product are you looking for? Tell me a type, a brand or what it's for."
	if sl.Generic {
		text = "Happy to help you find a gift! What are they into — music, gaming, working from home? Or tell me a kind of product and a budget."
	} else if st.Filters.any() {
		text = fmt.Sprintf("Sure — what are you looking for%s? Tell me a product type, like headphones or a keyboard.", describeFilters(st.Filters, s.cfg.Currency))
	}
	return reply{act: st.Act, text: text, suggestions: typeSuggestions}
}

// typeSuggestions are the quick replies of a "what kind of product"
// question.
var typeSuggestions = []string{"Headphones", "A bluetooth speaker", "A keyboard", "A laptop"}

// noResults answers an empty search, offering to drop each filter.
func (s *Server) noResults(st *dialogState) reply {
	need := st.needText()
	f := st.Filters
	if !f.hasPrice() && len(f.Brands) == 0 && len(f.Colors) == 0 {
		return reply{act: st.Act, text: fmt.Sprintf("I couldn't find anything for “%s”. Could you describe it another way — a product type, a brand or a model number?", need)}
	}
	var chips []string
	if len(f.Brands) > 0 {
		chips = append(chips, "Any brand")
	}
	if f.hasPrice() {
		chips = append(chips, "Any price")
	}
	if len(f.Colors) > 0 {
		chips = append(chips, "Any colour")
	}
	return reply{
		act:         st.Act,
		text:        fmt.Sprintf("I couldn't find any “%s”%s. Shall I widen the search?", need, describeFilters(f, s.cfg.Currency)),
		suggestions: chips,
	}
}

// find runs the state's search and returns the hits of one page. With
// personalisation on it re-ranks a wider candidate set with the shopper's
// live profile before cutting; a profile that cannot be read leaves the
// search order.
func (s *Server) find(ctx context.Context, sess *sessionState, st dialogState, page int) ([]retrieval.Hit, error) {
	n := s.cfg.ProductsPerAnswer
	want := min((page+1)*n, maxSearchK)
	from := min(page*n, want)
	if s.ranker != nil {
		hits, err := s.rank(ctx, sess, st, want)
		if err != nil {
			return nil, err
		}
		return hits[min(from, len(hits)):], nil
	}
	personal := s.profile != nil && s.pweight > 0
	k := want
	if personal {
		k = min(max(4*want, 32), maxSearchK)
	}
	hits, err := s.index.Search(ctx, st.query(k))
	if err != nil {
		return nil, err
	}
	if personal {
		if p, err := s.profile.Get(ctx, sess.shopperKey()); err != nil {
			s.log.Warn("profile unavailable; search not personalised", "err", err)
		} else {
			hits = events.Personalize(hits, p, s.pweight)
		}
	}
	hits = hits[:min(want, len(hits))]
	return hits[min(from, len(hits)):], nil
}

// rank retrieves the ranker's top-k candidates (at least want) and orders
// them with the ranking stage: cross-encoder, the shopper's profile and the
// store's rules. A reranker failure keeps the retrieval order (with profile
// and rules) and is counted; a profile that cannot be read is left out.
func (s *Server) rank(ctx context.Context, sess *sessionState, st dialogState, want int) ([]retrieval.Hit, error) {
	q := st.query(min(max(want, s.ranker.Config().TopK), maxSearchK))
	hits, err := s.index.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	req := ranking.Request{Query: q.Text, Hits: hits, K: want}
	if s.profile != nil {
		if p, err := s.profile.Get(ctx, sess.shopperKey()); err != nil {
			s.log.Warn("profile unavailable; search not personalised", "err", err)
		} else {
			req.Personal = p
		}
	}
	res, err := s.ranker.Rank(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.Fallback {
		reason := ranking.Reason(res.Cause)
		s.metrics.rankFallbacks.WithLabelValues(reason).Inc()
		s.log.Warn("reranker failed; retrieval order served", "reason", reason, "err", res.Cause)
	}
	out := make([]retrieval.Hit, len(res.Items))
	for i, it := range res.Items {
		out[i] = retrieval.Hit{Product: it.Hit.Product, Score: it.Score, Sponsored: it.Sponsored}
	}
	return out, nil
}

// followUp answers a message about the last results.
func (s *Server) followUp(ctx context.Context, sess *sessionState, st *dialogState, fu followUp) (reply, error) {
	st.Pending = nil
	switch fu.kind {
	case "more":
		st.Page++
		st.Act = "more"
		hits, err := s.find(ctx, sess, *st, st.Page)
		if err != nil {
			return reply{}, err
		}
		if len(hits) == 0 {
			st.Page--
			return reply{act: st.Act, text: fmt.Sprintf("That's everything I have for “%s”%s. Want to try other words, or shall I drop a filter?",
				st.needText(), describeFilters(st.Filters, s.cfg.Currency))}, nil
		}
		items := Items(hits)
		st.Results = itemIDs(items)
		return reply{act: st.Act, text: moreAnswer(*st, items, s.cfg.Currency), items: items, products: hitProducts(hits), grounded: true}, nil
	case "cheaper", "pricier":
		shown := s.lookup(ctx, st.Results)
		mid := medianPrice(shown)
		if mid <= 0 {
			return reply{act: fu.kind, text: "I can't compare prices for these products — none of them has a price."}, nil
		}
		before := *st // restored when nothing is cheaper (only value fields change below)
		if fu.kind == "cheaper" {
			st.Filters.MaxPrice = mid - 1
			if st.Filters.MinPrice >= st.Filters.MaxPrice {
				st.Filters.MinPrice = 0
			}
		} else {
			st.Filters.MinPrice = mid + 1
			if st.Filters.MaxPrice > 0 && st.Filters.MaxPrice <= st.Filters.MinPrice {
				st.Filters.MaxPrice = 0
			}
		}
		st.Page = 0
		st.Act = fu.kind
		hits, err := s.find(ctx, sess, *st, 0)
		if err != nil {
			return reply{}, err
		}
		if len(hits) == 0 {
			*st = before
			st.Act = fu.kind
			word := "cheaper than"
			if fu.kind == "pricier" {
				word = "more expensive than"
			}
			return reply{act: st.Act, text: fmt.Sprintf("I couldn't find any “%s” %s %s%s — these are the best I have.",
				st.needText(), word, formatAmount(mid, s.cfg.Currency), describeFilters(withoutPrice(st.Filters), s.cfg.Currency))}, nil
		}
		items := Items(hits)
		st.Results = itemIDs(items)
		word := "cheaper than"
		if fu.kind == "pricier" {
			word = "more expensive than"
		}
		text := fmt.Sprintf("Here are %d products for “%s” %s %s%s. The best match is %s%s.", len(items), quoteNeed(st.needText()), word,
			formatAmount(mid, s.cfg.Currency), describeFilters(withoutPrice(st.Filters), s.cfg.Currency), items[0].Title, priceSuffix(items[0]))
		return reply{act: st.Act, text: text, items: items, products: hitProducts(hits), grounded: true}, nil
	case "detail":
		pos := fu.items[0]
		if pos > len(st.Results) {
			return reply{act: "detail", text: fmt.Sprintf("I showed %d products — which one do you mean? You can say “the first one” or a number from 1 to %d.", len(st.Results), len(st.Results))}, nil
		}
		shown := s.lookup(ctx, st.Results[pos-1:pos])
		st.Act = "detail"
		if len(shown) == 0 {
			return reply{act: st.Act, text: "Sorry, that product is no longer in the catalogue."}, nil
		}
		items := Items([]retrieval.Hit{{Product: shown[0]}})
		return reply{act: st.Act, text: detailAnswer(pos, shown[0]), items: items, products: shown, grounded: true}, nil
	default: // compare
		var pick []string
		var positions []int
		for _, p := range fu.items {
			if p <= len(st.Results) && !slices.Contains(positions, p) {
				pick = append(pick, st.Results[p-1])
				positions = append(positions, p)
			}
		}
		st.Act = "compare"
		if len(pick) < 2 {
			return reply{act: st.Act, text: fmt.Sprintf("I showed %d products — which ones should I compare? For example “compare 1 and 2”.", len(st.Results))}, nil
		}
		shown := s.lookup(ctx, pick)
		if len(shown) < len(pick) {
			return reply{act: st.Act, text: "Sorry, one of those products is no longer in the catalogue."}, nil
		}
		hits := make([]retrieval.Hit, len(shown))
		for i, p := range shown {
			hits[i] = retrieval.Hit{Product: p}
		}
		return reply{act: st.Act, text: compareAnswer(positions, shown), items: Items(hits), products: shown, grounded: true}, nil
	}
}

func withoutPrice(f filters) filters {
	f.MinPrice, f.MaxPrice = 0, 0
	return f
}

// lookup returns the catalogue records of ids that still exist, in order.
func (s *Server) lookup(ctx context.Context, ids []string) []*catalog.Product {
	out := make([]*catalog.Product, 0, len(ids))
	for _, id := range ids {
		if p, ok := s.index.Get(ctx, id); ok {
			out = append(out, p)
		}
	}
	return out
}

// medianPrice is the median of the products' prices (minor units), 0 when
// none has one.
func medianPrice(ps []*catalog.Product) int64 {
	var prices []int64
	for _, p := range ps {
		if p.Price > 0 {
			prices = append(prices, p.Price)
		}
	}
	if len(prices) == 0 {
		return 0
	}
	slices.Sort(prices)
	return prices[(len(prices)-1)/2]
}

func itemIDs(items []Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

func hitProducts(hits []retrieval.Hit) []*catalog.Product {
	ps := make([]*catalog.Product, len(hits))
	for i, h := range hits {
		ps[i] = h.Product
	}
	return ps
}

func recProducts(recs []events.Rec) []*catalog.Product {
	ps := make([]*catalog.Product, len(recs))
	for i, r := range recs {
		ps[i] = r.Product
	}
	return ps
}

// answerPending handles a message while a question waits for an answer.
// handled is false when the message is about something else: the question
// is dropped and the message routed as usual.
func (s *Server) answerPending(ctx context.Context, sess *sessionState, st *dialogState, in turnInput) (rep reply, handled bool, err error) {
	p := st.Pending
	switch p.Kind {
	case pendingClarify:
		sl := in.slots
		// What fits the question wins over the model's label: "anything"
		// answers "what kind of product?" whatever the model made of it.
		switch {
		case p.Field == "type" && sl.NoPreference && len(sl.Terms) == 0:
			st.Pending = nil
			if s.recs == nil {
				return s.small(st, "clarify:none", fmt.Sprintf("No problem! Whenever you have something in mind, tell me a product type or a budget — for example “headphones under %s”.", formatAmount(5000, s.cfg.Currency))), true, nil
			}
			rep, err = s.recommend(ctx, sess, st)
			return rep, true, err
		case p.Field == "type" && (sl.Type != "" || len(sl.Terms) > 0 && !serviceIntent(in.label)):
			in.label = IntentProductSearch
			rep, err = s.productSearch(ctx, sess, st, in)
			return rep, true, err
		case p.Field == "budget" && st.Need != "" && (sl.Amount > 0 || (!serviceIntent(in.label) || len(sl.Terms) == 0 && (sl.HasFilters() || sl.AnyPrice || sl.NoPreference)) && !isNewNeed(*st, sl, in.text)):
			if sl.Amount > 0 && !sl.HasFilters() {
				// A bare amount answers "what's your budget?": "800".
				sl.MaxPrice, sl.Terms = sl.Amount, nil
			}
			st.Filters.apply(sl)
			st.addTerms(sl.Terms)
			st.Pending = nil
			st.Page = 0
			st.Act = "refine"
			rep, err = s.showResults(ctx, sess, st, sl.Currency)
			return rep, true, err
		}
		st.Pending = nil
		return reply{}, false, nil
	case pendingOrderNumber:
		num, malformed := orders.FindNumber(in.text)
		if num != "" {
			rep, err = s.orderFlow(ctx, st, p.Flow, in.text)
			return rep, true, err
		}
		if f := orderFlowOf[in.label]; f != "" && f != p.Flow {
			// Another order question: ask for its number instead.
			rep, err = s.orderFlow(ctx, st, f, in.text)
			return rep, true, err
		}
		if serviceIntent(in.label) && orderFlowOf[in.label] == "" || in.label == IntentProductSearch && len(in.slots.Terms) > 0 && malformed == "" {
			st.Pending = nil
			return reply{}, false, nil
		}
		p.Tries++
		if p.Tries >= maxTries {
			st.Pending = offerHuman
			st.Act = "order:give_up"
			return reply{act: st.Act, text: "I still don't have an order number I can look up. A person from our team can find your order by your name or email address — shall I put you in touch?",
				suggestions: []string{suggestHuman}}, true, nil
		}
		st.Act = "order:ask_number"
		if malformed != "" {
			return reply{act: st.Act, text: fmt.Sprintf("“%s” doesn't look like an order number — ours have %d to %d digits, like 10234. Could you check it in your confirmation email?",
				malformed, orders.MinNumberDigits, orders.MaxNumberDigits)}, true, nil
		}
		return reply{act: st.Act, text: "I need the order number to look it up — it's in your order confirmation email and under My account → Orders (for example 10234).",
			suggestions: []string{suggestHuman}}, true, nil
	case pendingConfirm:
		if p.Flow == "handoff" {
			st.Pending = nil
			switch yesNo(in.text) {
			case 1:
				return s.handoffRequest(st, "contact_human_agent", in.handoff), true, nil
			case -1:
				return s.small(st, "handoff:declined", "Alright. Is there anything else I can help you with?"), true, nil
			}
			return reply{}, false, nil
		}
		switch yesNo(in.text) {
		case 1:
			rep, err = s.confirmOrderAction(ctx, st)
			return rep, true, err
		case -1:
			st.Pending = nil
			st.Act = "order:" + p.Flow + ":declined"
			return reply{act: st.Act, text: fmt.Sprintf("No problem — order %s stays as it is. Is there anything else I can help with?", p.Order)}, true, nil
		}
		if serviceIntent(in.label) || len(in.slots.Terms) > 0 {
			st.Pending = nil
			return reply{}, false, nil
		}
		p.Tries++
		if p.Tries >= maxTries {
			st.Pending = nil
			st.Act = "order:" + p.Flow + ":dropped"
			return reply{act: st.Act, text: fmt.Sprintf("I've left order %s as it is. Tell me if you'd like to try again.", p.Order)}, true, nil
		}
		st.Act = "order:" + p.Flow + ":confirm"
		return reply{act: st.Act, text: "Sorry, I didn't get that — " + confirmQuestion(p), suggestions: confirmChips(p.Flow)}, true, nil
	case pendingAddress:
		addr, ok := parseAddress(in.raw)
		if !ok {
			if serviceIntent(in.label) && in.label != "change_shipping_address" {
				st.Pending = nil
				return reply{}, false, nil
			}
			p.Tries++
			if p.Tries >= maxTries {
				st.Pending = nil
				st.Act = "order:change_address:dropped"
				return reply{act: st.Act, text: fmt.Sprintf("I couldn't read the new address, so order %s still goes to the old one. A person from our team can change it for you.", p.Order),
					suggestions: []string{suggestHuman}}, true, nil
			}
			st.Act = "order:change_address:ask"
			return reply{act: st.Act, text: "I couldn't read that as an address. Please write it as street and number, postal code and city — for example “Oranienstraße 7, 10997 Berlin”."}, true, nil
		}
		st.Pending = &pending{Kind: pendingConfirm, Flow: "change_address", Order: p.Order, Address: &addr}
		st.Act = "order:change_address:confirm"
		return reply{act: st.Act, text: confirmQuestion(st.Pending), suggestions: confirmChips("change_address")}, true, nil
	}
	st.Pending = nil
	return reply{}, false, nil
}
