package privacy

import (
	"slices"
	"sort"
	"strings"
)

// Kind is a kind of personal data the Redactor finds.
type Kind uint8

// Kinds of personal data, in priority order: when detectors would claim the
// same text, the earlier kind wins (it is detected first and later
// detectors skip text already claimed).
const (
	KindEmail Kind = iota + 1
	KindIBAN
	KindAddress
	KindCard
	KindPhone
	lastKind = KindPhone
)

var kindNames = [...]string{KindEmail: "email", KindIBAN: "iban", KindAddress: "address", KindCard: "card", KindPhone: "phone"}
var kindTokens = [...]string{KindEmail: "[email]", KindIBAN: "[iban]", KindAddress: "[address]", KindCard: "[card]", KindPhone: "[phone]"}

// String is the kind's lower-case name ("email", "iban", "address",
// "card", "phone"), usable as a metrics label.
func (k Kind) String() string {
	if k == 0 || k > lastKind {
		return "unknown"
	}
	return kindNames[k]
}

// Token is the text that replaces a span of this kind: "[" + name + "]".
func (k Kind) Token() string {
	if k == 0 || k > lastKind {
		return "[redacted]"
	}
	return kindTokens[k]
}

// Span is one piece of personal data found in a text: the bytes
// text[Start:End].
type Span struct {
	Kind       Kind
	Start, End int
}

// Redactor finds and replaces personal data. The zero value looks for every
// kind. A Redactor holds no mutable state and is safe for concurrent use.
type Redactor struct {
	mask uint8 // bit k set: kind k is skipped; zero: all kinds on
}

// NewRedactor returns a Redactor that looks only for the given kinds; with
// no kinds it looks for all of them.
func NewRedactor(kinds ...Kind) *Redactor {
	if len(kinds) == 0 {
		return &Redactor{}
	}
	var on uint8
	for _, k := range kinds {
		on |= 1 << k
	}
	return &Redactor{mask: ^on}
}

func (r *Redactor) on(k Kind) bool { return r.mask&(1<<k) == 0 }

var defaultRedactor Redactor

// Redact replaces every piece of personal data in text with its kind's
// token (see Redactor.Redact).
func Redact(text string) (string, []Span) { return defaultRedactor.Redact(text) }

// Redact returns text with each span of Find replaced by its Kind.Token,
// and the spans (offsets into text, not into the result). Text without
// personal data comes back unchanged and without allocation. Redacting the
// result again changes nothing.
func (r *Redactor) Redact(text string) (string, []Span) {
	spans, out := r.find(text)
	return out, spans
}

// Find returns the personal data in text as spans sorted by Start, never
// overlapping. Each detector makes one pass over the text, without
// backtracking, and Find returns at once when text has neither a digit nor
// an '@'. When it finds something, it looks again at the redacted text
// (a replacement token changes what surrounds it) and adds what that finds,
// until nothing new turns up, so that redacting the result finds nothing;
// in practice one more pass.
//
// What counts (heuristics; see the package documentation for the measured
// precision and recall):
//   - email: local@domain.tld with a letters-only TLD;
//   - iban: country code + check digits + BBAN of that country's length
//     (ISO 13616, single spaces or dashes allowed), mod-97 valid, any
//     letter case;
//   - card: 13–19 digits, contiguous or in groups (4-4-4-4, 4-6-5 …)
//     separated by single spaces, dashes or dots, with a known network prefix and
//     length, Luhn-valid; a bare number after a product or parcel word (EAN,
//     GTIN, IMEI, tracking …) and an EAN-13 that also passes Luhn are kept
//     unless a card word precedes them;
//   - phone: international (+CC or 00CC, 8–15 digits), national with a
//     trunk 0, "(area) …", grouped local numbers (3+ groups, 9–11 digits),
//     and any 7–15 digit number right after a phone word ("call", "tel",
//     "my number" …); dates, IP addresses, version strings, prices and
//     numbers glued to letters (model numbers) are kept, and so is any
//     number right after a reference word (order, invoice, tracking, SKU …);
//   - address: house number + street name + street suffix ("221B Baker
//     Street", "12 rue de la Paix"), street + house number ("Hauptstraße 5",
//     "Via Roma 12", "Kerkstraat 12"), with a following unit, postcode and
//     city when present.
//
// Order numbers ("order 12345", "#123456"), prices, quantities, dates and
// times are never returned.
func (r *Redactor) Find(text string) []Span {
	spans, _ := r.find(text)
	return spans
}

// find returns the spans of Find and the redacted text.
func (r *Redactor) find(text string) ([]Span, string) {
	spans := r.detect(text)
	if len(spans) == 0 {
		return nil, text
	}
	for {
		out := render(text, spans)
		more := r.detect(out)
		if len(more) == 0 {
			return spans, out
		}
		// Every new span lies outside the tokens, so each round covers more
		// of text and the loop ends.
		spans = mergeBack(spans, more)
	}
}

