package intent

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Slots are the search constraints and product words of one shopper
// message, as found by SlotExtractor.Extract.
type Slots struct {
	// MinPrice and MaxPrice bound the price in minor units (the amount × 100)
	// of the store's currency; 0 means no bound. "under $800" → MaxPrice
	// 80000; "between 20 and 50 euros" → 2000 and 5000; "around 300" → 24000
	// to 36000 (±20%).
	MinPrice, MaxPrice int64
	// Currency is the ISO 4217 code the message named with a price ("USD"
	// for "$800"), empty when none. Prices are compared in the store's
	// currency regardless.
	Currency string
	// Brands are the catalogue's spellings of the brands named as wanted
	// ("Lenovo or Dell"), in order. A brand after "for", "fits" or
	// "compatible with" is what the product is for, not who makes it: it
	// stays in Terms. A brand after "not", "no", "except" or "without" is
	// dropped.
	Brands []string
	// BrandsAdded says the brands add to earlier ones ("also Dell", "Dell
	// too") rather than replace them ("only Lenovo").
	BrandsAdded bool
	// Colors are canonical colour names ("grey" for "gray"), as in
	// catalog.Product.Colors.
	Colors []string
	// Sizes are size terms as the product index tokenises them: inches as
	// the bare number ("15.6 inch", `27"`, "27in" → "15.6", "27"), other
	// units glued to the number ("2 TB" → "2tb", "500gb").
	Sizes []string
	// Terms are the remaining content words — the product need — lower
	// case, in order: no prices, sizes, colours, brands (unless "for
	// Brand"), recipients or filler words.
	Terms []string
	// Type is the canonical product type named in Terms ("laptop" for
	// "notebooks"); empty when no known type is named. Of several, the head
	// noun wins: the last one before "for"/"with" ("laptop bag" → "bag",
	// "ink for hp printers" → "ink").
	Type string
	// Generic marks a request for "something", "a gift" or a present "for
	// my dad" that names no product.
	Generic bool
	// AnyBrand, AnyPrice and AnyColour drop that filter: "any brand", "no
	// budget", "price doesn't matter", "any colour".
	AnyBrand, AnyPrice, AnyColour bool
	// NoPreference is a message that only says it does not mind: "doesn't
	// matter", "no preference", "anything", "whatever".
	NoPreference bool
	// Amount is set when the whole message is one amount ("800", "€800",
	// "800 euros"): in minor units. A budget answer, or an order number the
	// caller recognises as such.
	Amount int64
}

// HasFilters reports whether the message set any search filter: a price,
// brand, colour or size.
func (s Slots) HasFilters() bool {
	return s.MinPrice > 0 || s.MaxPrice > 0 || len(s.Brands) > 0 || len(s.Colors) > 0 || len(s.Sizes) > 0
}

// BroadType reports whether a product type is one where price and brand
// vary so much that a bare request ("a laptop") deserves a clarifying
// question before products are shown.
func BroadType(t string) bool { return broadTypes[t] }

// SlotExtractor finds slots in shopper messages. It knows the catalogue's
// brands; product types, colours and sizes come from built-in English
// lexicons. A nil *SlotExtractor extracts everything but brands. It is
// immutable and safe for concurrent use; Extract costs a few microseconds
// for a short message.
type SlotExtractor struct {
	// brands maps a brand's first token to its spellings as token
	// sequences, longest first.
	brands map[string][]brandForm
}

type brandForm struct {
	toks      []string
	canonical string
	// needsCap: the brand is also a common word ("Brother", "Sharp"), so
	// it counts only when the shopper capitalised it.
	needsCap bool
}

