package chat

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/retrieval"
)

// Session metadata keys the chat keeps (sessions.Session.Meta).
const (
	metaDialog    = "dialog"     // dialogState as JSON
	metaHandoff   = "handoff"    // handoff state; absent means bot
	metaOperator  = "operator"   // the operator holding the session (state agent)
	metaHandoffAt = "handoff_at" // when the session started waiting for a person (RFC 3339)
	metaHandoffs  = "handoffs"   // how many times the session asked for a person
	metaLastText  = "last_text"  // the last turn's text, for the operator list
	metaLastRole  = "last_role"  // and who wrote it
	metaFeedback  = "fb:"        // + message id: feedbackRecord as JSON
	metaOriginal  = "orig:"      // + message id: a redacted turn's original, sealed (see originals.go)
)

// dialogState is what the assistant remembers of a conversation between
// turns, kept as JSON in the session's metadata.
type dialogState struct {
	// Need is the current product need as the shopper named it ("gaming
	// laptop"); Type its product type ("laptop").
	Need string `json:"need,omitempty"`
	Type string `json:"type,omitempty"`
	// Filters narrow the need; they are carried across turns until a new
	// need replaces them.
	Filters filters `json:"filters,omitzero"`
	// Results are the ids of the products shown last, in order, for "the
	// second one", "compare the first two" and "cheaper ones"; Page is the
	// page of the search they came from ("show more").
	Results []string `json:"results,omitempty"`
	Page    int      `json:"page,omitempty"`
	// Clarified is set once a clarifying question was asked for the need,
	// so the assistant asks at most one.
	Clarified bool `json:"clarified,omitempty"`
	// Pending is the question the assistant is waiting for an answer to.
	Pending *pending `json:"pending,omitempty"`
	// Order is the order number talked about last.
	Order string `json:"order,omitempty"`
	// Act names what the last turn did ("search", "refine", "clarify",
	// "detail", "compare", "more", "cheaper", "order:track", "policy", …).
	Act string `json:"act,omitempty"`
}

// filters are the constraints on the need, applied inside the search.
type filters struct {
	// MinPrice and MaxPrice are in minor units of the store's currency.
	MinPrice int64    `json:"min_price,omitempty"`
	MaxPrice int64    `json:"max_price,omitempty"`
	Brands   []string `json:"brands,omitempty"`
	// Colors, Sizes and Terms (modifiers such as "wireless" added by a
	// refinement) are search terms: retrieval.Filter has no colour or size
	// filter.
	Colors []string `json:"colors,omitempty"`
	Sizes  []string `json:"sizes,omitempty"`
	Terms  []string `json:"terms,omitempty"`
}

func (f filters) hasPrice() bool { return f.MinPrice > 0 || f.MaxPrice > 0 }

func (f filters) any() bool {
	return f.hasPrice() || len(f.Brands) > 0 || len(f.Colors) > 0 || len(f.Sizes) > 0 || len(f.Terms) > 0
}

// Pending question kinds.
const (
	pendingClarify     = "clarify"      // Field: budget or type
	pendingOrderNumber = "order_number" // Flow waits for an order number
	pendingConfirm     = "confirm"      // Flow (cancel, change_address) waits for yes or no
	pendingAddress     = "address"      // change_address waits for the new address
)

// pending is a question waiting for the shopper's answer.
type pending struct {
	Kind    string          `json:"kind"`
	Field   string          `json:"field,omitempty"`
	Flow    string          `json:"flow,omitempty"`
	Order   string          `json:"order,omitempty"`
	Address *orders.Address `json:"address,omitempty"`
	// Tries counts answers that did not fit; after maxTries the question is
	// dropped.
	Tries int `json:"tries,omitempty"`
}

// maxTries is how many unfitting answers a pending question survives.
const maxTries = 3

// loadDialog decodes the dialog state from session metadata; a missing or
// unreadable state is a fresh one.
func loadDialog(meta map[string]string) dialogState {
	var st dialogState
	if v := meta[metaDialog]; v != "" {
		if err := json.Unmarshal([]byte(v), &st); err != nil {
			return dialogState{}
		}
	}
	return st
}

