package privacy

import (
	"strings"
	"unicode"
)

// A number run is a sequence of digit groups joined by short separators
// ("+44 (0)20 7946-0958", "4111 1111 1111 1111", "15.03.2024"). numbers
// reads each run once and classifies it, or its sub-runs, as a card, a
// phone number or nothing.

type group struct {
	start, end int    // the digits
	sep        string // the separator before the group ("" for the first)
	before     int    // digits in the groups before this one
}

type run struct {
	start  int // first byte: '+', '(' or a digit
	plus   bool
	lparen bool
	g      []group
}

func (rn *run) glen(k int) int { return rn.g[k].end - rn.g[k].start }

// ndigits is the number of digits in groups [s, e).
func (rn *run) ndigits(s, e int) int {
	return rn.g[e-1].before + rn.glen(e-1) - rn.g[s].before
}

// isSepChar reports the characters that may join two digit groups.
func isSepChar(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')'
}

// validSep accepts at most three separator characters with at most one
// dash, dot or slash, two spaces and one parenthesis of each kind.
func validSep(sep string) bool {
	var punct, spaces, open, closing int
	for i := 0; i < len(sep); i++ {
		switch sep[i] {
		case ' ':
			spaces++
		case '(':
			open++
		case ')':
			closing++
		default:
			punct++
		}
	}
	return punct <= 1 && spaces <= 2 && open <= 1 && closing <= 1
}

func isCurrency(r rune) bool { return unicode.Is(unicode.Sc, r) }

// numbers finds cards and phone numbers.
func (f *finder) numbers(cards, phones bool) {
	s := f.s
	var groups [24]group // enough for any run but pathological ones
	done := 0            // f.done[done] is the first span found earlier that ends after i
	for i := 0; i < len(s); {
		for done < len(f.done) && f.done[done].End <= i {
			done++
		}
		if done < len(f.done) && f.done[done].Start <= i {
			i = f.done[done].End
			continue
		}
		c := s[i]
		if (c == '+' || c == '(') && i+1 < len(s) && isDigit(s[i+1]) {
			// a run opening with '+' or '('
		} else if !isDigit(c) {
			i++
			continue
		}
		// A run glued to what comes before is skipped whole: "$ 1 234 567".
		bound := f.leftBoundary(i)
		rn, next := f.readRun(i, groups[:0])
		if bound != glued && len(rn.g) > 0 {
			f.classifyRun(&rn, cards, phones && bound == free)
		}
		if next <= i {
			next = i + 1
		}
		i = next
	}
}

// boundary says what a run may be, judged from what precedes it.
type boundary uint8

const (
	glued    boundary = iota // part of something else: nothing
	cardOnly                 // after '#': a card, never a phone number ("#0612345678" is a reference)
	free                     // anything
)

// leftBoundary judges the run starting at i: glued to a word ("WH-1000",
// "v1.2", "A2337"), to a number ("1,299", "14:30") or to a currency sign
// ("$ 1 234") it is nothing; after '#' only a card.
func (f *finder) leftBoundary(i int) boundary {
	r, size := f.runeSizeBefore(i)
	switch {
	case r == '#':
		return cardOnly
	case isAlnum(r) || isCurrency(r) || r == '+' || r == '@':
		return glued
	case strings.ContainsRune("-./,_'’:", r):
		rb := f.runeBefore(i - size)
		if r == ':' {
			if unicode.IsDigit(rb) {
				return glued
			}
			return free
		}
		if isAlnum(rb) {
			return glued
		}
	case r == ' ':
		j := i
		for j > 0 && f.s[j-1] == ' ' {
			j--
		}
		if isCurrency(f.runeBefore(j)) {
			return glued
		}
	}
	return free
}

// skipToken returns the end of the word-like token at i.
func (f *finder) skipToken(i int) int {
	s := f.s
	for i < len(s) && !isBlank(s[i]) && s[i] != '\n' && s[i] != '\r' {
		if _, ok := f.covered(i); ok {
			break
		}
		i++
	}
	return i
}

// readRun reads the run starting at i, appending its groups to g, and
// returns it and where scanning continues.
func (f *finder) readRun(i int, g []group) (run, int) {
	s := f.s
	limit := f.limit(i)
	rn := run{start: i, g: g}
	pos := i
	if s[pos] == '+' {
		rn.plus = true
		pos++
	} else if s[pos] == '(' {
		rn.lparen = true
		pos++
	}
	sep, before := "", 0
	for {
		gs := pos
		for pos < limit && isDigit(s[pos]) {
			pos++
		}
		rn.g = append(rn.g, group{start: gs, end: pos, sep: sep, before: before})
		before += pos - gs
		j := pos
		for j < limit && j-pos < 3 && isSepChar(s[j]) {
			j++
		}
		if j == pos || j >= limit || !isDigit(s[j]) || !validSep(s[pos:j]) {
			break
		}
		sep = s[pos:j]
		pos = j
	}
	end := rn.g[len(rn.g)-1].end
	// A last group glued to letters or continued by ',', ':' or '%' is part
	// of something else: a model number, a thousands-separated amount, a time.
	r := f.runeAt(end)
	glued := unicode.IsLetter(r) || r == '_' || r == '%' || r == '@'
	if !glued && (r == ',' || r == ':') && end+1 < limit && isDigit(s[end+1]) {
		glued = true
	}
	if glued {
		// Drop the group and skip the rest of its token ("1080p", "0%0"), as
		// a scan starting in that token would.
		rn.g = rn.g[:len(rn.g)-1]
		return rn, f.skipToken(end)
	}
	return rn, end
}

