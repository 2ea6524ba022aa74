package llm

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Names recognises products of the whole catalogue in free text.
// ProductsMentioned returns the ids of the products whose distinctive name
// or model code appears in text (for example by brand plus model name, or
// a model code such as "WH-1000XM4"). It must be safe for concurrent use.
type Names interface {
	ProductsMentioned(text string) []string
}

// priceTolerance is how far a stated price may be from a known one.
const priceTolerance = 0.01

// CheckGrounded reports whether answer talks only about what req gave it. It
// returns nil, or an error wrapping ErrUngrounded that says what was wrong,
// when the answer:
//
//   - cites an id in square brackets ("[123]", not a Markdown link) that is
//     not the id of a product in req.Products;
//   - names a catalogue product that is not in req.Products: with known, a
//     product id known.ProductsMentioned finds in the answer; without it, a
//     model-code-like token (letters and digits, at least 3 of them, such as
//     "LC51C" or "WH-1000XM4") that occurs in no retrieved product's id,
//     title, model name, brand or attributes. A number followed by letters
//     is a quantity, not a code ("2TB", "15.6-inch", "30-day", "1080p",
//     "3rd", "16Go"), and so are dimensions ("1920x1080"), common technical
//     terms ("USB3", "MP3", "DDR5", "IP68", "802.11ax") and links;
//   - states a price ("€49.99", "$1,299", "49,99 EUR", "12 euros") that is
//     not within 0.01 of a retrieved product's price.
//
// What the shopper wrote (the question and the shopper's earlier turns) and
// the policy passages are accepted as sources too, so the answer may repeat
// an order number, a budget ("under $800") or a fee stated in a policy, and
// may say that a product the shopper named was not found.
func CheckGrounded(answer string, req Request, known Names) error {
	ids := make(map[string]bool, len(req.Products))
	for _, p := range req.Products {
		ids[p.ID] = true
	}
	var said []string // what the shopper wrote
	said = append(said, req.Question)
	for _, m := range req.History {
		if m.Role == "shopper" {
			said = append(said, m.Text)
		}
	}
	var policies []string
	for _, p := range req.Policies {
		policies = append(policies, p.Title, p.Text)
	}
	saidText := strings.Join(said, "\n")

	for _, m := range citationRE.FindAllStringSubmatchIndex(answer, -1) {
		if m[1] < len(answer) && answer[m[1]] == '(' {
			continue // Markdown link text, not a citation
		}
		id := answer[m[2]:m[3]]
		if !ids[id] && !containsWord(saidText, id) {
			return fmt.Errorf("%w: cites [%s], which is not a retrieved product", ErrUngrounded, id)
		}
	}

	if known != nil {
		shopperNamed := make(map[string]bool)
		for _, id := range known.ProductsMentioned(saidText) {
			shopperNamed[id] = true
		}
		for _, id := range known.ProductsMentioned(answer) {
			if !ids[id] && !shopperNamed[id] {
				return fmt.Errorf("%w: names catalogue product %s, which was not retrieved", ErrUngrounded, id)
			}
		}
	} else {
		sources := make([]string, 0, len(said)+len(policies)+4*len(req.Products))
		for _, p := range req.Products {
			sources = append(sources, p.ID, p.Title, p.Name, p.Brand)
			for k, v := range p.Attributes {
				sources = append(sources, k, v)
			}
		}
		sources = append(sources, said...)
		sources = append(sources, policies...)
		var norm strings.Builder
		for _, s := range sources {
			norm.WriteString(alnumLower(s))
			norm.WriteByte('|') // keeps a code from matching across two fields
		}
		haystack := norm.String()
		for _, tok := range wordRE.FindAllString(urlRE.ReplaceAllString(answer, " "), -1) {
			if isModelCode(tok) && !strings.Contains(haystack, alnumLower(tok)) {
				return fmt.Errorf("%w: names %q, which is in no retrieved product", ErrUngrounded, tok)
			}
		}
	}

	var allowed []float64
	for _, p := range req.Products {
		if p.Price > 0 {
			allowed = append(allowed, p.Price)
		}
	}
	// Any number the shopper or a policy wrote may be repeated as a price.
	for _, s := range append(said, policies...) {
		for _, n := range numberRE.FindAllString(s, -1) {
			if v, ok := parseAmount(n); ok {
				allowed = append(allowed, v)
			}
		}
	}
	for _, pm := range priceRE.FindAllStringSubmatch(answer, -1) {
		num := pm[1]
		if num == "" {
			num = pm[2]
		}
		v, ok := parseAmount(num)
		if !ok {
			continue
		}
		if !slicesContainsNear(allowed, v) {
			return fmt.Errorf("%w: states price %q, which matches no retrieved product", ErrUngrounded, strings.TrimSpace(pm[0]))
		}
	}
	return nil
}

