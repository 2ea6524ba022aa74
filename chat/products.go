package chat

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shopassist/shopassist/catalog"
)

// productsAnswer is the templated answer to a search: how many products,
// for what, and the best match.
func productsAnswer(st dialogState, items []Item, currency string) string {
	q := quoteNeed(st.needText())
	desc := describeFilters(st.Filters, currency)
	switch len(items) {
	case 1:
		return fmt.Sprintf("I found one product for “%s”%s: %s%s.", q, desc, items[0].Title, priceSuffix(items[0]))
	default:
		return fmt.Sprintf("Here are %d products for “%s”%s. The best match is %s%s.", len(items), q, desc, items[0].Title, priceSuffix(items[0]))
	}
}

// moreAnswer introduces the next page of a search.
func moreAnswer(st dialogState, items []Item, currency string) string {
	return fmt.Sprintf("Here are %d more products for “%s”%s, starting with %s%s.", len(items), quoteNeed(st.needText()),
		describeFilters(st.Filters, currency), items[0].Title, priceSuffix(items[0]))
}

// quoteNeed shortens a need for quoting: at most 80 bytes, cut at a word.
func quoteNeed(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 80 {
		q = q[:strings.LastIndexByte(q[:80], ' ')+1] + "…"
	}
	return q
}

// detailAnswer describes product number pos of the last results.
func detailAnswer(pos int, p *catalog.Product) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Number %d is the %s", pos, p.Title)
	if p.Brand != "" && !strings.Contains(strings.ToLower(p.Title), strings.ToLower(p.Brand)) {
		fmt.Fprintf(&sb, " by %s", p.Brand)
	}
	if p.Price > 0 {
		fmt.Fprintf(&sb, ", %s", FormatPrice(p.PriceUnits(), p.Currency))
	}
	sb.WriteString(".")
	switch p.Availability {
	case catalog.AvailabilityInStock:
		sb.WriteString(" It's in stock.")
	case catalog.AvailabilityOutOfStock:
		sb.WriteString(" It's out of stock at the moment.")
	case catalog.AvailabilityPreorder:
		sb.WriteString(" It can be pre-ordered.")
	}
	if d := firstSentence(p.Description); d != "" && !strings.EqualFold(d, p.Title) {
		sb.WriteString(" " + d)
	}
	if attrs := keyAttributes(p, 6); len(attrs) > 0 {
		sb.WriteString("\n\nKey facts:")
		for _, a := range attrs {
			fmt.Fprintf(&sb, "\n• %s: %s", a.label, a.value)
		}
	}
	if p.URL != "" {
		sb.WriteString("\n\nProduct page: " + p.URL)
	}
	return sb.String()
}

// compareAnswer sets products side by side: price, brand and the key
// attributes they share, then which is cheaper.
func compareAnswer(positions []int, ps []*catalog.Product) string {
	var sb strings.Builder
	names := make([]string, len(positions))
	for i, pos := range positions {
		names[i] = fmt.Sprintf("#%d", pos)
	}
	fmt.Fprintf(&sb, "Here's how %s compare:", joinAnd(names))
	for i, p := range ps {
		fmt.Fprintf(&sb, "\n\n#%d %s", positions[i], p.Title)
	}
	all := "all"
	if len(ps) == 2 {
		all = "both"
	}
	row := func(label string, value func(*catalog.Product) string) {
		vals := make([]string, len(ps))
		same := true
		for i, p := range ps {
			vals[i] = value(p)
			if vals[i] == "" {
				vals[i] = "—"
			}
			same = same && vals[i] == vals[0]
		}
		if same && len(ps) > 1 {
			fmt.Fprintf(&sb, "\n• %s: %s (%s)", label, vals[0], all)
			return
		}
		fmt.Fprintf(&sb, "\n• %s: %s", label, strings.Join(vals, " vs "))
	}
	sb.WriteString("\n")
	row("Price", func(p *catalog.Product) string {
		if p.Price <= 0 {
			return ""
		}
		return FormatPrice(p.PriceUnits(), p.Currency)
	})
	row("Brand", func(p *catalog.Product) string { return p.Brand })
	for _, key := range sharedKeys(ps, 6) {
		label := attrLabel(key)
		row(label, func(p *catalog.Product) string { return attrValue(key, p.Attributes[key]) })
	}
	cheapest, dearest := -1, -1
	for i, p := range ps {
		if p.Price <= 0 {
			continue
		}
		if cheapest < 0 || p.Price < ps[cheapest].Price {
			cheapest = i
		}
		if dearest < 0 || p.Price > ps[dearest].Price {
			dearest = i
		}
	}
	if cheapest >= 0 && dearest >= 0 && ps[cheapest].Price < ps[dearest].Price {
		word := "cheapest"
		if len(ps) == 2 {
			word = "cheaper"
		}
		fmt.Fprintf(&sb, "\n\n#%d is the %s, %s less than #%d.", positions[cheapest], word,
			FormatPrice(float64(ps[dearest].Price-ps[cheapest].Price)/100, ps[cheapest].Currency), positions[dearest])
	}
	return sb.String()
}

