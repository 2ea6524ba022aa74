package chat

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/policies"
)

// Order flows, by the intent that starts them.
var orderFlowOf = map[string]string{
	"track_order":             "track",
	"cancel_order":            "cancel",
	"change_shipping_address": "change_address",
	"change_order":            "change_order",
	"track_refund":            "refund_status",
}

// flowIntent is the intent of each flow, for the answers without an order
// service.
var flowIntent = map[string]string{
	"track": "track_order", "cancel": "cancel_order", "change_address": "change_shipping_address",
	"change_order": "change_order", "refund_status": "track_refund",
}

// orderFlow runs an order flow for a message: it finds the order number
// (in the text, else the order talked about last), asks for it when there
// is none, looks the order up and answers for the flow — or asks for
// confirmation before cancelling or changing it.
func (s *Server) orderFlow(ctx context.Context, st *dialogState, flow, text string) (reply, error) {
	tries := 0 // wrong numbers so far, when this answers the question for one
	if st.Pending != nil && st.Pending.Kind == pendingOrderNumber {
		tries = st.Pending.Tries
	}
	st.Pending = nil
	if s.orders == nil {
		return s.small(st, "order:"+flow, serviceAnswers[flowIntent[flow]]), nil
	}
	num, malformed := orders.FindNumber(text)
	if num == "" && malformed == "" {
		num = st.Order
	}
	if num == "" {
		st.Pending = &pending{Kind: pendingOrderNumber, Flow: flow}
		st.Act = "order:ask_number"
		if malformed != "" {
			return reply{act: st.Act, text: fmt.Sprintf("“%s” doesn't look like an order number — ours have %d to %d digits, like 10234. Could you check it?",
				malformed, orders.MinNumberDigits, orders.MaxNumberDigits)}, nil
		}
		return reply{act: st.Act, text: "Sure — what's the order number? You'll find it in your order confirmation email and under My account → Orders."}, nil
	}
	o, err := s.orders.Get(ctx, num)
	if errors.Is(err, orders.ErrNotFound) {
		st.Act = "order:not_found"
		if tries+1 >= maxTries {
			st.Pending = offerHuman
			return reply{act: st.Act, text: fmt.Sprintf("I couldn't find order %s either. A person from our team can find your order by your name or email address — shall I put you in touch?", num),
				suggestions: []string{suggestHuman}}, nil
		}
		st.Pending = &pending{Kind: pendingOrderNumber, Flow: flow, Tries: tries + 1}
		return reply{act: st.Act, text: fmt.Sprintf("I couldn't find order %s — can you check the number?", num)}, nil
	}
	if err != nil {
		return reply{}, fmt.Errorf("%w: get %s: %w", errOrders, num, err)
	}
	st.Order = o.Number
	st.Act = "order:" + flow
	rep := reply{act: st.Act}
	switch flow {
	case "track":
		rep.text = trackAnswer(o)
	case "refund_status":
		rep.text = refundAnswer(o)
	case "cancel":
		if !o.Changeable() {
			rep.text, rep.suggestions = refuseChange(o, "cancelled")
			break
		}
		st.Pending = &pending{Kind: pendingConfirm, Flow: flow, Order: o.Number}
		rep.text = fmt.Sprintf("Order %s (%s) hasn't shipped yet, so it can still be cancelled free of charge. %s",
			o.Number, orderSummary(o), confirmQuestion(st.Pending))
		rep.suggestions = confirmChips(flow)
	case "change_address":
		if !o.Changeable() {
			rep.text, rep.suggestions = refuseChange(o, "changed")
			break
		}
		st.Pending = &pending{Kind: pendingAddress, Flow: flow, Order: o.Number}
		rep.text = fmt.Sprintf("Order %s hasn't shipped yet, so I can change where it goes (at the moment: %s). What's the new delivery address? Please write street and number, postal code and city.",
			o.Number, o.ShippingAddress.City)
	case "change_order":
		if !o.Changeable() {
			rep.text, rep.suggestions = refuseChange(o, "changed")
			break
		}
		rep.text = fmt.Sprintf("Order %s (%s) hasn't shipped yet, so it can still be changed. I can change the delivery address or cancel the order right here; to change items or quantities, a person from our team will help you.",
			o.Number, orderSummary(o))
		rep.suggestions = []string{"Change the delivery address", "Cancel the order", suggestHuman}
	}
	return rep, nil
}

// offerHuman is the pending question "shall I put you in touch with a
// person?".
var offerHuman = &pending{Kind: pendingConfirm, Flow: "handoff"}