// NewSlotExtractor prepares an extractor for the catalogue's brand names
// (duplicates and empty names are ignored). Each brand is recognised
// case-insensitively as written ("TP-LINK", "tp link"), glued ("tplink"),
// and without corporate suffixes ("Kingston" for "Kingston Technology",
// "StarTech" for "StarTech.com"). Brands that are common English words are
// recognised only when capitalised.
func NewSlotExtractor(brands []string) *SlotExtractor {
	x := &SlotExtractor{brands: make(map[string][]brandForm)}
	seen := map[string]bool{}
	add := func(toks []string, canonical string) {
		key := strings.Join(toks, " ")
		if len(toks) == 0 || seen[key] {
			return
		}
		seen[key] = true
		f := brandForm{toks: toks, canonical: canonical}
		if len(toks) == 1 && (commonWords[toks[0]] || fillerWords[toks[0]] || typeOf[toks[0]] != "" || colours[toks[0]] != "") {
			f.needsCap = true
		}
		x.brands[toks[0]] = append(x.brands[toks[0]], f)
	}
	for _, b := range brands {
		b = strings.TrimSpace(b)
		toks := wordsOf(b)
		if len(toks) == 0 {
			continue
		}
		add(toks, b)
		short := toks
		for len(short) > 1 && corporateSuffix[short[len(short)-1]] {
			short = short[:len(short)-1]
		}
		if len(short) < len(toks) && len(strings.Join(short, "")) >= 3 {
			add(short, b)
		}
		if len(toks) > 1 {
			if g := strings.Join(toks, ""); len(g) >= 4 {
				add([]string{g}, b)
			}
		}
	}
	for k := range x.brands {
		slices.SortStableFunc(x.brands[k], func(a, b brandForm) int { return len(b.toks) - len(a.toks) })
	}
	return x
}

// wordsOf splits a name into lower-case letter/digit words.
func wordsOf(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// token kinds of the slot scanner.
const (
	tkWord = iota
	tkNumber
	tkSymbol
)

type token struct {
	kind int
	text string // lower case
	orig string
	num  float64 // tkNumber: the value
	used bool    // consumed by a slot
}

// scan splits text into words, numbers (with their decimal or thousands
// separators, and a "k" suffix: "1.5k") and the symbols that matter for
// prices and sizes ($ € £ < > - – + ~ " ″ #). Other punctuation separates
// tokens.
func scan(text string) []token {
	var toks []token
	rs := []rune(text)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			j := i + 1
			for j < len(rs) {
				c := rs[j]
				if unicode.IsLetter(c) || unicode.IsDigit(c) {
					j++
					continue
				}
				// Separators inside numbers, apostrophes inside words.
				if (c == '.' || c == ',') && j+1 < len(rs) && unicode.IsDigit(rs[j-1]) && unicode.IsDigit(rs[j+1]) {
					j++
					continue
				}
				if (c == '\'' || c == '’') && j+1 < len(rs) && unicode.IsLetter(rs[j-1]) && unicode.IsLetter(rs[j+1]) {
					j++
					continue
				}
				break
			}
			orig := string(rs[i:j])
			t := token{kind: tkWord, text: strings.ToLower(strings.ReplaceAll(orig, "’", "'")), orig: orig}
			if v, ok := parseNumber(t.text); ok {
				t.kind, t.num = tkNumber, v
			}
			toks = append(toks, t)
			i = j
		case strings.ContainsRune("$€£<>-–+~\"″#", r):
			s := string(r)
			if r == '–' {
				s = "-"
			}
			if r == '″' {
				s = `"`
			}
			// "<=" and ">=" read as "<" and ">".
			if (r == '<' || r == '>') && i+1 < len(rs) && rs[i+1] == '=' {
				i++
			}
			toks = append(toks, token{kind: tkSymbol, text: s, orig: string(r)})
			i++
		case r == '\'' && i+1 < len(rs) && rs[i+1] == '\'':
			toks = append(toks, token{kind: tkSymbol, text: `"`, orig: "''"})
			i += 2
		default:
			i++
		}
	}
	return toks
}

// parseNumber reads "800", "19.99", "19,99", "1,000", "1.299,00", "1k",
// "1.5k". A ',' followed by exactly three digits is a thousands separator,
// otherwise a decimal comma; with both '.' and ',' the last one is the
// decimal point. Numbers above maxNumber are not read.
func parseNumber(s string) (float64, bool) {
	mult := 1.0
	if strings.HasSuffix(s, "k") && len(s) > 1 {
		s, mult = s[:len(s)-1], 1000
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' && c != ',' {
			return 0, false
		}
	}
	lastDot, lastComma := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ',')
	switch {
	case lastDot >= 0 && lastComma >= 0:
		if lastComma > lastDot {
			s = strings.ReplaceAll(s, ".", "")
			s = strings.Replace(s, ",", ".", 1)
		} else {
			s = strings.ReplaceAll(s, ",", "")
		}
	case lastComma >= 0:
		if strings.Count(s, ",") > 1 || len(s)-lastComma-1 == 3 {
			s = strings.ReplaceAll(s, ",", "")
		} else {
			s = strings.Replace(s, ",", ".", 1)
		}
	case strings.Count(s, ".") > 1:
		s = strings.ReplaceAll(s, ".", "")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v*mult) > maxNumber {
		return 0, false
	}
	return v * mult, true
}