// render replaces each span of text with its kind's token.
func render(text string, spans []Span) string {
	var b strings.Builder
	n := len(text)
	for _, sp := range spans {
		n += len(sp.Kind.Token()) - (sp.End - sp.Start)
	}
	b.Grow(n)
	last := 0
	for _, sp := range spans {
		b.WriteString(text[last:sp.Start])
		b.WriteString(sp.Kind.Token())
		last = sp.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// mergeBack adds spans found in render(text, spans) to spans, in offsets of
// text. A new span that reaches into a token (none does today) absorbs the
// span behind that token.
func mergeBack(spans, more []Span) []Span {
	// toText maps an offset of the rendered text outside tokens (or at a
	// token's edge) to an offset of text.
	toText := func(o int, end bool) int {
		delta := 0 // text offset minus rendered offset before the next span
		for _, sp := range spans {
			tokStart := sp.Start - delta
			tokEnd := tokStart + len(sp.Kind.Token())
			switch {
			case o < tokStart || (end && o == tokStart):
				return o + delta
			case o < tokEnd || (end && o == tokEnd):
				if end {
					return sp.End
				}
				return sp.Start
			}
			delta += (sp.End - sp.Start) - len(sp.Kind.Token())
		}
		return o + delta
	}
	out := slices.Clone(spans)
	for _, m := range more {
		add := Span{Kind: m.Kind, Start: toText(m.Start, false), End: toText(m.End, true)}
		keep := out[:0]
		for _, sp := range out {
			if sp.End <= add.Start || sp.Start >= add.End {
				keep = append(keep, sp)
				continue
			}
			add.Kind = sp.Kind
			add.Start, add.End = min(add.Start, sp.Start), max(add.End, sp.End)
		}
		out = append(keep, add)
		slices.SortFunc(out, func(a, b Span) int { return a.Start - b.Start })
	}
	return out
}

// detect runs the detectors once.
func (r *Redactor) detect(text string) []Span {
	hasDigit, hasAt := false, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= '0' && c <= '9' {
			hasDigit = true
			if hasAt {
				break
			}
		} else if c == '@' {
			hasAt = true
			if hasDigit {
				break
			}
		}
	}
	if !hasDigit && !hasAt {
		return nil
	}
	f := finder{s: text}
	if hasAt && r.on(KindEmail) {
		f.emails()
		f.finish()
	}
	if hasDigit {
		if r.on(KindIBAN) {
			f.ibans()
			f.finish()
		}
		if r.on(KindAddress) {
			f.addresses()
			f.finish()
		}
		if r.on(KindCard) || r.on(KindPhone) {
			f.numbers(r.on(KindCard), r.on(KindPhone))
			f.finish()
		}
	}
	return f.done
}

// finder holds the spans found so far in s, sorted and disjoint: done from
// the detectors that have finished, cur from the running one (which finds
// them left to right, so appending keeps cur sorted; merging the two after
// each detector keeps the whole O(n log n) in the number of spans). Each
// detector skips text already claimed and treats a claimed span like the
// replacement token it becomes, so that the round over the redacted text
// rarely finds more.
type finder struct {
	s    string
	done []Span
	cur  []Span
}

// add records sp, which must start at or after the end of the running
// detector's previous span and overlap no span already found.
func (f *finder) add(sp Span) {
	if f.cur == nil {
		f.cur = make([]Span, 0, 4)
	}
	f.cur = append(f.cur, sp)
}

// finish merges the running detector's spans into done.
func (f *finder) finish() {
	switch {
	case len(f.cur) == 0:
	case len(f.done) == 0:
		f.done, f.cur = f.cur, nil
	default:
		f.done = append(f.done, f.cur...)
		slices.SortFunc(f.done, func(a, b Span) int { return a.Start - b.Start })
		f.cur = f.cur[:0]
	}
}

// spanAfter returns the first span of list ending after byte i.
func spanAfter(list []Span, i int) (Span, bool) {
	j := sort.Search(len(list), func(j int) bool { return list[j].End > i })
	if j < len(list) {
		return list[j], true
	}
	return Span{}, false
}

// covered reports whether byte i lies in a span found so far, and that
// span's end.
func (f *finder) covered(i int) (int, bool) {
	for _, list := range [2][]Span{f.done, f.cur} {
		if sp, ok := spanAfter(list, i); ok && sp.Start <= i {
			return sp.End, true
		}
	}
	return 0, false
}

// limit is the start of the first span found at or after i, or len(s).
func (f *finder) limit(i int) int {
	lim := len(f.s)
	for _, list := range [2][]Span{f.done, f.cur} {
		j := sort.Search(len(list), func(j int) bool { return list[j].Start >= i })
		if j < len(list) && list[j].Start < lim {
			lim = list[j].Start
		}
	}
	return lim
}

// free reports whether s[start:end] overlaps no span found so far.
func (f *finder) free(start, end int) bool {
	for _, list := range [2][]Span{f.done, f.cur} {
		if sp, ok := spanAfter(list, start); ok && sp.Start < end {
			return false
		}
	}
	return true
}
