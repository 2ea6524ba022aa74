package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
)

// Quarantine reasons: why a record was not indexed.
const (
	ReasonParse        = "parse_error"   // not valid JSON / CSV, or a row with the wrong number of fields
	ReasonTruncated    = "truncated"     // the feed ends inside this record
	ReasonInvalidUTF8  = "invalid_utf8"  // bytes that are not UTF-8 and no encoding was declared
	ReasonNotObject    = "not_object"    // a JSON value that is not an object
	ReasonMissingID    = "missing_id"    // no id, and none can be derived
	ReasonMissingTitle = "missing_title" // no title, or one that cleans to nothing
	ReasonBadPrice     = "bad_price"     // a price that is not a number, negative or implausibly large
	ReasonWrongType    = "wrong_type"    // an id, title or text field holding an object, array or boolean
)

// Warnings: a record was indexed, but something in it was dropped.
const (
	warnBadListPrice    = "bad_list_price"
	warnBadCurrency     = "bad_currency"
	warnMissingCurrency = "missing_currency"
	warnBadRating       = "bad_rating"
	warnBadNumber       = "bad_number"
	warnBadAvailability = "unknown_availability"
)

type fieldPath struct {
	key   string   // the whole name, tried first ("g:price", "offer.price")
	parts []string // the dotted path, when the name has dots
}

type fieldRef []fieldPath

func compileRef(r FieldRef) fieldRef {
	out := make(fieldRef, 0, len(r))
	for _, name := range r {
		fp := fieldPath{key: name}
		if strings.Contains(name, ".") {
			fp.parts = strings.Split(name, ".")
		}
		out = append(out, fp)
	}
	return out
}

// mapper turns decoded records into products. It is not safe for
// concurrent use: each worker has its own (it interns attribute names).
type mapper struct {
	m                                                   *Mapping
	id, title, name, desc, brand, category, price, list fieldRef
	currency, avail, rating, reviews, popularity, image fieldRef
	url, released                                       fieldRef
	idFrom                                              fieldRef
	minor                                               bool
	defCurrency                                         string
	sep                                                 string
	ratingScale                                         float64
	attrPrefixes, attrStrip                             []string
	attrFields                                          map[string]bool
	availMap                                            map[string]string
	boiler                                              []string
	dec                                                 *encoding.Decoder
	intern                                              map[string]string
	keys                                                map[string]string // interned JSON field names
	values                                              map[string]string // interned short values, see short
	rec                                                 map[string]any    // reused for every JSON record
	attrHint                                            int               // size hint for Attributes: the record field count
	warn                                                map[string]int
	fields                                              map[string]fieldInfo // top-level JSON names, needed or not
	needed                                              map[string]bool      // first names of the mapped fields
}

func newMapper(m *Mapping) (*mapper, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	f := m.Fields
	mp := &mapper{
		m: m, id: compileRef(f.ID), title: compileRef(f.Title), name: compileRef(f.Name), desc: compileRef(f.Description),
		brand: compileRef(f.Brand), category: compileRef(f.Category), price: compileRef(f.Price), list: compileRef(f.ListPrice),
		currency: compileRef(f.Currency), avail: compileRef(f.Availability), rating: compileRef(f.Rating),
		reviews: compileRef(f.ReviewCount), popularity: compileRef(f.Popularity), image: compileRef(f.Image),
		url: compileRef(f.URL), released: compileRef(f.Released), idFrom: compileRef(m.IDFrom),
		minor:        strings.EqualFold(m.PriceUnit, "minor"),
		defCurrency:  strings.ToUpper(m.Currency),
		sep:          m.CategorySeparator,
		ratingScale:  m.RatingScale,
		attrPrefixes: m.Attributes.Prefixes, attrStrip: m.Attributes.Strip,
		attrFields: map[string]bool{},
		intern:     map[string]string{},
		keys:       map[string]string{},
		values:     map[string]string{},
		fields:     map[string]fieldInfo{},
		needed:     map[string]bool{},
		warn:       map[string]int{},
		boiler:     defaultBoilerplate,
	}
	if mp.ratingScale == 0 {
		mp.ratingScale = 5
	}
	for _, ref := range []fieldRef{mp.id, mp.title, mp.name, mp.desc, mp.brand, mp.category, mp.price, mp.list,
		mp.currency, mp.avail, mp.rating, mp.reviews, mp.popularity, mp.image, mp.url, mp.released, mp.idFrom} {
		for _, fp := range ref {
			mp.needed[fp.key] = true
			if fp.parts != nil {
				mp.needed[fp.parts[0]] = true
			}
		}
	}
	for _, a := range m.Attributes.Fields {
		mp.attrFields[a] = true
	}
	if len(m.Availability) > 0 {
		mp.availMap = map[string]string{}
		for k, v := range m.Availability {
			mp.availMap[strings.ToLower(strings.TrimSpace(k))] = v
		}
	}
	if len(m.Boilerplate) > 0 {
		mp.boiler = append([]string(nil), defaultBoilerplate...)
		for _, b := range m.Boilerplate {
			mp.boiler = append(mp.boiler, strings.ToLower(b))
		}
	}
	var err error
	if mp.dec, err = decoderFor(m.Encoding); err != nil {
		return nil, err
	}
	return mp, nil
}

