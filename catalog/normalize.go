package catalog

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// maxPriceMinor bounds a plausible price: 10 billion currency units.
const maxPriceMinor = 1_000_000_000_000

var errNoPrice = errors.New("no price")

// currencyExponent is the number of minor-unit digits of the currencies
// that do not use two.
var currencyExponent = map[string]int{
	"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XAF": 0, "XOF": 0, "HUF": 2, "TWD": 2,
	"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3,
}

// CurrencyExponent is the number of minor-unit digits of an ISO 4217
// currency (2 for EUR, 0 for JPY).
func CurrencyExponent(cur string) int {
	if e, ok := currencyExponent[cur]; ok {
		return e
	}
	return 2
}

var currencySymbols = []struct{ sym, code string }{
	{"US$", "USD"}, {"C$", "CAD"}, {"A$", "AUD"}, {"CA$", "CAD"}, {"AU$", "AUD"}, {"R$", "BRL"},
	{"€", "EUR"}, {"£", "GBP"}, {"¥", "JPY"}, {"₹", "INR"}, {"₩", "KRW"}, {"₽", "RUB"}, {"zł", "PLN"},
	{"CHF", "CHF"}, {"kr", "SEK"}, {"$", "USD"},
}

func isISOCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// parsePrice turns a feed value into minor units. v is a JSON number, a
// numeric string or a string with a currency ("49,95 EUR", "$1,299.00").
// minor says bare numbers are already in minor units. It returns the
// currency found in the value, if any.
func parsePrice(v any, minor bool, defCurrency string) (int64, string, error) {
	var num float64
	var cur string
	explicitDecimal := false
	switch x := v.(type) {
	case nil:
		return 0, "", errNoPrice
	case float64:
		num = x
	case int64:
		num = float64(x)
	case int:
		num = float64(x)
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, "", errNoPrice
		}
		var err error
		num, cur, explicitDecimal, err = parsePriceString(s)
		if err != nil {
			return 0, "", err
		}
	case map[string]any: // {"value": 12.5, "currency": "EUR"} or {"amount":..., "currency_code":...}
		for _, k := range []string{"value", "amount", "price"} {
			if a, ok := x[k]; ok {
				c := defCurrency
				for _, ck := range []string{"currency", "currency_code", "currencyCode"} {
					if cs, ok := x[ck].(string); ok && cs != "" {
						c = strings.ToUpper(strings.TrimSpace(cs))
					}
				}
				p, pc, err := parsePrice(a, minor, c)
				if pc == "" && c != defCurrency {
					pc = c
				}
				return p, pc, err
			}
		}
		return 0, "", fmt.Errorf("price object without value")
	default:
		return 0, "", fmt.Errorf("price of type %s", typeName(v))
	}
	if math.IsNaN(num) || math.IsInf(num, 0) {
		return 0, "", fmt.Errorf("price %v", num)
	}
	if num < 0 {
		return 0, "", fmt.Errorf("negative price %v", num)
	}
	c := cur
	if c == "" {
		c = defCurrency
	}
	var minorUnits float64
	if minor && !explicitDecimal {
		if num != math.Trunc(num) {
			return 0, "", fmt.Errorf("price %v is not a whole number of minor units", num)
		}
		minorUnits = num
	} else {
		minorUnits = math.Round(num * math.Pow10(CurrencyExponent(c)))
	}
	if minorUnits > maxPriceMinor {
		return 0, "", fmt.Errorf("price %v is implausibly large", num)
	}
	return int64(minorUnits), cur, nil
}