// maxNumber is the largest number parseNumber accepts: no price or size
// is larger, and its minor units (×120 for "around") stay far inside int64.
const maxNumber = 1e12

// Extract finds the slots of one message.
func (x *SlotExtractor) Extract(text string) Slots {
	var s Slots
	toks := scan(text)
	markPhrases(toks, &s)
	extractPrices(toks, &s)
	extractSizes(toks, &s)
	if x != nil {
		x.extractBrands(toks, &s)
	}
	extractRest(toks, &s)
	s.Amount = onlyAmount(toks)
	return s
}

// Phrases that drop a filter or say "no preference".
const (
	phraseAnyBrand = iota
	phraseAnyPrice
	phraseAnyColour
	phraseNoPreference
)

var phrases = func() []struct {
	words []string
	kind  int
} {
	var out []struct {
		words []string
		kind  int
	}
	for kind, list := range [][]string{
		phraseAnyBrand:     {"any brand", "all brands", "other brands", "no brand preference", "brand doesn't matter", "brand does not matter"},
		phraseAnyPrice:     {"any price", "no budget", "any budget", "no price limit", "price doesn't matter", "price does not matter", "budget doesn't matter"},
		phraseAnyColour:    {"any colour", "any color", "all colours", "all colors", "colour doesn't matter", "color doesn't matter"},
		phraseNoPreference: {"doesn't matter", "does not matter", "no preference", "don't mind", "don't care", "not sure", "whatever"},
	} {
		for _, p := range list {
			out = append(out, struct {
				words []string
				kind  int
			}{strings.Fields(p), kind})
		}
	}
	return out
}()

// markPhrases consumes the fixed phrases that drop a filter or say "no
// preference".
func markPhrases(toks []token, s *Slots) {
	for _, p := range phrases {
		for i := 0; i+len(p.words) <= len(toks); i++ {
			if !matchWords(toks[i:], p.words) {
				continue
			}
			consume(toks, i, i+len(p.words))
			switch p.kind {
			case phraseAnyBrand:
				s.AnyBrand = true
			case phraseAnyPrice:
				s.AnyPrice = true
			case phraseAnyColour:
				s.AnyColour = true
			default:
				s.NoPreference = true
			}
		}
	}
}

func matchWords(toks []token, words []string) bool {
	if len(toks) < len(words) {
		return false
	}
	for i, w := range words {
		if toks[i].used || toks[i].text != w {
			return false
		}
	}
	return true
}

// currencyOf names the currency a token stands for, or "".
func currencyOf(t token) string {
	switch t.text {
	case "$", "usd", "dollar", "dollars", "bucks":
		return "USD"
	case "€", "eur", "euro", "euros":
		return "EUR"
	case "£", "gbp", "pound", "pounds", "quid":
		return "GBP"
	}
	return ""
}

// amount is a price read at some position: [currency] number [currency].
type amount struct {
	value    float64
	currency string
	start    int // first token
	end      int // one past the last token
}

// readAmount reads an amount starting at toks[i]. A number followed by a
// unit ("15 inch", "2 tb") or glued to letters is not an amount.
func readAmount(toks []token, i int) (amount, bool) {
	a := amount{start: i}
	if i < len(toks) && !toks[i].used && currencyOf(toks[i]) != "" && toks[i].kind != tkNumber {
		a.currency = currencyOf(toks[i])
		i++
	}
	if i >= len(toks) || toks[i].used || toks[i].kind != tkNumber {
		return amount{}, false
	}
	a.value = toks[i].num
	i++
	if i < len(toks) && !toks[i].used {
		if c := currencyOf(toks[i]); c != "" {
			if a.currency == "" {
				a.currency = c
			}
			i++
		} else if unitOf(toks[i].text) != "" || toks[i].text == `"` {
			return amount{}, false
		}
	}
	// "euros"/"dollars" may follow a size-like word: "50 euro notes" is
	// still fifty euros, so nothing more is checked.
	a.end = i
	return a, true
}