// confirmOrderAction carries out the confirmed cancellation or address
// change.
func (s *Server) confirmOrderAction(ctx context.Context, st *dialogState) (reply, error) {
	p := st.Pending
	st.Pending = nil
	var (
		o   orders.Order
		err error
	)
	switch p.Flow {
	case "cancel":
		o, err = s.orders.Cancel(ctx, p.Order)
	case "change_address":
		o, err = s.orders.ChangeAddress(ctx, p.Order, *p.Address)
	default:
		return reply{}, fmt.Errorf("chat: confirmation for unknown flow %q", p.Flow)
	}
	st.Act = "order:" + p.Flow + ":done"
	switch {
	case errors.Is(err, orders.ErrNotAllowed):
		// The order moved on since the question (it shipped meanwhile).
		text, chips := refuseChange(o, map[string]string{"cancel": "cancelled", "change_address": "changed"}[p.Flow])
		st.Act = "order:" + p.Flow + ":refused"
		return reply{act: st.Act, text: text, suggestions: chips}, nil
	case errors.Is(err, orders.ErrNotFound):
		st.Act = "order:not_found"
		return reply{act: st.Act, text: fmt.Sprintf("I couldn't find order %s any more — a person from our team can look into it.", p.Order), suggestions: []string{suggestHuman}}, nil
	case err != nil:
		return reply{}, fmt.Errorf("%w: %s %s: %w", errOrders, p.Flow, p.Order, err)
	}
	if p.Flow == "cancel" {
		refund := ""
		if o.Refund != nil {
			refund = fmt.Sprintf(" The refund of %s goes back to your %s.", formatAmount(o.Refund.Amount, o.Currency), paymentName(o))
		}
		return reply{act: st.Act, text: fmt.Sprintf("Done — order %s is cancelled.%s Is there anything else I can help with?", o.Number, refund)}, nil
	}
	return reply{act: st.Act, text: fmt.Sprintf("Done — order %s will now be delivered to %s.", o.Number, o.ShippingAddress)}, nil
}

func confirmQuestion(p *pending) string {
	if p.Flow == "change_address" && p.Address != nil {
		// Not in quotes: privacy.Redact finds an address only where a word
		// starts, and the stored copy of this question must be redacted.
		return fmt.Sprintf("Shall I change the delivery address of order %s to %s?", p.Order, p.Address)
	}
	return fmt.Sprintf("Shall I cancel order %s?", p.Order)
}

func confirmChips(flow string) []string {
	if flow == "change_address" {
		return []string{"Yes, change it", "No, keep it"}
	}
	return []string{"Yes, cancel it", "No, keep it"}
}

// refuseChange explains why an order can no longer be cancelled or changed
// (verb is "cancelled" or "changed").
func refuseChange(o orders.Order, verb string) (string, []string) {
	switch o.Status {
	case orders.StatusShipped:
		text := fmt.Sprintf("Order %s has already shipped (with %s on %s), so it can't be %s any more.", o.Number, o.Carrier, day(o.ShippedAt), verb)
		if verb == "changed" && o.TrackingURL != "" {
			return text + " You can still redirect the parcel to a neighbour or a parcel shop from the tracking page: " + o.TrackingURL, nil
		}
		return text + " Once it arrives you can return it instead.", []string{"How do returns work?"}
	case orders.StatusDelivered:
		return fmt.Sprintf("Order %s was delivered on %s, so it can't be %s any more — but you can return it.", o.Number, day(o.DeliveredAt), verb),
			[]string{"How do returns work?"}
	case orders.StatusCancelled:
		return fmt.Sprintf("Order %s was already cancelled on %s. %s", o.Number, day(o.CancelledAt), refundAnswer(o)), nil
	}
	return fmt.Sprintf("Order %s can't be %s any more.", o.Number, verb), []string{suggestHuman}
}

// trackAnswer says where an order stands.
func trackAnswer(o orders.Order) string {
	switch o.Status {
	case orders.StatusProcessing:
		text := fmt.Sprintf("Order %s (%s) is being prepared and hasn't shipped yet.", o.Number, orderSummary(o))
		if o.EstimatedDelivery != "" {
			text += " The estimated delivery date is " + dateOf(o.EstimatedDelivery) + "."
		}
		return text + " You'll get the tracking number by email as soon as it ships."
	case orders.StatusShipped:
		text := fmt.Sprintf("Order %s shipped on %s with %s, tracking number %s.", o.Number, day(o.ShippedAt), o.Carrier, o.TrackingNumber)
		if o.EstimatedDelivery != "" {
			text += " Expected delivery: " + dateOf(o.EstimatedDelivery) + "."
		}
		if o.TrackingURL != "" {
			text += " Follow it here: " + o.TrackingURL
		}
		return text
	case orders.StatusDelivered:
		return fmt.Sprintf("Order %s was delivered on %s (%s, tracking number %s). If anything's wrong with it, let me know.", o.Number, day(o.DeliveredAt), o.Carrier, o.TrackingNumber)
	case orders.StatusCancelled:
		return fmt.Sprintf("Order %s was cancelled on %s. %s", o.Number, day(o.CancelledAt), refundAnswer(o))
	}
	return fmt.Sprintf("Order %s is %s.", o.Number, o.Status)
}