// lookup returns the first present, non-empty value of ref.
func lookup(rec map[string]any, ref fieldRef) (any, string, bool) {
	for _, fp := range ref {
		v, ok := rec[fp.key]
		if !ok && fp.parts != nil {
			var cur any = rec
			ok = true
			for _, p := range fp.parts {
				m, isMap := cur.(map[string]any)
				if !isMap {
					ok = false
					break
				}
				if cur, ok = m[p]; !ok {
					break
				}
			}
			v = cur
		}
		if !ok || v == nil {
			continue
		}
		if s, isStr := v.(string); isStr && strings.TrimSpace(s) == "" {
			continue
		}
		return v, fp.key, true
	}
	return nil, "", false
}

// scalarString renders a string or number; ok is false for objects,
// arrays and booleans.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return formatNumber(x), true
	case nil:
		return "", true
	}
	return "", false
}

func formatNumber(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// textValue renders a text field: a string, a number, or a list of strings
// (joined with spaces).
func textValue(v any) (string, bool) {
	if s, ok := scalarString(v); ok {
		return s, true
	}
	if l, ok := v.([]any); ok {
		parts := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := scalarString(e)
			if !ok {
				return "", false
			}
			if s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " "), true
	}
	return "", false
}

// decode parses a record's bytes into fields, or says why it cannot.
func (mp *mapper) decode(r *rawRecord) (map[string]any, string, string) {
	if r.bad != "" {
		return nil, r.bad, r.detail
	}
	if r.fields != nil {
		if !utf8.Valid(r.data) {
			if mp.dec == nil {
				return nil, ReasonInvalidUTF8, "row is not valid UTF-8; set encoding in the mapping if the feed is latin1/windows-1252"
			}
			for k, v := range r.fields {
				if s, ok := v.(string); ok && !utf8.ValidString(s) {
					if t, err := mp.dec.String(s); err == nil {
						r.fields[k] = t
					}
				}
			}
		}
		return r.fields, "", ""
	}
	data := r.data
	if !utf8.Valid(data) {
		if mp.dec == nil {
			return nil, ReasonInvalidUTF8, "record is not valid UTF-8; set encoding in the mapping if the feed is latin1/windows-1252"
		}
		t, err := mp.dec.Bytes(data)
		if err != nil {
			return nil, ReasonInvalidUTF8, err.Error()
		}
		data = t
	}
	if len(data) == 0 || data[0] != '{' {
		if json.Valid(data) {
			return nil, ReasonNotObject, "a JSON value that is not an object"
		}
		return nil, ReasonParse, "not valid JSON"
	}
	if mp.rec == nil {
		mp.rec = make(map[string]any, 64)
	}
	if err := parseJSONObjectInto(data, mp.rec, mp.keys, mp.fields, mp.unneeded); err != nil {
		return nil, ReasonParse, err.Error()
	}
	return mp.rec, "", ""
}

