package privacy

import (
	"strings"
	"unicode/utf8"
)

// Street addresses are found around house-number words, in the orders
// streets are written in:
//
//	number first:  221B Baker Street · 350 5th Avenue NW · 12 rue de la Paix
//	street first:  Hauptstraße 5 · Berliner Straße 10 · Am Hofgarten 9 ·
//	               Via del Corso 101 · Calle de Alcalá, 45 · Storgatan 5
//
// then extended over a unit ("Apt 4B"), a postcode and a city ("SW1A 2AA",
// "Springfield, IL 62704", "10115 Berlin", "1017 GC Amsterdam").

// wordSet is a set of lower-case words.
type wordSet map[string]bool

func newWordSet(words string) wordSet {
	set := wordSet{}
	for _, w := range splitFields(words) {
		set[w] = true
	}
	return set
}

func (ws wordSet) has(w []byte) bool { return ws[string(w)] }

var (
	// enSuffix: street-type words that end an English street name; true for
	// those unambiguous enough to accept a lower-case name ("12 baker street").
	enSuffix = map[string]bool{
		"street": true, "st": true, "road": true, "rd": true, "avenue": true, "ave": true, "lane": true,
		"ln": true, "boulevard": true, "blvd": true, "terrace": true, "crescent": true,
		"drive": false, "dr": false, "way": false, "court": false, "ct": false, "place": false, "pl": false,
		"close": false, "square": false, "sq": false, "highway": false, "hwy": false, "parkway": false,
		"pkwy": false, "circle": false, "cir": false, "grove": false, "gardens": false, "gdns": false,
		"mews": false, "row": false, "walk": false, "trail": false, "alley": false, "parade": false,
		"esplanade": false, "cres": false, "ter": false,
	}
	// enAbbrev: suffixes whose trailing dot belongs to the address ("St.").
	enAbbrev = newWordSet("st rd ave av blvd dr ln ct pl sq hwy pkwy cir cres ter gdns str avda")
	// nameStop: units and product words that cannot be part of a street
	// name ("1 TB External Drive", "980 Pro Drive").
	nameStop = newWordSet("gb tb mb kb inch inches in cm mm km kg mah hz pro max plus ultra mini lite air ssd " +
		"hdd usb usb-c port ports pack gen series edition flash hard external portable solid state disk thumb " +
		"pen wireless bluetooth hd uhd pcs pieces piece items item set sets days day hours hour minutes mins " +
		"min weeks week years year months month seconds times stars star pairs pair kids people users x")
	// functionWords end a lower-case street name ("5 minutes from Main
	// Street"); capitalised they may be part of one ("Old Kent Road").
	functionWords = newWordSet("the a an of from to on at by for and or my your our his her their its is are " +
		"was were with near off into onto than more less many much some any all few each every other another " +
		"same such only just very also too not no yes please pls thanks about around over under between after " +
		"before per via i we you he she they me us them it this that these those new old")
	// frType: French street types written after the number.
	frType = newWordSet("rue avenue av boulevard bd bld allée allee impasse chemin quai place cours route " +
		"passage square voie sentier esplanade promenade parvis")
	frBisTer = newWordSet("bis ter b")
	// connectors may sit inside a street name, never at its end.
	connectors = newWordSet("de del la las los el di della delle dei degli dello do da dos das du des le les " +
		"l' d' en sur sous aux au et y i e van der den het")
	// romanceType: street types written before the name, with the house
	// number after it; true when the word must be capitalised to count
	// ("Via Roma 12" but not "via DHL 2").
	romanceType = map[string]bool{
		"calle": false, "c/": false, "avenida": false, "avda": false, "av": true, "paseo": false,
		"plaza": true, "pza": false, "carrer": false, "rambla": true, "via": true, "viale": false,
		"piazza": false, "piazzale": false, "corso": true, "largo": true, "vicolo": false, "rua": false,
		"travessa": false, "praça": false, "praca": false, "estrada": true, "alameda": true, "ul": false,
		"ulica": false, "aleja": false, "al": true, "rue": true, "avenue": true, "boulevard": true,
		"chaussée": false, "strada": false, "calea": false, "laan": true,
	}
	// compoundSuffix: endings of one-word street names ("Hauptstraße",
	// "Kerkstraat", "Storgatan", "Strandvej").
	compoundSuffix = []string{"straße", "strasse", "str", "weg", "allee", "platz", "gasse", "straat", "laan",
		"gracht", "plein", "kade", "gatan", "gata", "vej", "vägen", "veien", "gade", "steenweg", "ufer", "damm", "katu"}
	// sepSuffix: street-type words written after a separate name
	// ("Berliner Straße 10", "Karl Johans gate 22").
	sepSuffix = newWordSet("straße strasse str allee weg platz gasse ring damm ufer gate gata gatan vej vei " +
		"veien gade straat laan plein kade")
	dePrep    = newWordSet("am im zum zur")
	dePrep2   = newWordSet("an auf in unter hinter vor zu")
	deArticle = newWordSet("der dem den die")
	// unitWords after a number show it is a quantity, not a house number
	// ("Via DHL 2 days", "Plaza Hotel 5 stars").
	unitWords = newWordSet("days day weeks week hours hour h minutes min mins years year months month items item " +
		"pcs pc pieces piece x times stars star gb tb mb inch inches cm mm kg g ml l w v hz euro euros eur usd " +
		"dollars pounds people persons kids pairs pack sets seasons")
	unitDesignator = newWordSet("apt apartment unit suite ste flat fl #")
	directions     = newWordSet("n s e w ne nw se sw n.e n.w s.e s.w")
)