func (st dialogState) encode() string {
	b, _ := json.Marshal(st) // plain data: cannot fail
	return string(b)
}

// newNeed replaces the product need and drops everything tied to the old
// one.
func (st *dialogState) newNeed(sl intent.Slots) {
	*st = dialogState{Need: strings.Join(sl.Terms, " "), Type: sl.Type, Order: st.Order}
}

// apply merges a message's slots into the filters: prices and brands
// replace the earlier ones ("only Lenovo"), unless the brands say they add
// ("also Dell"); colours and sizes replace; extra terms add. "any brand" and
// "any price" drop that filter.
func (f *filters) apply(sl intent.Slots) {
	if sl.AnyPrice {
		f.MinPrice, f.MaxPrice = 0, 0
	}
	if sl.MinPrice > 0 || sl.MaxPrice > 0 {
		f.MinPrice, f.MaxPrice = sl.MinPrice, sl.MaxPrice
	}
	if sl.AnyBrand {
		f.Brands = nil
	}
	if len(sl.Brands) > 0 {
		if sl.BrandsAdded {
			for _, b := range sl.Brands {
				if !slices.Contains(f.Brands, b) {
					f.Brands = append(f.Brands, b)
				}
			}
		} else {
			f.Brands = slices.Clone(sl.Brands)
		}
	}
	if sl.AnyColour {
		f.Colors = nil
	}
	if len(sl.Colors) > 0 {
		f.Colors = slices.Clone(sl.Colors)
	}
	if len(sl.Sizes) > 0 {
		f.Sizes = slices.Clone(sl.Sizes)
	}
}

// addTerms adds refinement words ("wireless ones") that are not already
// part of the need.
func (st *dialogState) addTerms(terms []string) {
	have := strings.Fields(st.Need)
	for _, t := range terms {
		if !slices.Contains(have, t) && !slices.Contains(st.Filters.Terms, t) {
			st.Filters.Terms = append(st.Filters.Terms, t)
		}
	}
}

// query is the search the state asks for.
func (st dialogState) query(k int) retrieval.Query {
	parts := []string{st.Need}
	parts = append(parts, st.Filters.Terms...)
	parts = append(parts, st.Filters.Sizes...)
	parts = append(parts, st.Filters.Colors...)
	return retrieval.Query{
		Text: strings.Join(parts, " "),
		K:    k,
		Filter: retrieval.Filter{
			MinPrice: st.Filters.MinPrice,
			MaxPrice: st.Filters.MaxPrice,
			Brands:   slices.Clone(st.Filters.Brands),
		},
	}
}

// isNewNeed decides whether a product-search message starts a new need
// (which resets the filters and results) or refines the current one:
//
//   - without a current need, any product words start one;
//   - a message without product words ("only Lenovo", "under 800", "any in
//     black?") refines;
//   - naming a product type other than the current one ("a printer" after
//     laptops) starts a new need; naming the same type refines;
//   - product words of no known type refine when the message reads as a
//     refinement ("wireless ones", "with bluetooth", "only the gaming
//     ones") and start a new need otherwise ("stapler").
func isNewNeed(st dialogState, sl intent.Slots, text string) bool {
	if len(sl.Terms) == 0 {
		return false
	}
	if st.Need == "" {
		return true
	}
	if sl.Type != "" {
		return sl.Type != st.Type || st.Type == ""
	}
	return !refinementCue.MatchString(strings.ToLower(text))
}

// refinementCue matches messages that narrow the current need.
var refinementCue = regexp.MustCompile(`^\s*(only|just|with|without|in|any|which|that|those|but|and|also|preferably|ideally|maybe|what about|how about|do you have any|are there any|is there one|something)\b|\b(ones?|them|those|these)\b`)

// followUp is a message acting on the last results.
type followUp struct {
	kind  string // "detail", "compare", "more", "cheaper", "pricier"
	items []int  // 1-based positions for detail and compare
}