// product maps one decoded record; reason is set when it must be
// quarantined.
func (mp *mapper) product(rec map[string]any) (p Product, reason, detail string) {
	// id
	if v, key, ok := lookup(rec, mp.id); ok {
		s, ok := scalarString(v)
		if !ok {
			return p, ReasonWrongType, fmt.Sprintf("id (%s) is %s", key, typeName(v))
		}
		p.ID = strings.TrimSpace(collapseSpace(s))
	}
	if p.ID == "" && len(mp.idFrom) > 0 {
		p.ID = derivedID(rec, mp.idFrom)
	}
	if p.ID == "" {
		return p, ReasonMissingID, "no id field"
	}
	// title
	if v, key, ok := lookup(rec, mp.title); ok {
		s, ok := textValue(v)
		if !ok {
			return p, ReasonWrongType, fmt.Sprintf("title (%s) is %s", key, typeName(v))
		}
		p.Title = CleanText(s)
	}
	if p.Title == "" {
		return p, ReasonMissingTitle, "no title, or an empty one after cleaning"
	}
	var ok bool
	if p.Name, reason, detail = mp.text(rec, mp.name, "name"); reason != "" {
		return p, reason, detail
	}
	if p.Description, reason, detail = mp.text(rec, mp.desc, "description"); reason != "" {
		return p, reason, detail
	}
	p.Description = trimBoilerplate(p.Description, mp.boiler)
	if p.Brand, reason, detail = mp.text(rec, mp.brand, "brand"); reason != "" {
		return p, reason, detail
	}
	if mp.m.Brands != nil && p.Brand != "" {
		for k, v := range mp.m.Brands {
			if strings.EqualFold(k, p.Brand) {
				p.Brand = v
				break
			}
		}
	}
	// category
	if v, key, found := lookup(rec, mp.category); found {
		switch x := v.(type) {
		case string:
			p.Category = splitCategory(x, mp.sep)
		case []any:
			for _, e := range x {
				s, ok := scalarString(e)
				if !ok {
					return p, ReasonWrongType, fmt.Sprintf("category (%s) holds %s", key, typeName(e))
				}
				p.Category = append(p.Category, splitCategory(s, mp.sep)...)
			}
		case float64:
			p.Category = []string{formatNumber(x)}
		default:
			return p, ReasonWrongType, fmt.Sprintf("category (%s) is %s", key, typeName(v))
		}
	}
	for i, c := range p.Category {
		p.Category[i] = mp.short(c)
	}
	// currency field
	cur := mp.defCurrency
	if v, _, found := lookup(rec, mp.currency); found {
		if s, ok := v.(string); ok && isISOCurrency(strings.ToUpper(strings.TrimSpace(s))) {
			cur = strings.ToUpper(strings.TrimSpace(s))
		} else {
			mp.warn[warnBadCurrency]++
		}
	}
	// price
	p.Price = -1
	if v, key, found := lookup(rec, mp.price); found {
		price, pc, err := parsePrice(v, mp.minor, cur)
		switch {
		case err == errNoPrice:
		case err != nil:
			return p, ReasonBadPrice, key + ": " + err.Error()
		default:
			p.Price = price
			if pc != "" {
				cur = pc
			}
		}
	}
	if v, _, found := lookup(rec, mp.list); found {
		lp, _, err := parsePrice(v, mp.minor, cur)
		if err != nil && err != errNoPrice {
			mp.warn[warnBadListPrice]++
		} else if err == nil && lp > p.Price && p.Price >= 0 {
			p.ListPrice = lp
		}
	}
	if p.Price >= 0 {
		if cur == "" {
			mp.warn[warnMissingCurrency]++
		}
		p.Currency = mp.short(cur)
	}
	// availability
	if v, _, found := lookup(rec, mp.avail); found {
		if p.Availability, ok = parseAvailability(v, mp.availMap); !ok {
			mp.warn[warnBadAvailability]++
		}
	}
	if v, _, found := lookup(rec, mp.rating); found {
		if f, ok := toFloat(v); ok && f >= 0 && f <= mp.ratingScale {
			p.Rating = math.Round(f/mp.ratingScale*5*100) / 100
		} else {
			mp.warn[warnBadRating]++
		}
	}
	if v, _, found := lookup(rec, mp.reviews); found {
		if f, ok := toFloat(v); ok && f >= 0 && f < math.MaxInt32 {
			p.ReviewCount = int(f)
		} else {
			mp.warn[warnBadNumber]++
		}
	}
	if v, _, found := lookup(rec, mp.popularity); found {
		if f, ok := toFloat(v); ok && f >= 0 {
			p.Popularity = f
		} else {
			mp.warn[warnBadNumber]++
		}
	}
	if v, _, found := lookup(rec, mp.image); found {
		if s, ok := v.(string); ok {
			p.Image = strings.TrimSpace(s)
		}
	}
	if v, _, found := lookup(rec, mp.url); found {
		if s, ok := v.(string); ok {
			p.URL = strings.TrimSpace(s)
		}
	}
	if v, _, found := lookup(rec, mp.released); found {
		p.Released, _ = parseTime(v)
	}
	mp.attrHint = len(rec)
	mp.attributes(rec, &p)
	// features
	p.PriceBand = PriceBandOf(p.Price, p.Currency)
	p.Group = GroupKey(p.Brand, p.Title)
	p.Colors = findColours(p.Colors[:0], p.Title)
	var colourKeys []string
	for k := range p.Attributes {
		if strings.Contains(k, "colour") || strings.Contains(k, "color") {
			colourKeys = append(colourKeys, k)
		}
	}
	sort.Strings(colourKeys) // map order is random; colours keep a stable order
	for _, k := range colourKeys {
		p.Colors = findColours(p.Colors, p.Attributes[k])
	}
	if len(p.Colors) == 0 {
		p.Colors = nil
	}
	return p, "", ""
}