// addresses finds street addresses around house-number words: words that
// start with a digit, so only those are looked at.
func (f *finder) addresses() {
	s := f.s
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || (i > 0 && !isBlank(s[i-1]) && s[i-1] != '\n' && s[i-1] != '\r') {
			continue
		}
		w, ok := f.wordAt(i)
		if !ok || w.stop || w.cs != w.start || !houseNumber(w.core(s)) {
			continue
		}
		if sp, ok := f.addressAt(w); ok {
			f.add(sp)
			i = sp.End - 1
		}
	}
}

// houseNumber accepts 1–5 digits with an optional letter ("221B", "3a"),
// ranges ("12-14") and unit/number ("3/12").
func houseNumber(w string) bool {
	d := 0
	for d < len(w) && isDigit(w[d]) {
		d++
	}
	switch {
	case d == 0 || d > 5:
		return false
	case d == len(w):
		return true
	case d+1 == len(w):
		return isASCIILetter(w[d])
	case (w[d] == '-' || w[d] == '/') && d <= 4:
		rest := w[d+1:]
		return len(rest) <= 4 && allDigits(rest)
	}
	return false
}

// addressAt tries the street-first and number-first shapes around the
// house number w and extends a match over a unit, postcode and city.
func (f *finder) addressAt(w word) (Span, bool) {
	start, end, last, ok := f.streetFirst(w)
	if !ok {
		start, end, last, ok = f.numberFirst(w)
	}
	if !ok || !f.free(start, end) {
		return Span{}, false
	}
	if tail := f.tail(end, last); tail > end && f.free(start, tail) {
		end = tail
	}
	return Span{Kind: KindAddress, Start: start, End: end}, true
}

// next returns the word after w when it is readable (not found text, no
// leading punctuation).
func (f *finder) next(w word) (word, bool) {
	n, ok := f.wordAt(w.end)
	if !ok || n.stop || n.cs != n.start {
		return word{}, false
	}
	return n, true
}

// prev returns the word before w when it is readable.
func (f *finder) prev(w word) (word, bool) {
	p, ok := f.wordBefore(w.start)
	if !ok || p.stop || p.cs != p.start {
		return word{}, false
	}
	return p, true
}

// isOrdinal accepts "1st", "42nd", "5th" (a street name in "350 5th Avenue").
func isOrdinal(w string) bool {
	d := 0
	for d < len(w) && isDigit(w[d]) {
		d++
	}
	if d == 0 || d > 3 || len(w) != d+2 {
		return false
	}
	suf := w[d:]
	return strings.EqualFold(suf, "st") || strings.EqualFold(suf, "nd") || strings.EqualFold(suf, "rd") || strings.EqualFold(suf, "th")
}

// numberFirst matches "12 rue de la Paix" and "221B Baker Street".
func (f *finder) numberFirst(num word) (start, end int, last word, ok bool) {
	s := f.s
	if num.ce != num.end {
		return 0, 0, word{}, false
	}
	var buf [32]byte
	n, ok := f.next(num)
	if !ok || !isNameWord(n.core(s)) && !isOrdinal(n.core(s)) {
		return 0, 0, word{}, false
	}
	// French: number [bis|ter] type name…
	t := n
	if frBisTer.has(lower(buf[:], t.core(s))) {
		if t, ok = f.next(t); !ok {
			return 0, 0, word{}, false
		}
	}
	if frType.has(lower(buf[:], t.core(s))) && t.ce == t.end {
		names, k := 0, t
		for range 6 {
			nw, ok := f.next(k)
			if !ok {
				break
			}
			c := nw.core(s)
			if !isNameWord(c) {
				break
			}
			if connectors.has(lower(buf[:], c)) {
				if nw.ce != nw.end {
					break
				}
				k = nw
				continue
			}
			if !startsUpper(c) {
				break
			}
			names++
			last, k = nw, nw
			if nw.ce != nw.end {
				break
			}
		}
		if names > 0 {
			return num.start, last.ce, last, true
		}
	}
	// English: number name… suffix
	names, lowerSeen, k := 0, false, num
	for range 5 {
		nw, ok := f.next(k)
		if !ok {
			break
		}
		c := nw.core(s)
		lc := lower(buf[:], c)
		if strong, isSuffix := enSuffix[string(lc)]; isSuffix && names > 0 {
			if (lowerSeen || !startsUpper(c)) && !strong {
				break
			}
			end := nw.ce
			if enAbbrev.has(lc) && end < nw.end && s[end] == '.' {
				end++
			}
			return num.start, end, nw, true
		}
		if !isOrdinal(c) {
			if !isNameWord(c) || nameStop.has(lc) {
				break
			}
			if !startsUpper(c) {
				if functionWords.has(lc) {
					break
				}
				lowerSeen = true
			}
		}
		if nw.ce != nw.end {
			break
		}
		names++
		k = nw
	}
	return 0, 0, word{}, false
}

