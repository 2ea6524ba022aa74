package ranking

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// DefaultMaxSponsored is Rules.MaxSponsored when it is 0.
const DefaultMaxSponsored = 1

// Rules are the store's business rules, applied to the reranked
// candidates. The JSON form (LoadRules) is:
//
//	{
//	  "boosts": [
//	    {"brand": "HP", "weight": 0.1},
//	    {"category": "Notebooks", "weight": -0.05},
//	    {"product_id": "123", "weight": 0.2}
//	  ],
//	  "sponsored": [
//	    {"product_id": "456", "boost": 0.3},
//	    {"brand": "Logitech", "boost": 0.2}
//	  ],
//	  "max_sponsored": 1
//	}
type Rules struct {
	// Boosts add their Weight to the score of every matching candidate;
	// every matching rule counts.
	Boosts []BoostRule `json:"boosts"`
	// Sponsored are paid placements. A candidate matching one or more gets
	// the largest matching Boost, and is marked Sponsored, only if it is
	// among the MaxSponsored best sponsored candidates of the request;
	// others rank as if they matched none.
	Sponsored []SponsoredRule `json:"sponsored"`
	// MaxSponsored caps the sponsored items per request; 0 means
	// DefaultMaxSponsored. To have none, list no Sponsored rules.
	MaxSponsored int `json:"max_sponsored"`
}

// BoostRule matches by exactly one of ProductID (exact), Brand
// (case-insensitive) or Category (any level of the path,
// case-insensitive). Weight is added to the blended score (the blend's
// features lie in [0, 1], see Weights); negative demotes.
type BoostRule struct {
	ProductID string  `json:"product_id,omitempty"`
	Brand     string  `json:"brand,omitempty"`
	Category  string  `json:"category,omitempty"`
	Weight    float64 `json:"weight"`
}

// SponsoredRule marks a product (ProductID) or a brand (Brand,
// case-insensitive) as sponsored, with Boost > 0 added to the score of the
// placements it wins.
type SponsoredRule struct {
	ProductID string  `json:"product_id,omitempty"`
	Brand     string  `json:"brand,omitempty"`
	Boost     float64 `json:"boost"`
}

// LoadRules reads a rules file strictly: unknown fields, trailing data and
// invalid rules are errors naming the file and the field.
func LoadRules(path string) (Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("ranking: rules: %w", err)
	}
	r, err := ParseRules(data)
	if err != nil {
		return Rules{}, fmt.Errorf("ranking: rules %s: %w", path, err)
	}
	return r, nil
}

// ParseRules decodes and validates the JSON form of Rules (see LoadRules).
func ParseRules(data []byte) (Rules, error) {
	var r Rules
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Rules{}, describeJSONError(data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Rules{}, fmt.Errorf("data after the rules object at byte %d", dec.InputOffset())
	}
	if err := r.Validate(); err != nil {
		return Rules{}, err
	}
	return r, nil
}

func describeJSONError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		line, col := lineCol(data, syn.Offset-1)
		return fmt.Errorf("line %d column %d: %w", line, col, err)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("want a JSON object, got JSON %s", typ.Value)
	case errors.As(err, &typ):
		// Offset is the end of the bad value.
		line, _ := lineCol(data, typ.Offset)
		return fmt.Errorf("line %d: field %q: want %v, got JSON %s", line, typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty file, want a JSON object")
	default:
		return err // e.g. json: unknown field "brnad"
	}
}

func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col + 1
}

// Validate reports the first invalid rule, named by its JSON path.
func (r Rules) Validate() error {
	for i, b := range r.Boosts {
		at := fmt.Sprintf("boosts[%d]", i)
		if n := set(b.ProductID, b.Brand, b.Category); n != 1 {
			return fmt.Errorf("%s: set exactly one of product_id, brand, category (%d set)", at, n)
		}
		if b.Weight == 0 || math.IsNaN(b.Weight) || math.IsInf(b.Weight, 0) {
			return fmt.Errorf("%s.weight: want a non-zero finite number, got %v", at, b.Weight)
		}
	}
	for i, s := range r.Sponsored {
		at := fmt.Sprintf("sponsored[%d]", i)
		if n := set(s.ProductID, s.Brand); n != 1 {
			return fmt.Errorf("%s: set exactly one of product_id, brand (%d set)", at, n)
		}
		if !(s.Boost > 0) || math.IsInf(s.Boost, 0) {
			return fmt.Errorf("%s.boost: want a finite number > 0, got %v", at, s.Boost)
		}
	}
	if r.MaxSponsored < 0 {
		return fmt.Errorf("max_sponsored: want >= 0 (0 means %d), got %d", DefaultMaxSponsored, r.MaxSponsored)
	}
	return nil
}

func set(xs ...string) int {
	n := 0
	for _, x := range xs {
		if strings.TrimSpace(x) != "" {
			n++
		}
	}
	return n
}

// ruleSet is Rules indexed for matching.
type ruleSet struct {
	byID, byBrand, byCategory map[string]float64 // summed weights
	sponsorID, sponsorBrand   map[string]float64 // largest boost
	maxSponsored              int
}

func compileRules(r Rules) ruleSet {
	rs := ruleSet{byID: map[string]float64{}, byBrand: map[string]float64{}, byCategory: map[string]float64{},
		sponsorID: map[string]float64{}, sponsorBrand: map[string]float64{}, maxSponsored: r.MaxSponsored}
	if rs.maxSponsored == 0 {
		rs.maxSponsored = DefaultMaxSponsored
	}
	key := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	for _, b := range r.Boosts {
		switch {
		case b.ProductID != "":
			rs.byID[strings.TrimSpace(b.ProductID)] += b.Weight
		case b.Brand != "":
			rs.byBrand[key(b.Brand)] += b.Weight
		default:
			rs.byCategory[key(b.Category)] += b.Weight
		}
	}
	for _, s := range r.Sponsored {
		if s.ProductID != "" {
			id := strings.TrimSpace(s.ProductID)
			rs.sponsorID[id] = max(rs.sponsorID[id], s.Boost)
		} else {
			b := key(s.Brand)
			rs.sponsorBrand[b] = max(rs.sponsorBrand[b], s.Boost)
		}
	}
	return rs
}

func (rs *ruleSet) empty() bool {
	return len(rs.byID)+len(rs.byBrand)+len(rs.byCategory)+len(rs.sponsorID)+len(rs.sponsorBrand) == 0
}

// boost is the summed weight of the boost rules matching p's id, brand and
// category levels (each distinct level once).
func (rs *ruleSet) boost(id, brand string, category []string) float64 {
	w := rs.byID[id]
	if len(rs.byBrand) > 0 && brand != "" {
		w += rs.byBrand[strings.ToLower(brand)]
	}
	if len(rs.byCategory) > 0 {
		for i, c := range category {
			c = strings.ToLower(c)
			dup := false
			for _, prev := range category[:i] {
				if strings.EqualFold(prev, c) {
					dup = true
					break
				}
			}
			if !dup {
				w += rs.byCategory[c]
			}
		}
	}
	return w
}

// sponsor is the largest boost of the sponsored rules matching id or brand,
// 0 if none.
func (rs *ruleSet) sponsor(id, brand string) float64 {
	b := rs.sponsorID[id]
	if len(rs.sponsorBrand) > 0 && brand != "" {
		b = max(b, rs.sponsorBrand[strings.ToLower(brand)])
	}
	return b
}