func (mp *mapper) text(rec map[string]any, ref fieldRef, what string) (string, string, string) {
	v, key, ok := lookup(rec, ref)
	if !ok {
		return "", "", ""
	}
	s, ok := textValue(v)
	if !ok {
		return "", ReasonWrongType, fmt.Sprintf("%s (%s) is %s", what, key, typeName(v))
	}
	return CleanText(s), "", ""
}

// attributes copies the free attributes of rec into p. Map order is
// random, so when two feed fields strip to the same attribute name the
// record is redone in sorted key order: the first key keeps the short
// name, the others keep their full names.
func (mp *mapper) attributes(rec map[string]any, p *Product) {
	if len(mp.attrPrefixes) == 0 && len(mp.attrFields) == 0 {
		return
	}
	collided := false
	for k, v := range rec {
		if mp.isAttr(k) && mp.putAttrValue(p, k, v) {
			collided = true
		}
	}
	if !collided {
		return
	}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		if mp.isAttr(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	clear(p.Attributes)
	for _, k := range keys {
		mp.putAttrValue(p, k, rec[k])
	}
}

// unneeded reports a top-level field the mapping does not use: its value
// is validated but not decoded. The quarantine keeps the record's bytes, so
// nothing is lost.
func (mp *mapper) unneeded(k string) bool { return !mp.needed[k] && !mp.isAttr(k) }

func (mp *mapper) isAttr(k string) bool {
	if mp.attrFields[k] {
		return true
	}
	for _, pre := range mp.attrPrefixes {
		if strings.HasPrefix(k, pre) {
			return true
		}
	}
	return false
}

// putAttrValue stores one attribute field (flattening an object one level)
// and reports a name collision.
func (mp *mapper) putAttrValue(p *Product, k string, v any) bool {
	if obj, ok := v.(map[string]any); ok { // "attributes": {"color": "red"}
		collided := false
		keys := make([]string, 0, len(obj))
		for k2 := range obj {
			keys = append(keys, k2)
		}
		sort.Strings(keys)
		for _, k2 := range keys {
			collided = mp.putAttr(p, k2, obj[k2]) || collided
		}
		return collided
	}
	return mp.putAttr(p, k, v)
}

// putAttr stores one attribute under its stripped name, or under k when
// that name is taken; it reports the collision.
func (mp *mapper) putAttr(p *Product, k string, v any) bool {
	var s string
	switch x := v.(type) {
	case string:
		s = CleanText(x)
	case float64:
		s = formatNumber(x)
	case bool:
		s = strconv.FormatBool(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if es, ok := scalarString(e); ok && es != "" {
				parts = append(parts, CleanText(es))
			}
		}
		s = strings.Join(parts, ", ")
	default:
		return false
	}
	if s == "" {
		return false
	}
	name := k
	for _, pre := range mp.attrStrip {
		if strings.HasPrefix(k, pre) && len(k) > len(pre) {
			name = k[len(pre):]
			break
		}
	}
	collided := false
	if p.Attributes == nil {
		p.Attributes = make(map[string]string, mp.attrHint)
	} else if _, dup := p.Attributes[name]; dup && name != k {
		name, collided = k, true
	}
	if in, ok := mp.intern[name]; ok {
		name = in
	} else {
		name = strings.Clone(name)
		mp.intern[name] = name
	}
	p.Attributes[name] = s
	return collided
}

// maxInterned bounds each worker's table of interned values.
const maxInterned = 1 << 18

// short returns an interned copy of a short value that repeats across
// products (a category level, a currency, "Black", "Yes"), so that a
// loaded catalogue holds each once instead of once per product.
func (mp *mapper) short(s string) string {
	if len(s) > 32 || s == "" {
		return s
	}
	if in, ok := mp.values[s]; ok {
		return in
	}
	if len(mp.values) < maxInterned {
		s = strings.Clone(s) // s may point into a larger string
		mp.values[s] = s
	}
	return s
}

// derivedID hashes the values of the named fields into a stable id.
func derivedID(rec map[string]any, fields fieldRef) string {
	h := sha256.New()
	any := false
	for _, fp := range fields {
		v, _, ok := lookup(rec, fieldRef{fp})
		if ok {
			any = true
			b, _ := json.Marshal(v)
			h.Write(b)
		}
		h.Write([]byte{0x1f})
	}
	if !any {
		return ""
	}
	return "h" + hex.EncodeToString(h.Sum(nil)[:10])
}