// classifyRun finds cards and phone numbers in a run. From each anchor
// (the start, or right after a match or a date) it takes the longest
// sub-run that is one; elsewhere only a card or a trunk-0 phone number (see
// classify). A run with a dot between groups is taken whole or not at all:
// dotted phone numbers are dotted throughout, while the parts of
// "255.255.255.0" or "10.0.19045.2965" are not phone numbers. Last, the
// groups before the first match (all of them when nothing matched) are a
// phone number when a phone word precedes the run.
//
// Redacting must not change what the rest of a run is, or redacting the
// output would find more: what follows a match is judged as a run after a
// replacement token (no context word seen), and the phone-word rule looks
// only at what stays one run once the matches are replaced.
func (f *finder) classifyRun(rn *run, cards, phones bool) {
	n := len(rn.g)
	ctx, runCtx := ctxUnknown, ctxUnknown
	anchored, dotted := true, false
	for k := 1; k < n; k++ {
		dotted = dotted || strings.IndexByte(rn.g[k].sep, '.') >= 0
	}
	var found [4]Span
	matches := found[:0]
	firstMatch, dateFirst := n, false
	for s := 0; s < n; {
		if s+3 <= n && rn.isDate(f.s, s) {
			dateFirst = dateFirst || s == 0
			s += 3
			anchored = true
			continue
		}
		matched := false
		// Each group has a digit, so at most 19 groups can make a match.
		for e := min(n, s+19); e > s; e-- {
			nd := rn.ndigits(s, e)
			if nd < 7 || nd > 19 || (dotted && (s > 0 || e < n)) {
				continue
			}
			// Away from an anchor only a card or one trunk-0 group can match.
			if !anchored && (e-s == 1 && nd < 10 || e-s > 1 && !rn.cardGroups(s, e)) {
				continue
			}
			if ctx == ctxUnknown {
				ctx = f.context(rn.start)
				runCtx = ctx
			}
			k := rn.classify(f.s, s, e, anchored, ctx, cards, phones)
			if k == 0 {
				continue
			}
			start := rn.g[s].start
			if s == 0 {
				start = rn.start
			} else if p := strings.IndexByte(rn.g[s].sep, '('); p >= 0 {
				start -= len(rn.g[s].sep) - p
			}
			matches = append(matches, Span{Kind: k, Start: start, End: rn.g[e-1].end})
			firstMatch = min(firstMatch, s)
			s, matched, anchored, ctx = e, true, true, ctxNone
			break
		}
		if !matched {
			s++
			anchored = false
		}
	}
	if phones && firstMatch > 0 && !dateFirst && (!dotted || firstMatch == n) {
		if nd := rn.ndigits(0, firstMatch); nd >= 7 && nd <= 15 && rn.phoneShape(0, firstMatch) {
			if runCtx == ctxUnknown {
				runCtx = f.context(rn.start)
			}
			if runCtx == ctxPhone || runCtx == ctxNumber {
				f.add(Span{Kind: KindPhone, Start: rn.start, End: rn.g[firstMatch-1].end})
			}
		}
	}
	for _, sp := range matches {
		f.add(sp)
	}
}

// isDate reports whether groups s, s+1, s+2 read as a date: d.m.y, m/d/y
// or y-m-d with one kind of separator.
func (rn *run) isDate(text string, s int) bool {
	sep := rn.g[s+1].sep
	if len(sep) != 1 || !strings.Contains("-./", sep) || rn.g[s+2].sep != sep {
		return false
	}
	a, b, c := rn.glen(s), rn.glen(s+1), rn.glen(s+2)
	switch {
	case a == 4 && b <= 2 && c <= 2: // 2024-03-15
		m, d := rn.val(text, s+1), rn.val(text, s+2)
		return m >= 1 && m <= 12 && d >= 1 && d <= 31
	case a <= 2 && b <= 2 && (c == 2 || c == 4): // 15.03.2024, 03/15/24
		x, y := rn.val(text, s), rn.val(text, s+1)
		return x >= 1 && y >= 1 && x <= 31 && y <= 31 && (x <= 12 || y <= 12)
	}
	return false
}