func (a amount) minor() int64 { return int64(math.Round(a.value * 100)) }

// priceCues are the words before an amount that bound the price.
var (
	maxCues = [][]string{
		{"less", "than"}, {"cheaper", "than"}, {"lower", "than"}, {"no", "more", "than"}, {"not", "more", "than"},
		{"not", "over"}, {"up", "to"}, {"at", "most"}, {"under"}, {"below"}, {"max"}, {"maximum"}, {"upto"},
		{"within"}, {"<"}, {"budget", "of"}, {"budget", "is"}, {"budget"}, {"for"}, {"beneath"},
	}
	minCues = [][]string{
		{"more", "than"}, {"at", "least"}, {"starting", "at"}, {"starting", "from"}, {"upwards", "of"},
		{"over"}, {"above"}, {"min"}, {"minimum"}, {">"}, {"from"},
	}
	aroundCues = [][]string{{"around"}, {"about"}, {"approximately"}, {"roughly"}, {"circa"}, {"ca"}, {"~"}}
	maxPosts   = [][]string{{"or", "less"}, {"or", "under"}, {"or", "below"}, {"and", "under"}, {"and", "below"}, {"max"}, {"tops"}, {"maximum"}}
	minPosts   = [][]string{{"or", "more"}, {"and", "up"}, {"and", "above"}, {"and", "over"}, {"plus"}, {"+"}}
	rangeJoin  = [][]string{{"and"}, {"to"}, {"-"}}
)

// cueAt returns the length of the first cue matching at toks[i], or 0.
func cueAt(toks []token, i int, cues [][]string) int {
	for _, c := range cues {
		if matchWords(toks[i:], c) {
			return len(c)
		}
	}
	return 0
}

func consume(toks []token, from, to int) {
	for k := from; k < to; k++ {
		toks[k].used = true
	}
}

// extractPrices finds price ranges and bounds.
func extractPrices(toks []token, s *Slots) {
	setCur := func(c string) {
		if s.Currency == "" {
			s.Currency = c
		}
	}
	for i := 0; i < len(toks); i++ {
		if toks[i].used {
			continue
		}
		// A range: [between|from] A (and|to|-) B.
		lead := 0
		if matchWords(toks[i:], []string{"between"}) || matchWords(toks[i:], []string{"from"}) {
			lead = 1
		}
		if a, ok := readAmount(toks, i+lead); ok {
			if j := cueAt(toks, a.end, rangeJoin); j > 0 {
				if b, ok := readAmount(toks, a.end+j); ok && b.value >= a.value && (lead == 1 || toks[a.end].text != "and") {
					// "20 and 50" needs "between"; "20-50" and "20 to 50" do not.
					s.MinPrice, s.MaxPrice = a.minor(), b.minor()
					setCur(a.currency)
					setCur(b.currency)
					consume(toks, i, b.end)
					i = b.end - 1
					continue
				}
			}
		}
		// A cue before an amount.
		for _, c := range []struct {
			cues [][]string
			set  func(amount)
		}{
			{maxCues, func(a amount) { s.MaxPrice = a.minor() }},
			{minCues, func(a amount) { s.MinPrice = a.minor() }},
			{aroundCues, func(a amount) {
				s.MinPrice, s.MaxPrice = int64(math.Round(a.value*80)), int64(math.Round(a.value*120))
			}},
		} {
			n := cueAt(toks, i, c.cues)
			if n == 0 {
				continue
			}
			a, ok := readAmount(toks, i+n)
			// "for 500" alone could be anything ("for 2 people"); "for
			// €500" is a budget.
			if !ok || (toks[i].text == "for" && a.currency == "") {
				continue
			}
			c.set(a)
			setCur(a.currency)
			consume(toks, i, a.end)
			i = a.end - 1
			break
		}
		if toks[i].used {
			continue
		}
		// An amount with a cue after it, or with a currency and no cue (a
		// budget: "a €500 laptop").
		a, ok := readAmount(toks, i)
		if !ok {
			continue
		}
		if n := cueAt(toks, a.end, maxPosts); n > 0 {
			s.MaxPrice = a.minor()
			consume(toks, i, a.end+n)
		} else if n := cueAt(toks, a.end, minPosts); n > 0 {
			s.MinPrice = a.minor()
			consume(toks, i, a.end+n)
		} else if a.currency != "" {
			s.MaxPrice = a.minor()
			consume(toks, i, a.end)
		} else {
			continue
		}
		setCur(a.currency)
		i = a.end - 1
	}
}