var (
	moreRe    = regexp.MustCompile(`^\s*(please\s+)?((show|see|give|load|get)\s+(me\s+)?(some\s+)?)?(more|next|others|other ones|the rest)(\s+(results|options|products|ones|of them|of those|please))*\s*(please)?[.!?]*\s*$|^\s*(next page|any others|anything else|what else do you have|more like (this|these))[.!?]*\s*$`)
	cheaperRe = regexp.MustCompile(`\b(cheaper|less expensive|lower price[ds]?|more affordable|too expensive|too pricey|cheapest)\b`)
	pricierRe = regexp.MustCompile(`\b(more expensive|pricier|higher end|high[- ]end|premium|better quality)\b`)
	compareRe = regexp.MustCompile(`\b(compare|comparison|versus|vs\.?|difference|differences|which (one )?is better|side by side)\b`)
	ordinalRe = regexp.MustCompile(`\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|1st|2nd|3rd|[4-9]th|10th)\b|(?:#|\bnumber\s+|\bno\.?\s*|\bitem\s+|\boption\s+|\bresult\s+|\bproduct\s+)(\d{1,2})\b`)
	firstNRe  = regexp.MustCompile(`\b(first|top)\s+(two|three|four|2|3|4)\b`)
	bareIntRe = regexp.MustCompile(`^\s*#?(\d{1,2})[.!?]*\s*$`)
	numbersRe = regexp.MustCompile(`\b(\d{1,2})\b`)
)

var ordinalWords = map[string]int{
	"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
	"ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8,
	"9th": 9, "10th": 10, "two": 2, "three": 3, "four": 4,
}

// parseFollowUp recognises a follow-up on n shown results: "show more",
// "cheaper ones", "more expensive", "compare the first two", "the second
// one", "#3". Positions are 1-based; "last" is n. It reports false for
// anything else.
func parseFollowUp(text string, n int) (followUp, bool) {
	t := strings.ToLower(strings.TrimSpace(text))
	switch {
	case compareRe.MatchString(t):
		var items []int
		if m := firstNRe.FindStringSubmatch(t); m != nil {
			k := ordinalWords[m[2]]
			if k == 0 {
				k, _ = strconv.Atoi(m[2])
			}
			for i := 1; i <= k; i++ {
				items = append(items, i)
			}
		} else {
			items = ordinals(t, n)
			if len(items) < 2 {
				for _, m := range numbersRe.FindAllStringSubmatch(t, -1) {
					v, _ := strconv.Atoi(m[1])
					if v >= 1 && !slices.Contains(items, v) {
						items = append(items, v)
					}
				}
			}
		}
		if len(items) < 2 {
			items = []int{1, 2} // "compare them"
		}
		return followUp{kind: "compare", items: items}, true
	case moreRe.MatchString(t):
		return followUp{kind: "more"}, true
	case cheaperRe.MatchString(t):
		return followUp{kind: "cheaper"}, true
	case pricierRe.MatchString(t):
		return followUp{kind: "pricier"}, true
	}
	if items := ordinals(t, n); len(items) > 0 {
		return followUp{kind: "detail", items: items[:1]}, true
	}
	if m := bareIntRe.FindStringSubmatch(t); m != nil {
		v, _ := strconv.Atoi(m[1])
		if v >= 1 {
			return followUp{kind: "detail", items: []int{v}}, true
		}
	}
	return followUp{}, false
}

// ordinals returns the positions named in t, in order, without repeats.
func ordinals(t string, n int) []int {
	var out []int
	for _, m := range ordinalRe.FindAllStringSubmatch(t, -1) {
		v := 0
		switch {
		case m[1] == "last":
			v = n
		case m[1] != "":
			v = ordinalWords[m[1]]
		default:
			v, _ = strconv.Atoi(m[2])
		}
		if v >= 1 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// yesNo reads an answer to a yes/no question: 1 yes, -1 no, 0 neither.
// The confirming phrase of the action ("cancel it") counts as yes.
func yesNo(text string) int {
	t := strings.Trim(strings.ToLower(strings.TrimSpace(text)), ".!? ")
	words := strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == ',' || r == '.' || r == '!' })
	if len(words) == 0 {
		return 0
	}
	switch words[0] {
	case "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "correct", "confirm", "confirmed", "absolutely", "definitely", "please", "y":
		return 1
	case "no", "nope", "nah", "n", "don't", "dont", "stop", "wait":
		return -1
	}
	for _, p := range []string{"keep it", "never mind", "nevermind", "not now", "changed my mind", "leave it", "do not"} {
		if strings.Contains(t, p) {
			return -1
		}
	}
	for _, p := range []string{"go ahead", "do it", "cancel it", "please do", "change it", "that's right", "thats right", "sounds good"} {
		if strings.Contains(t, p) {
			return 1
		}
	}
	return 0
}