// val is group k's value (groups in a date have at most 4 digits).
func (rn *run) val(text string, k int) int {
	v := 0
	for i := rn.g[k].start; i < rn.g[k].end; i++ {
		v = v*10 + int(text[i]-'0')
	}
	return v
}

// classify decides what groups [s, e) are.
func (rn *run) classify(text string, s, e int, anchored bool, ctx ctxClass, cards, phones bool) Kind {
	var d [24]byte
	n := 0
	for k := s; k < e; k++ {
		n += copy(d[n:], text[rn.g[k].start:rn.g[k].end])
	}
	digits := d[:n]
	plus := s == 0 && rn.plus
	paren := e-s >= 2 && rn.glen(s) >= 2 && rn.glen(s) <= 5 &&
		((s == 0 && rn.lparen) || (s > 0 && strings.IndexByte(rn.g[s].sep, '(') >= 0)) &&
		strings.IndexByte(rn.g[s+1].sep, ')') >= 0
	// Away from an anchor, a grouped sub-run is only a card when the group
	// before it is not one more group of the same kind ("3331 2321 4616 6823
	// 6013" is not a card after a stray group, "2 4111 1111 1111 1111" is).
	grouped := e-s > 1
	cardAlone := anchored || !grouped || rn.glen(s-1) != 4 || rn.g[s].sep != rn.g[s+1].sep
	if cards && cardAlone && !plus && !paren && n >= 13 && n <= 19 && rn.cardGroups(s, e) && cardPrefix(digits) && luhn(digits) {
		bare := e-s == 1
		switch {
		case bare && ctx == ctxCode:
		case bare && n == 13 && ean13(digits) && ctx != ctxCard:
		default:
			return KindCard
		}
	}
	if !phones || n > 17 || ctx == ctxRef || ctx == ctxCode {
		return 0
	}
	if !rn.phoneShape(s, e) {
		return 0
	}
	switch {
	case plus:
		if n >= 8 && n <= 15 {
			return KindPhone
		}
		return 0
	case anchored && digits[0] == '0' && digits[1] == '0' && digits[2] != '0' && rn.glen(s) >= 3:
		if n-2 >= 8 && n-2 <= 15 {
			return KindPhone
		}
		return 0
	case paren:
		if n >= 7 && n <= 12 {
			return KindPhone
		}
		return 0
	case digits[0] == '0' && digits[1] != '0':
		if (!grouped && n >= 10 && n <= 11) || (anchored && grouped && rn.glen(s) >= 2 && n >= 9 && n <= 12) {
			return KindPhone
		}
	}
	if !anchored {
		return 0
	}
	if e-s == 4 && digits[0] == '1' && rn.glen(s) == 1 && rn.glen(s+1) == 3 && rn.glen(s+2) == 3 && rn.glen(s+3) == 4 {
		return KindPhone // 1-800-555-0199
	}
	if e-s >= 3 && n >= 9 && n <= 11 {
		short, long := true, false
		for k := s; k < e; k++ {
			short = short && rn.glen(k) >= 2
			long = long || rn.glen(k) >= 3
		}
		if short && long {
			return KindPhone // 555 123 4567, 612 34 56 78
		}
	}
	return 0
}

// phoneShape rejects groups [s, e) that cannot be a phone number however
// they are counted: dotted versions and IP addresses, prices in lists, and
// a short last group after a long one ("010-02563-00" is a part number).
func (rn *run) phoneShape(s, e int) bool {
	dotted, other := false, false
	for k := s + 1; k < e; k++ {
		if rn.g[k].sep == "." {
			dotted = true
		} else {
			other = true
		}
	}
	if dotted {
		if other {
			return false
		}
		allShort := true
		for k := s; k < e; k++ {
			if rn.glen(k) == 1 && (k > 0 || !rn.plus) {
				return false // 10.0.19045.2965, but +1.415.555.2671
			}
			allShort = allShort && rn.glen(k) <= 3
		}
		if allShort && e-s == 4 {
			return false // 172.16.254.100
		}
	}
	if e-s >= 2 && rn.glen(e-1) <= 2 && rn.glen(e-2) > 3 {
		return false
	}
	return true
}

// cardGroups accepts a bare number or groups (first of 4, others of 3–6
// digits) joined by one kind of separator: a space, a dash or a dot.
func (rn *run) cardGroups(s, e int) bool {
	if e-s == 1 {
		return true
	}
	if rn.glen(s) != 4 {
		return false
	}
	sep := rn.g[s+1].sep
	if sep != " " && sep != "-" && sep != "." {
		return false
	}
	for k := s + 1; k < e; k++ {
		if rn.g[k].sep != sep || rn.glen(k) < 3 || rn.glen(k) > 6 {
			return false
		}
	}
	return true
}