var (
	// citationRE finds "[id]": an id has no spaces or brackets.
	citationRE = regexp.MustCompile(`\[([^\[\]\s]{1,64})\]`)
	// urlRE finds links, whose paths are not product names.
	urlRE = regexp.MustCompile(`(?i)\bhttps?://\S+`)
	// wordRE finds words, keeping hyphen- or slash-joined parts together
	// ("WH-1000XM4", "i7-1255U"); a dot ends a word, so prices and sentence
	// ends are not glued to it.
	wordRE = regexp.MustCompile(`[\p{L}\p{N}]+(?:[-/][\p{L}\p{N}]+)*`)
	// quantityRE: a number with a unit or suffix in any language ("2tb",
	// "30day", "1080p", "3rd", "15zoll", "16go"), a dimension ("1920x1080")
	// or "2in1", after a word's separators were removed.
	quantityRE = regexp.MustCompile(`^\d+\p{L}+$|^\d+x\d+$|^\d+in\d+$`)
	// techTermRE: standards and formats that look like model codes.
	techTermRE = regexp.MustCompile(`^(?:usb\d*[ac]?|mp[34]|[hx]26[45]|[a-z]?ddr\d[a-z]?|ipx?\d{1,2}|wifi\d[a-z]?|` +
		`pcie\d*|bt\d+|bluetooth\d+|lte\d*|hdmi\d*|dp\d+|thunderbolt\d|hdr\d+|m2|nvme\d*|qi\d|` +
		`x86|x64|arm64|covid19|co2|h2o)$`)
	// numberRE finds numbers in sources that may be repeated as prices.
	numberRE = regexp.MustCompile(`\d{1,3}(?:[,.\x{00A0}\x{202F}]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`)
	// priceRE finds an amount with a currency before (group 1) or after
	// (group 2) it.
	priceRE = regexp.MustCompile(`(?i)(?:[$€£¥]|\b(?:US\$|USD|EUR|GBP|CHF|SEK|NOK|DKK|PLN|CZK|JPY|CAD|AUD)\b)\s?(` + amountPat + `)` +
		`|(` + amountPat + `)\s?(?:[$€£¥]|(?:USD|EUR|GBP|CHF|SEK|NOK|DKK|PLN|CZK|JPY|CAD|AUD|euros?|dollars?)\b)`)
)

const amountPat = `\d{1,3}(?:[,.\x{00A0}\x{202F}]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`

// isModelCode reports whether a word looks like a product's model code:
// letters and digits, at least 3 of them, not a quantity nor a technical
// term, and either a part mixing letters and digits ("LC51C", "1000XM4",
// "i7") or a letters part followed by a number part ("RTX-4090").
func isModelCode(word string) bool {
	s := alnumLower(word)
	if utf8.RuneCountInString(s) < 3 || !hasLetterAndDigit(s) || quantityRE.MatchString(s) || techTermRE.MatchString(s) {
		return false
	}
	parts := strings.FieldsFunc(strings.ToLower(word), func(r rune) bool { return r == '-' || r == '/' })
	for i, p := range parts {
		if hasLetterAndDigit(p) && !quantityRE.MatchString(p) && !techTermRE.MatchString(p) {
			return true
		}
		if i > 0 && !strings.ContainsFunc(parts[i-1], unicode.IsDigit) && unicode.IsDigit([]rune(p)[0]) {
			return true
		}
	}
	return false
}

func hasLetterAndDigit(s string) bool {
	return strings.ContainsFunc(s, unicode.IsLetter) && strings.ContainsFunc(s, unicode.IsDigit)
}

// alnumLower keeps only the letters and digits of s, lower-cased.
func alnumLower(s string) string {
	var b strings.Builder
	for _, r := range s {
		if isAlnum(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// containsWord reports whether w occurs in text, case-insensitively, with no
// letter or digit right before or after it.
func containsWord(text, w string) bool {
	text, w = strings.ToLower(text), strings.ToLower(w)
	for i := 0; w != ""; {
		j := strings.Index(text[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if !isAlnum(before) && !isAlnum(after) {
			return true
		}
		i = start + 1
	}
	return false
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// parseAmount reads "1,299.99", "1.299,99", "49,99", "49.5", "1 299" (with a
// no-break space) as a number. A separator followed by exactly one or two
// digits at the end is the decimal separator; others group thousands.
func parseAmount(s string) (float64, bool) {
	s = strings.NewReplacer("\u00a0", "", "\u202f", "").Replace(s)
	last := strings.LastIndexAny(s, ".,")
	intPart, frac := s, ""
	if last >= 0 && len(s)-last-1 <= 2 {
		intPart, frac = s[:last], s[last+1:]
	}
	intPart = strings.NewReplacer(",", "", ".", "").Replace(intPart)
	if frac != "" {
		intPart += "." + frac
	}
	v, err := strconv.ParseFloat(intPart, 64)
	return v, err == nil
}

func slicesContainsNear(vals []float64, v float64) bool {
	for _, a := range vals {
		if math.Abs(a-v) <= priceTolerance+1e-9 {
			return true
		}
	}
	return false
}