// unitOf names the size unit a word stands for, or "".
func unitOf(w string) string {
	switch w {
	case "inch", "inches", "in", "zoll":
		return "in"
	case "tb", "gb", "mb", "cm", "mm", "mah", "hz", "kg", "ml", "dpi", "ppm":
		return w
	case "w", "watt", "watts":
		return "w"
	case "v", "volt", "volts":
		return "v"
	}
	return ""
}

// sizeTerm writes a size as the index tokenises it.
func sizeTerm(num, unit string) string {
	if unit == "in" {
		return num
	}
	return num + unit
}

// extractSizes finds "15.6 inch", `27"`, "27in", "2 TB", "500gb".
func extractSizes(toks []token, s *Slots) {
	for i := range toks {
		t := &toks[i]
		if t.used {
			continue
		}
		if t.kind == tkNumber && !strings.ContainsAny(t.text, ",k") && i+1 < len(toks) && !toks[i+1].used {
			u := unitOf(toks[i+1].text)
			if toks[i+1].text == `"` {
				u = "in"
			}
			// "15 in black": "in" before a colour or a word is a preposition
			// unless the number looks like a screen size.
			if u == "in" && toks[i+1].text == "in" && (t.num < 5 || t.num > 100) {
				u = ""
			}
			if u != "" {
				s.Sizes = append(s.Sizes, sizeTerm(t.text, u))
				t.used, toks[i+1].used = true, true
				continue
			}
		}
		if t.kind == tkWord {
			num, unit := splitNumberUnit(t.text)
			if u := unitOf(unit); num != "" && u != "" {
				s.Sizes = append(s.Sizes, sizeTerm(num, u))
				t.used = true
			}
		}
	}
}

// splitNumberUnit splits "27in" into "27" and "in", "15.6inch" into "15.6"
// and "inch"; other words give "", "".
func splitNumberUnit(w string) (string, string) {
	i := 0
	for i < len(w) && (w[i] >= '0' && w[i] <= '9' || (w[i] == '.' && i > 0)) {
		i++
	}
	if i == 0 || i == len(w) || w[i-1] == '.' {
		return "", ""
	}
	for _, c := range w[i:] {
		if c < 'a' || c > 'z' {
			return "", ""
		}
	}
	return w[:i], w[i:]
}

// extractBrands finds the catalogue's brands.
func (x *SlotExtractor) extractBrands(toks []token, s *Slots) {
	for i := 0; i < len(toks); i++ {
		if toks[i].used || toks[i].kind == tkSymbol {
			continue
		}
		forms := x.brands[toks[i].text]
		var hit *brandForm
		for k := range forms {
			f := &forms[k]
			if !matchWords(toks[i:], f.toks) {
				continue
			}
			if f.needsCap && !unicode.IsUpper([]rune(toks[i].orig)[0]) {
				continue
			}
			hit = f
			break
		}
		if hit == nil {
			continue
		}
		end := i + len(hit.toks)
		prev := prevWord(toks, i)
		switch prev {
		case "for", "fits", "with", "compatible":
			// What the product is for: a search term, not a filter.
			i = end - 1
			continue
		case "not", "no", "except", "without":
			consume(toks, i, end)
			i = end - 1
			continue
		case "also", "and", "plus":
			if prev != "and" || firstWord(toks) == i-1 {
				s.BrandsAdded = true
			}
		}
		if next := nextWord(toks, end); next == "too" || next == "also" {
			s.BrandsAdded = true
			consume(toks, end, end+1)
		}
		if !slices.Contains(s.Brands, hit.canonical) {
			s.Brands = append(s.Brands, hit.canonical)
		}
		consume(toks, i, end)
		i = end - 1
	}
}

// prevWord is the text of the word token before i, skipping determiners
// ("for my Brother printer" → "for"), or "".
func prevWord(toks []token, i int) string {
	for i--; i >= 0 && toks[i].kind != tkSymbol; i-- {
		if !determiners[toks[i].text] {
			return toks[i].text
		}
	}
	return ""
}

var determiners = set("a an the my your our his her their its this that these those")