// streetFirst matches a street name before the house number num.
func (f *finder) streetFirst(num word) (start, end int, last word, ok bool) {
	s := f.s
	var buf [32]byte
	p, ok := f.prev(num)
	if !ok || !isNameWord(p.core(s)) {
		return 0, 0, word{}, false // every shape has a name word right before the number
	}
	if n, ok := f.wordAt(num.end); ok && unitWords.has(lower(buf[:], n.core(s))) {
		return 0, 0, word{}, false
	}
	pc := p.core(s)
	pt := p.trail(s)
	lpc := lower(buf[:], pc)
	if isNameWord(pc) && (pt == "" || (pt == "." && hasSuffix(lpc, "str"))) {
		// Hauptstraße 5, Bahnhofstr. 12, Kerkstraat 12
		for _, suf := range compoundSuffix {
			if stem := len(lpc) - len(suf); stem > 0 && hasSuffix(lpc, suf) && utf8.RuneCount(lpc[:stem]) >= 3 {
				return p.start, num.ce, num, true
			}
		}
		// Berliner Straße 10, Karl Johans gate 22
		if sepSuffix.has(lpc) {
			first, k := -1, p
			for range 3 {
				q, ok := f.prev(k)
				if !ok || q.ce != q.end || !isNameWord(q.core(s)) || !startsUpper(q.core(s)) {
					break
				}
				first, k = q.start, q
			}
			if first >= 0 {
				return first, num.ce, num, true
			}
		}
	}
	// Am Hofgarten 9, An der Alster 12
	if pt == "" && isNameWord(pc) && startsUpper(pc) {
		k := p
		for range 2 {
			q, ok := f.prev(k)
			if !ok || q.ce != q.end {
				break
			}
			qc := q.core(s)
			lq := lower(buf[:], qc)
			if dePrep.has(lq) && startsUpper(qc) {
				return q.start, num.ce, num, true
			}
			if deArticle.has(lq) {
				if r, ok := f.prev(q); ok && r.ce == r.end && startsUpper(r.core(s)) && dePrep2.has(lower(buf[:], r.core(s))) {
					return r.start, num.ce, num, true
				}
				break
			}
			if !isNameWord(qc) || !startsUpper(qc) {
				break
			}
			k = q
		}
	}
	// Via Roma 12, Calle de Alcalá, 45, ul. Marszałkowska 10
	names, k := 0, num
	for i := range 6 {
		q, ok := f.prev(k)
		if !ok {
			break
		}
		qc := q.core(s)
		lq := lower(buf[:], qc)
		if capital, isType := romanceType[string(lq)]; isType && names > 0 && (!capital || startsUpper(qc)) {
			if t := q.trail(s); t != "" && t != "." {
				break
			}
			// "Sunset Boulevard DVD 1950": an ambiguous type after a
			// capitalised word is an English street name, not this shape.
			if capital {
				if b, ok := f.prev(q); ok && b.ce == b.end && isNameWord(b.core(s)) && startsUpper(b.core(s)) {
					break
				}
			}
			return q.start, num.ce, num, true
		}
		qt := q.trail(s)
		if qt != "" && !(i == 0 && qt == ",") {
			break
		}
		if !isNameWord(qc) {
			break
		}
		if !connectors.has(lq) {
			// Acronyms are product or carrier names ("Via DHL 2"), not streets.
			if !startsUpper(qc) || nameStop.has(lq) || (len(qc) >= 3 && allUpperASCII(qc)) {
				break
			}
			names++
		}
		k = q
	}
	return 0, 0, word{}, false
}