func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if len(s) > 240 {
		s = s[:strings.LastIndexByte(s[:240], ' ')] + "…"
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "…") {
		s += "."
	}
	return s
}

// attribute is one fact about a product, ready to show.
type attribute struct{ key, label, value string }

// keyAttrs are the attributes worth showing first, with their labels and
// units; a product's other attributes follow, minus packaging and
// logistics data.
var keyAttrs = []struct{ key, label, unit string }{
	{"display_diagonal", "Screen size", `"`},
	{"display_resolution", "Resolution", ""},
	{"processor_family", "Processor", ""},
	{"processor_model", "Processor model", ""},
	{"internal_memory", "Memory (RAM)", " GB"},
	{"total_storage_capacity", "Storage", " GB"},
	{"storage_media", "Storage type", ""},
	{"operating_system_installed", "Operating system", ""},
	{"connectivity_technology", "Connectivity", ""},
	{"headphone_type", "Type", ""},
	{"product_type", "Type", ""},
	{"print_technology", "Print technology", ""},
	{"printing_colours", "Printing colours", ""},
	{"compatibility", "Compatible with", ""},
	{"product_colour", "Colour", ""},
	{"colour", "Colour", ""},
	{"color", "Colour", ""},
	{"size", "Size", ""},
	{"material", "Material", ""},
	{"weight", "Weight", " g"},
}

var keyAttrIndex = func() map[string]int {
	m := make(map[string]int, len(keyAttrs))
	for i, a := range keyAttrs {
		m[a.key] = i
	}
	return m
}()

// skipAttr reports attributes that say nothing to a shopper.
func skipAttr(key string) bool {
	for _, p := range []string{"package_", "master_", "quantity_per", "pallet", "country_of_origin", "certification", "rohs", "temperature", "humidity", "altitude", "harmonized", "ean", "upc", "gtin", "mpn"} {
		if strings.Contains(key, p) {
			return true
		}
	}
	return strings.Contains(key, "__")
}

// keyAttributes returns up to n facts of p: the known key attributes in
// their order, then others by name.
func keyAttributes(p *catalog.Product, n int) []attribute {
	var known, other []attribute
	for k, v := range p.Attributes {
		if v == "" || skipAttr(k) {
			continue
		}
		a := attribute{key: k, label: attrLabel(k), value: attrValue(k, v)}
		if _, ok := keyAttrIndex[k]; ok {
			known = append(known, a)
		} else {
			other = append(other, a)
		}
	}
	sort.Slice(known, func(i, j int) bool { return keyAttrIndex[known[i].key] < keyAttrIndex[known[j].key] })
	sort.Slice(other, func(i, j int) bool { return other[i].key < other[j].key })
	// One colour and one type line is enough.
	var out []attribute
	seen := map[string]bool{}
	for _, a := range append(known, other...) {
		if seen[a.label] {
			continue
		}
		seen[a.label] = true
		out = append(out, a)
		if len(out) == n {
			break
		}
	}
	return out
}

// sharedKeys returns up to n attribute keys that every product has, key
// attributes first.
func sharedKeys(ps []*catalog.Product, n int) []string {
	if len(ps) == 0 {
		return nil
	}
	var keys []string
	for _, a := range keyAttributes(ps[0], 40) {
		all := true
		for _, p := range ps[1:] {
			if p.Attributes[a.key] == "" {
				all = false
				break
			}
		}
		if all {
			keys = append(keys, a.key)
			if len(keys) == n {
				break
			}
		}
	}
	return keys
}

func attrLabel(key string) string {
	if i, ok := keyAttrIndex[key]; ok {
		return keyAttrs[i].label
	}
	l := strings.TrimSpace(strings.ReplaceAll(key, "_", " "))
	if l == "" {
		return key
	}
	return strings.ToUpper(l[:1]) + l[1:]
}

func attrValue(key, v string) string {
	switch v {
	case "true":
		return "yes"
	case "false":
		return "no"
	}
	if i, ok := keyAttrIndex[key]; ok && keyAttrs[i].unit != "" && isNumber(v) {
		return v + keyAttrs[i].unit
	}
	return v
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}