// parsePriceString reads "49.95", "49,95 €", "EUR 1.299,00", "$1,299.00",
// "12.99 USD". explicitDecimal reports a decimal separator was present.
func parsePriceString(s string) (num float64, cur string, explicitDecimal bool, err error) {
	rest := s
	// A three-letter code at either end.
	if n := len(rest); n > 3 && isISOCurrency(strings.ToUpper(rest[n-3:])) && !isLetter(rest[n-4]) {
		cur, rest = strings.ToUpper(rest[n-3:]), rest[:n-3]
	} else if n > 3 && isISOCurrency(strings.ToUpper(rest[:3])) && !isLetter(rest[3]) {
		cur, rest = strings.ToUpper(rest[:3]), rest[3:]
	}
	if cur == "" {
		for _, cs := range currencySymbols {
			if strings.HasPrefix(rest, cs.sym) {
				cur, rest = cs.code, rest[len(cs.sym):]
				break
			}
			if strings.HasSuffix(rest, cs.sym) {
				cur, rest = cs.code, rest[:len(rest)-len(cs.sym)]
				break
			}
		}
	}
	rest = strings.TrimSpace(rest)
	rest = strings.ReplaceAll(rest, " ", "")
	rest = strings.ReplaceAll(rest, "\u00a0", "")
	rest = strings.ReplaceAll(rest, "'", "") // 1'299.00 (CH)
	if rest == "" {
		return 0, "", false, fmt.Errorf("price %q has no number", s)
	}
	if rest[0] == '-' {
		return 0, "", false, fmt.Errorf("negative price %q", s)
	}
	dot, comma := strings.LastIndexByte(rest, '.'), strings.LastIndexByte(rest, ',')
	switch {
	case dot >= 0 && comma >= 0:
		if comma > dot { // 1.299,00
			rest = strings.ReplaceAll(rest, ".", "")
			rest = strings.Replace(rest, ",", ".", 1)
		} else { // 1,299.00
			rest = strings.ReplaceAll(rest, ",", "")
		}
		explicitDecimal = true
	case comma >= 0:
		if strings.Count(rest, ",") == 1 && len(rest)-comma-1 != 3 { // 49,95
			rest = strings.Replace(rest, ",", ".", 1)
			explicitDecimal = true
		} else { // 1,299 or 1,299,000
			rest = strings.ReplaceAll(rest, ",", "")
		}
	case dot >= 0:
		if strings.Count(rest, ".") > 1 { // 1.299.000
			rest = strings.ReplaceAll(rest, ".", "")
		} else {
			explicitDecimal = true
		}
	}
	for i := 0; i < len(rest); i++ {
		if !isDigit(rest[i]) && rest[i] != '.' {
			return 0, "", false, fmt.Errorf("price %q is not a number", s)
		}
	}
	num, err = strconv.ParseFloat(rest, 64)
	if err != nil {
		return 0, "", false, fmt.Errorf("price %q is not a number", s)
	}
	return num, cur, explicitDecimal, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, int, int64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

var availabilitySeparators = strings.NewReplacer("_", "", "-", "", " ", "")

// parseAvailabilityWord understands the usual stock spellings, including
// schema.org URLs and Google's "in_stock".
func parseAvailabilityWord(s string) Availability {
	k := strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexByte(k, '/'); i >= 0 { // http://schema.org/InStock
		k = k[i+1:]
	}
	k = availabilitySeparators.Replace(k)
	switch k {
	case "instock", "available", "yes", "true", "y", "1", "limitedavailability", "onlineonly", "instoreonly", "lowstock", "instockonly":
		return AvailabilityInStock
	case "outofstock", "soldout", "unavailable", "no", "false", "n", "0", "discontinued", "oos":
		return AvailabilityOutOfStock
	case "preorder", "backorder", "presale", "comingsoon":
		return AvailabilityPreorder
	}
	return AvailabilityUnknown
}

// parseAvailability maps a feed value: a word, a boolean or a stock count.
func parseAvailability(v any, custom map[string]string) (Availability, bool) {
	switch x := v.(type) {
	case nil:
		return AvailabilityUnknown, true
	case bool:
		if x {
			return AvailabilityInStock, true
		}
		return AvailabilityOutOfStock, true
	case float64:
		if x > 0 {
			return AvailabilityInStock, true
		}
		return AvailabilityOutOfStock, true
	case string:
		if custom != nil {
			if a, ok := custom[strings.ToLower(strings.TrimSpace(x))]; ok {
				return parseAvailabilityWord(a), true
			}
		}
		if a := parseAvailabilityWord(x); a != AvailabilityUnknown {
			return a, true
		}
		if n, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return parseAvailability(n, nil)
		}
		return AvailabilityUnknown, strings.TrimSpace(x) == ""
	}
	return AvailabilityUnknown, false
}

// toFloat reads a number from a JSON number or a numeric string.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case string:
		s := strings.TrimSpace(x)
		if strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
			s = strings.Replace(s, ",", ".", 1)
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02", "2006/01/02", "02.01.2006", "2006-01",
}

func parseTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), true
			}
		}
	case float64: // Unix seconds or milliseconds
		if x > 1e11 {
			return time.UnixMilli(int64(x)).UTC(), true
		}
		if x > 0 {
			return time.Unix(int64(x), 0).UTC(), true
		}
	}
	return time.Time{}, false
}