// ackRe matches messages that only acknowledge ("ok", "cool", "great").
var ackRe = regexp.MustCompile(`^\s*(ok|okay|k|cool|great|nice|alright|all right|fine|got it|i see|yes|yeah|no|nope|sure|hmm+|right)[.!?]*\s*$`)

// budgetChips writes three quick replies splitting prices (minor units,
// sorted) into thirds at round amounts, plus "Any price".
func budgetChips(prices []int64, currency string) []string {
	if len(prices) == 0 {
		return []string{"Any price"}
	}
	lo := roundPrice(prices[len(prices)/3])
	hi := roundPrice(prices[len(prices)*2/3])
	if hi <= lo {
		if prices[0] == prices[len(prices)-1] {
			return []string{"Under " + formatAmount(lo, currency), "Over " + formatAmount(lo, currency), "Any price"}
		}
		hi = nextRound(lo)
	}
	return []string{
		"Under " + formatAmount(lo, currency),
		formatAmount(lo, currency) + "–" + formatAmount(hi, currency),
		"Over " + formatAmount(hi, currency),
		"Any price",
	}
}

// roundPrice rounds minor units to a 1, 2 or 5 times a power of ten of
// whole currency units (at least 1).
func roundPrice(minor int64) int64 {
	units := float64(minor) / 100
	if units < 1 {
		return 100
	}
	p := 1.0
	for p*10 <= units {
		p *= 10
	}
	best := p
	for _, m := range []float64{1, 2, 5, 10} {
		if c := m * p; abs(c-units) < abs(best-units) {
			best = c
		}
	}
	return int64(best) * 100
}

// nextRound is the round amount after minor in the 1-2-5 series: €50 →
// €100, €100 → €200.
func nextRound(minor int64) int64 {
	p := int64(100)
	for p*10 <= minor {
		p *= 10
	}
	for _, m := range []int64{2, 5, 10} {
		if m*p > minor {
			return m * p
		}
	}
	return 10 * p
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// formatAmount writes minor units for people, without cents when they are
// zero: "€800", "€19.99".
func formatAmount(minor int64, currency string) string {
	units := float64(minor) / 100
	if minor%100 == 0 {
		s := FormatPrice(units, currency)
		return strings.Replace(s, ".00", "", 1)
	}
	return FormatPrice(units, currency)
}

// describeFilters writes the filters for an answer: " under €800 from
// Lenovo or DELL in black".
func describeFilters(f filters, currency string) string {
	var sb strings.Builder
	switch {
	case f.MinPrice > 0 && f.MaxPrice > 0:
		fmt.Fprintf(&sb, " between %s and %s", formatAmount(f.MinPrice, currency), formatAmount(f.MaxPrice, currency))
	case f.MaxPrice > 0:
		fmt.Fprintf(&sb, " under %s", formatAmount(f.MaxPrice, currency))
	case f.MinPrice > 0:
		fmt.Fprintf(&sb, " over %s", formatAmount(f.MinPrice, currency))
	}
	if len(f.Brands) > 0 {
		sb.WriteString(" from " + joinOr(f.Brands))
	}
	if len(f.Colors) > 0 {
		sb.WriteString(" in " + joinOr(f.Colors))
	}
	return sb.String()
}

// joinOr joins words with commas and a final "or".
func joinOr(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// needText is the need with its term filters, as the shopper would say it:
// "gaming laptop 15.6".
func (st dialogState) needText() string {
	parts := append([]string{st.Need}, st.Filters.Terms...)
	parts = append(parts, st.Filters.Sizes...)
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}