func nextWord(toks []token, i int) string {
	if i < len(toks) && toks[i].kind != tkSymbol {
		return toks[i].text
	}
	return ""
}

func firstWord(toks []token) int {
	for i, t := range toks {
		if t.kind != tkSymbol {
			return i
		}
	}
	return -1
}

// extractRest takes colours, recipients and gift words, product types and
// the remaining content terms.
func extractRest(toks []token, s *Slots) {
	typeIdx := -1 // token index of the chosen type
	prepAt := -1  // first "for"/"with" after a type
	for i := 0; i < len(toks); i++ {
		t := &toks[i]
		if t.used || t.kind == tkSymbol {
			continue
		}
		if c := colours[t.text]; c != "" {
			if !slices.Contains(s.Colors, c) {
				s.Colors = append(s.Colors, c)
			}
			t.used = true
			continue
		}
		// A recipient before a product type is a modifier: "brother printer".
		if giftWords[t.text] || (recipients[t.text] && !(i+1 < len(toks) && typeOf[toks[i+1].text] != "")) {
			s.Generic = true
			t.used = true
			continue
		}
		if (t.text == "for" || t.text == "with" || t.text == "compatible") && typeIdx >= 0 && prepAt < 0 {
			prepAt = i
		}
		// Types of two words first ("hard drive"), then one.
		if i+1 < len(toks) && !toks[i+1].used {
			if ty := typeOf[t.text+" "+toks[i+1].text]; ty != "" {
				if prepAt < 0 {
					s.Type, typeIdx = ty, i
				}
				s.Terms = append(s.Terms, t.text, toks[i+1].text)
				t.used, toks[i+1].used = true, true
				i++
				continue
			}
		}
		if ty := typeOf[t.text]; ty != "" {
			if prepAt < 0 {
				s.Type, typeIdx = ty, i
			}
			s.Terms = append(s.Terms, t.text)
			t.used = true
			continue
		}
		if fillerWords[t.text] || t.text == "any" || t.text == "anything" {
			continue
		}
		s.Terms = append(s.Terms, t.text)
		t.used = true
	}
	// "anything" alone, or "any" alone, is no preference.
	if len(s.Terms) == 0 && !s.HasFilters() && !s.Generic {
		for _, t := range toks {
			if !t.used && (t.text == "anything" || t.text == "any") {
				s.NoPreference = true
			}
		}
	}
	if len(s.Terms) > 0 {
		s.Generic = false // a named product is no longer a vague request
	}
}

// onlyAmount returns the amount in minor units when the message is one
// number, with or without a currency, and nothing else but filler words.
func onlyAmount(toks []token) int64 {
	var rest []token
	for _, t := range toks {
		if t.kind == tkWord && fillerWords[t.text] {
			continue
		}
		t.used = false
		rest = append(rest, t)
	}
	a, ok := readAmount(rest, 0)
	if !ok || a.end != len(rest) {
		return 0
	}
	return a.minor()
}

// broadTypes are product types where a bare request deserves a question.
var broadTypes = map[string]bool{
	"laptop": true, "desktop": true, "tablet": true, "phone": true, "tv": true, "monitor": true,
	"camera": true, "printer": true, "projector": true, "server": true,
}