// refundAnswer says where the refund of an order stands.
func refundAnswer(o orders.Order) string {
	if o.Refund == nil {
		if o.Status == orders.StatusCancelled {
			return fmt.Sprintf("There is no refund on order %s because nothing was charged.", o.Number)
		}
		return fmt.Sprintf("There's no refund on order %s yet. To get one, start a return under My account → Orders → Return items; the refund is issued once the items reach us.", o.Number)
	}
	amount := formatAmount(o.Refund.Amount, o.Currency)
	if o.Refund.Status == "issued" {
		return fmt.Sprintf("The refund of %s was issued on %s to your %s; depending on your bank it can take a few working days to show.", amount, day(o.Refund.IssuedAt), paymentName(o))
	}
	return fmt.Sprintf("The refund of %s to your %s is being processed; you'll get an email as soon as it's issued.", amount, paymentName(o))
}

func paymentName(o orders.Order) string {
	if o.PaymentMethod == "" {
		return "original payment method"
	}
	return o.PaymentMethod
}

// orderSummary writes "2 items, €671.90" or "Sandberg HeadPhone, €17.95".
func orderSummary(o orders.Order) string {
	n := 0
	for _, it := range o.Items {
		n += it.Quantity
	}
	if len(o.Items) == 1 && n == 1 {
		return fmt.Sprintf("%s, %s", shortTitle(o.Items[0].Title), formatAmount(o.Total(), o.Currency))
	}
	return fmt.Sprintf("%d items, %s", n, formatAmount(o.Total(), o.Currency))
}

// shortTitle cuts a product title to at most 48 characters at a word
// boundary.
func shortTitle(t string) string {
	const limit = 48
	if len([]rune(t)) <= limit {
		return t
	}
	r := []rune(t)[:limit]
	cut := strings.LastIndexByte(string(r), ' ')
	if cut <= 0 {
		return string(r) + "…"
	}
	return string(r)[:cut] + "…"
}

func day(t time.Time) string {
	if t.IsZero() {
		return "an unknown date"
	}
	return t.UTC().Format("2 Jan 2006")
}

// dateOf writes a YYYY-MM-DD date for people; other text is returned as is.
func dateOf(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return t.Format("2 Jan 2006")
}

// postalRe matches "<postal code> <city>" (German, French, Dutch "1015 CJ",
// Austrian, Swiss …) or "<city> <5 digits>".
var (
	postalRe     = regexp.MustCompile(`^(\d{4}\s?[A-Za-z]{2}\b|\d{4,5})\s+(\p{L}[\p{L} .'-]*)$`)
	cityPostalRe = regexp.MustCompile(`^(\p{L}[\p{L} .'-]*?)\s+(\d{5})$`)
	countryRe    = regexp.MustCompile(`^[A-Za-z]{2}$`)
)

// parseAddress reads a delivery address written on one line or several:
// "Oranienstraße 7, 10997 Berlin[, DE]". The street part must hold a house
// number. It reports false for anything else.
func parseAddress(text string) (orders.Address, bool) {
	var parts []string
	for _, p := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == ';' }) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	for i := 1; i < len(parts); i++ {
		var a orders.Address
		if m := postalRe.FindStringSubmatch(parts[i]); m != nil {
			a.PostalCode, a.City = strings.ToUpper(m[1]), strings.TrimSpace(m[2])
		} else if m := cityPostalRe.FindStringSubmatch(parts[i]); m != nil {
			a.City, a.PostalCode = m[1], m[2]
		} else {
			continue
		}
		a.Line1 = parts[0]
		if i > 1 {
			a.Line2 = strings.Join(parts[1:i], ", ")
		}
		if !strings.ContainsAny(a.Line1, "0123456789") {
			return orders.Address{}, false
		}
		if i+1 < len(parts) && countryRe.MatchString(parts[i+1]) {
			a.Country = strings.ToUpper(parts[i+1])
		}
		return a, true
	}
	return orders.Address{}, false
}