// splitCategory splits a category path on sep (or the first of " > ",
// ">", "|", "/" found) and cleans each level.
func splitCategory(s, sep string) []string {
	if sep == "" {
		for _, c := range []string{">", "|", "/"} {
			if strings.Contains(s, c) {
				sep = c
				break
			}
		}
	}
	var parts []string
	if sep == "" {
		parts = []string{s}
	} else {
		parts = strings.Split(s, sep)
	}
	out := parts[:0]
	for _, p := range parts {
		if p = CleanText(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return append([]string(nil), out...)
}

// brandKey is the key under which brand spellings are grouped:
// lower-case letters and digits, without a corporate suffix.
func brandKey(b string) string {
	var sb strings.Builder
	words := strings.FieldsFunc(strings.ToLower(b), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for len(words) > 1 {
		switch words[len(words)-1] {
		case "inc", "incorporated", "ltd", "limited", "llc", "gmbh", "corp", "corporation", "co", "ag", "sa", "bv", "plc", "srl", "spa", "oy", "ab", "nv", "kg":
			words = words[:len(words)-1]
			continue
		}
		break
	}
	for _, w := range words {
		sb.WriteString(w)
	}
	return sb.String()
}

// trimCorporateSuffix removes a trailing ", Inc.", " Ltd", " GmbH" ... from
// a brand name written with a space or comma before it.
func trimCorporateSuffix(b string) string {
	i := strings.LastIndexAny(b, " ,")
	if i <= 0 {
		return b
	}
	switch strings.ToLower(strings.TrimRight(b[i+1:], ".")) {
	case "inc", "incorporated", "ltd", "limited", "llc", "gmbh", "corp", "corporation", "plc", "ag", "srl", "bv", "nv":
		if t := strings.TrimRight(b[:i], " ,"); t != "" {
			return t
		}
	}
	return b
}

// titleKey normalises a title for near-duplicate detection: lower-case
// letters and digits, single spaces.
func titleKey(t string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), " ")
}

// GroupKey is Product.Group: a short hash of the brand (ignoring case,
// punctuation and corporate suffixes) and the title (lower-case letters and
// digits).
func GroupKey(brand, title string) string {
	h := fnv.New64a()
	h.Write([]byte(brandKey(brand)))
	h.Write([]byte{0})
	// titleKey(title), hashed as it is produced, without allocating.
	var buf [utf8.UTFMax]byte
	pending := false
	started := false
	for _, r := range title {
		if r < utf8.RuneSelf {
			c := byte(r)
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				if pending && started {
					h.Write([]byte{' '})
				}
				pending, started = false, true
				buf[0] = c
				h.Write(buf[:1])
			} else {
				pending = true
			}
			continue
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			pending = true
			continue
		}
		if pending && started {
			h.Write([]byte{' '})
		}
		pending, started = false, true
		n := utf8.EncodeRune(buf[:], unicode.ToLower(r))
		h.Write(buf[:n])
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// Price bands, in currency units, used as a facet and a ranking feature.
var priceBands = []struct {
	max  float64
	name string
}{{10, "0-10"}, {25, "10-25"}, {50, "25-50"}, {100, "50-100"}, {250, "100-250"}, {500, "250-500"}, {1000, "500-1000"}, {math.Inf(1), "1000+"}}

// PriceBandOf names the price band of a price in minor units of cur ("" when
// there is no price).
func PriceBandOf(price int64, cur string) string {
	if price < 0 {
		return ""
	}
	u := float64(price) / math.Pow10(CurrencyExponent(cur))
	for _, b := range priceBands {
		if u < b.max {
			return b.name
		}
	}
	return ""
}

// colourWords maps colour words found in titles and colour attributes to
// their facet value.
var colourWords = map[string]string{
	"black": "black", "white": "white", "grey": "grey", "gray": "grey", "silver": "silver", "gold": "gold",
	"red": "red", "blue": "blue", "green": "green", "yellow": "yellow", "orange": "orange", "purple": "purple",
	"violet": "purple", "pink": "pink", "brown": "brown", "beige": "beige", "cyan": "cyan", "magenta": "magenta",
	"navy": "blue", "turquoise": "turquoise", "bronze": "bronze", "graphite": "grey", "anthracite": "grey",
	"champagne": "gold", "ivory": "white", "cream": "white", "transparent": "transparent", "titanium": "silver",
	"burgundy": "red", "maroon": "red", "teal": "turquoise", "lime": "green", "olive": "green", "khaki": "beige",
	"charcoal": "grey", "multicolour": "multicolour", "multicolor": "multicolour", "chrome": "silver", "aluminium": "silver",
}

// colourPhrases are multi-word colour names that map onto one value.
var colourPhrases = []struct{ phrase, colour string }{{"rose gold", "pink"}, {"space grey", "grey"}, {"space gray", "grey"}}

// findColours appends to dst the colour facet values named in s, in order,
// without repeats.
func findColours(dst []string, s string) []string {
	if s == "" {
		return dst
	}
	lower := strings.ToLower(s)
	for _, cp := range colourPhrases {
		if strings.Contains(lower, cp.phrase) {
			dst = addUnique(dst, cp.colour)
		}
	}
	start := -1
	for i := 0; i <= len(lower); i++ {
		letter := i < len(lower) && (lower[i] >= 'a' && lower[i] <= 'z')
		if letter && start < 0 {
			start = i
		} else if !letter && start >= 0 {
			if c, ok := colourWords[lower[start:i]]; ok && (i == len(lower) || lower[i] < 0x80) {
				dst = addUnique(dst, c)
			}
			start = -1
		}
	}
	return dst
}

func addUnique(dst []string, s string) []string {
	for _, d := range dst {
		if d == s {
			return dst
		}
	}
	return append(dst, s)
}

// decoderFor returns the decoder for a mapping's encoding (nil for UTF-8).
func decoderFor(enc string) (*encoding.Decoder, error) {
	switch strings.ToLower(strings.ReplaceAll(enc, "_", "-")) {
	case "", "utf-8", "utf8":
		return nil, nil
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1":
		return charmap.ISO8859_1.NewDecoder(), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder(), nil
	case "iso-8859-15", "latin9", "latin-9":
		return charmap.ISO8859_15.NewDecoder(), nil
	}
	return nil, fmt.Errorf("unknown encoding %q (want utf-8, latin1, windows-1252 or iso-8859-15)", enc)
}