// tail returns the end of what follows the street ending at end (its last
// word last): a direction, a unit, a postcode with or without a city. It
// returns end when nothing follows.
func (f *finder) tail(end int, last word) int {
	s := f.s
	switch strings.TrimPrefix(s[end:last.end], ".") {
	case "", ",":
	default:
		return end
	}
	var buf [32]byte
	k := last
	// 1600 Pennsylvania Avenue NW
	if n, ok := f.next(k); ok && allUpperASCII(strings.ReplaceAll(n.core(s), ".", "")) && directions.has(lower(buf[:], n.core(s))) {
		if tr := n.trail(s); tr == "" || tr == "," {
			end, k = n.ce, n
		}
	}
	// 25 Maple Avenue, Apt 4B
	if n, ok := f.next(k); ok && unitDesignator.has(lower(buf[:], n.core(s))) {
		if m, ok := f.next(n); ok && len(m.core(s)) <= 5 && hasDigit(m.core(s)) {
			if tr := m.trail(s); tr == "" || tr == "," {
				end, k = m.ce, m
			}
		}
	}
	if tr := k.trail(s); tr != "" && tr != "," && tr != "." {
		return end
	}
	// 10115 Berlin, 1017 GC Amsterdam
	if n, ok := f.next(k); ok {
		if pe, pw, ok := f.postcode(n); ok {
			end = pe
			if pw.ce == pw.end {
				if c, ok := f.next(pw); ok && isNameWord(c.core(s)) && startsUpper(c.core(s)) {
					end = c.ce
				}
			}
			return end
		}
	}
	// London SW1A 2AA, Springfield, IL 62704
	city := 0
	for range 3 {
		n, ok := f.next(k)
		if !ok {
			break
		}
		if city > 0 && allUpperASCII(n.core(s)) && len(n.core(s)) <= 3 && n.ce > n.cs {
			if pe, _, ok := f.postcode(n); ok {
				return pe // Leeds LS6 1AA
			}
			if tr := n.trail(s); tr == "" || tr == "," {
				if m, ok := f.next(n); ok {
					if pe, _, ok := f.postcode(m); ok {
						return pe
					}
				}
			}
			break
		}
		if !isNameWord(n.core(s)) || !startsUpper(n.core(s)) {
			break
		}
		city++
		k = n
		if pe, _, ok := f.nextPostcode(k); ok {
			return pe
		}
		if tr := k.trail(s); tr != "" && tr != "," {
			break
		}
	}
	return end
}

// nextPostcode reads a postcode right after w (no punctuation after w).
func (f *finder) nextPostcode(w word) (int, word, bool) {
	if w.ce != w.end {
		return 0, word{}, false
	}
	n, ok := f.next(w)
	if !ok {
		return 0, word{}, false
	}
	return f.postcode(n)
}

// postcode reads a postcode starting with word w and returns its end and
// last word: 12345, 12345-6789, 1234, 1234 AB, 1100-053, 111 21, SW1A 1AA.
func (f *finder) postcode(w word) (int, word, bool) {
	s := f.s
	c := w.core(s)
	switch {
	case len(c) == 5 && allDigits(c),
		len(c) == 10 && allDigits(c[:5]) && c[5] == '-' && allDigits(c[6:]),
		len(c) == 8 && allDigits(c[:4]) && c[4] == '-' && allDigits(c[5:]):
		return w.ce, w, true
	case len(c) == 4 && allDigits(c):
		if w.ce == w.end {
			if n, ok := f.next(w); ok && len(n.core(s)) == 2 && allUpperASCII(n.core(s)) {
				return n.ce, n, true
			}
		}
		return w.ce, w, true
	case len(c) == 3 && allDigits(c) && w.ce == w.end:
		if n, ok := f.next(w); ok && len(n.core(s)) == 2 && allDigits(n.core(s)) {
			return n.ce, n, true
		}
	case ukOutward(c) && w.ce == w.end:
		if n, ok := f.next(w); ok && ukInward(n.core(s)) {
			return n.ce, n, true
		}
	}
	return 0, word{}, false
}

// ukOutward matches the first half of a UK postcode: A9, A99, AA9, AA99,
// A9A, AA9A.
func ukOutward(c string) bool {
	if len(c) < 2 || len(c) > 4 || !isUpper(c[0]) {
		return false
	}
	i := 1
	if isUpper(c[i]) {
		i++
	}
	if i >= len(c) || !isDigit(c[i]) {
		return false
	}
	i++
	if i < len(c) && (isDigit(c[i]) || isUpper(c[i])) {
		i++
	}
	return i == len(c)
}

// ukInward matches the second half of a UK postcode: 9AA.
func ukInward(c string) bool {
	return len(c) == 3 && isDigit(c[0]) && isUpper(c[1]) && isUpper(c[2])
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func hasSuffix(b []byte, suf string) bool {
	return len(b) >= len(suf) && string(b[len(b)-len(suf):]) == suf
}