// policyIntents are answered from the store's policy documents.
var policyIntents = map[string]bool{
	"check_refund_policy": true, "get_refund": true, "check_cancellation_fee": true, "delivery_options": true,
	"delivery_period": true, "check_payment_methods": true, "payment_issue": true, "check_invoice": true,
	"get_invoice": true, "create_account": true, "delete_account": true, "edit_account": true,
	"switch_account": true, "recover_password": true, "registration_problems": true,
	"newsletter_subscription": true, "set_up_shipping_address": true, "place_order": true,
}

// policyHints are words added to a policy question of each intent.
var policyHints = map[string]string{
	"check_refund_policy": "refund return", "get_refund": "refund return", "check_cancellation_fee": "cancel order fee",
	"delivery_options": "delivery options costs", "delivery_period": "delivery times", "place_order": "placing order", "check_payment_methods": "payment methods",
	"payment_issue": "payment problems declined", "check_invoice": "invoice", "get_invoice": "invoice",
	"create_account": "creating account sign up", "delete_account": "deleting account", "edit_account": "changing details",
	"switch_account": "switch accounts sign", "recover_password": "forgotten password", "registration_problems": "creating account sign up",
	"newsletter_subscription": "newsletter", "set_up_shipping_address": "delivery addresses",
}

// minPolicyScore is the BM25 score a passage needs to be quoted: below it
// the question shares only incidental words with the policies.
const minPolicyScore = 2.0

// policyWords mark a question about the store's policies that the intent
// model took for a product search ("do you have a warranty?").
var policyWords = map[string]bool{
	"warranty": true, "guarantee": true, "refund": true, "refunds": true, "returns": true, "return": true,
	"shipping": true, "delivery": true, "invoice": true, "vat": true, "privacy": true, "password": true,
	"account": true, "paypal": true, "klarna": true, "payment": true,
}

// policyQuestion reports whether a "product search" is really a policy
// question: policy words and no product, brand or filter.
func policyQuestion(sl intent.Slots) bool {
	if sl.Type != "" || sl.HasFilters() || len(sl.Terms) > 4 {
		return false
	}
	for _, t := range sl.Terms {
		if policyWords[t] {
			return true
		}
	}
	return false
}

// policyAnswer quotes the policy passage that answers the question, or
// falls back to the built-in short answer of the intent.
func (s *Server) policyAnswer(st *dialogState, label, text string) reply {
	st.Act = "policy"
	rep := reply{act: st.Act, text: serviceAnswers[label]}
	if rep.text == "" {
		rep.text = outOfScopeAnswer
	}
	if label == "payment_issue" || label == "registration_problems" {
		rep.suggestions = []string{suggestHuman}
	}
	if s.policy == nil {
		return rep
	}
	// The intent's words steer the search to the right section: the
	// model knows "how do I sign up" is about creating an account better
	// than word overlap does.
	ps := s.policy.Search(strings.TrimSpace(text+" "+policyHints[label]), 2)
	if len(ps) == 0 || ps[0].Score < minPolicyScore {
		return rep
	}
	top := ps[0]
	doc, heading, ok := strings.Cut(top.Title, " › ")
	intro := fmt.Sprintf("Here's what our policy says about %s:", strings.ToLower(top.Title))
	if ok {
		intro = fmt.Sprintf("Here's what our %s policy says about %s:", strings.ToLower(doc), strings.ToLower(heading))
	}
	rep.text = intro + "\n\n" + top.Text
	rep.passages = []policies.Passage{top}
	if len(ps) > 1 && ps[1].Score >= minPolicyScore {
		rep.passages = append(rep.passages, ps[1])
	}
	rep.grounded = true
	return rep
}

// handoffRequest puts the session in the queue for a person (complaints
// and "talk to a human") and tells the shopper what happens next.
func (s *Server) handoffRequest(st *dialogState, label, state string) reply {
	st.Act = "handoff"
	st.Pending = nil
	if state == StateHandoffPending {
		return reply{act: st.Act, text: "You're already in the queue — a person from our team will reply here as soon as they're free. Meanwhile I can still help with products and orders."}
	}
	text := "Of course — I've asked a person from our team to join this conversation. They'll reply right here, usually within a few minutes during opening hours (Monday to Friday, 8:00–18:00). Meanwhile I can still help with products and orders."
	if label == "complaint" {
		text = "I'm sorry about that. I've passed your conversation to a person from our team, who will reply right here — usually within a few minutes during opening hours (Monday to Friday, 8:00–18:00). You can add any details in the meantime; they'll see everything you write."
	}
	return reply{act: st.Act, text: text, handoff: StateHandoffPending}
}