// typeOf maps product-type words (one or two words, singular and plural)
// to a canonical type. Each entry lists single words, then "|"-separated
// two-word phrases.
var typeOf = func() map[string]string {
	m := map[string]string{}
	for canonical, forms := range map[string]string{
		"laptop":     "laptop laptops notebook notebooks ultrabook ultrabooks macbook macbooks chromebook chromebooks",
		"desktop":    "desktop desktops pc pcs computer computers|desktop pc|desktop computer",
		"tablet":     "tablet tablets ipad ipads",
		"phone":      "phone phones smartphone smartphones iphone iphones|mobile phone|cell phone",
		"tv":         "tv tvs television televisions",
		"monitor":    "monitor monitors display displays|computer monitor",
		"camera":     "camera cameras camcorder camcorders",
		"webcam":     "webcam webcams",
		"printer":    "printer printers|laser printer|inkjet printer",
		"scanner":    "scanner scanners",
		"projector":  "projector projectors",
		"headphones": "headphone headphones headset headsets earphone earphones earbud earbuds",
		"speaker":    "speaker speakers soundbar soundbars",
		"mouse":      "mouse mice",
		"keyboard":   "keyboard keyboards",
		"router":     "router routers",
		"cable":      "cable cables cord cords",
		"adapter":    "adapter adapters adaptor adaptors converter converters",
		"charger":    "charger chargers|power bank|power supply",
		"battery":    "battery batteries",
		"bag":        "bag bags case cases backpack backpacks sleeve sleeves",
		"toner":      "toner toners",
		"ink":        "ink inks cartridge cartridges",
		"paper":      "paper",
		"labels":     "label labels",
		"storage":    "ssd ssds hdd hdds|hard drive|hard drives|hard disk|external drive",
		"memory":     "ram|memory module|memory card|sd card|usb stick|flash drive",
		"ups":        "ups",
		"server":     "server servers",
		"processor":  "processor processors cpu cpus",
		"gpu":        "gpu gpus|graphics card|graphics cards|video card",
		"stand":      "stand stands mount mounts",
		"lock":       "lock locks",
		"microphone": "microphone microphones mic mics",
		"watch":      "watch watches smartwatch smartwatches",
		"console":    "console consoles",
		"toy":        "toy toys doll dolls",
		"shredder":   "shredder shredders",
		"calculator": "calculator calculators",
		"switch":     "|network switch|ethernet switch",
	} {
		groups := strings.Split(forms, "|")
		for _, w := range strings.Fields(groups[0]) {
			m[w] = canonical
		}
		for _, phrase := range groups[1:] {
			m[phrase] = canonical
		}
	}
	return m
}()

// colours maps colour words to catalog.Product.Colors values.
var colours = map[string]string{
	"black": "black", "white": "white", "grey": "grey", "gray": "grey", "silver": "silver", "blue": "blue",
	"navy": "blue", "red": "red", "green": "green", "yellow": "yellow", "pink": "pink", "purple": "purple",
	"orange": "orange", "gold": "gold", "golden": "gold", "brown": "brown", "beige": "beige",
	"transparent": "transparent", "turquoise": "turquoise", "magenta": "magenta", "cyan": "cyan",
}

// giftWords and recipients mark a request for a present.
var (
	giftWords = set("something gift gifts present presents idea ideas birthday christmas xmas")
	// "brother" the recipient: the brand Brother needs a capital letter.
	recipients = set(`dad father mum mom mother parents son daughter kid kids child children wife husband girlfriend
boyfriend friend friends grandma grandpa grandmother grandfather granddad grandson granddaughter sister brother
colleague colleagues boss teacher nephew niece uncle aunt partner teenager teen him her`)
)

// fillerWords carry nothing for product search: function words, shopping
// verbs, follow-up words ("cheaper ones", "the second one") and price
// words.
var fillerWords = set(`a an the some one ones i i'm im me my mine we our us you your yours he she it its they them
their this that these those there here what which who how why when where whats what's is are was were be been am
do does did doesn't don't have has had got get getting can could would should will shall may might must want wants
wanted need needs needed looking look looks search searching find finding show showing shown see give buy buying
purchase order like love prefer please pls thanks thank ok okay yes no yeah yep nope hi hello hey maybe perhaps
really very quite so too also just only else other others another more less most least cheaper cheap cheapest
inexpensive affordable expensive pricier priciest good better best great nice top decent new item items product
products option options result results stuff thing things kind type sort with without of on in at by from to into
for and or but not than then about around between under over below above up down off out within per each both all
price prices priced pricing cost costs costing budget range euro euros eur dollar dollars usd pound pounds gbp
bucks brand brands make color colour colors colours size sizes compare comparison versus vs difference first
second third fourth fifth sixth seventh eighth ninth tenth last 1st 2nd 3rd 4th 5th two three four number no. tell
details detail info information available stock sell selling offer offers recommend suggest suggestion now today
fine works`)

// commonWords are everyday words some brands are named after; such a brand
// counts only when capitalised ("Brother", "Sharp", "Equip").
var commonWords = set(`act apple bush brother case chief compact equip fellow fire genius jumbo logic mark matrix
monster nest origin pioneer rapid sharp shark smart swan trust ultimate vision wolf zebra gear leader target
sound power energy star united`)

// corporateSuffix words are dropped from a brand for its short form.
var corporateSuffix = set("com inc ltd llc gmbh ag co corp corporation technology technologies international group")

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
