package ranking

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadRulesExample(t *testing.T) {
	r, err := LoadRules("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{
		Boosts:       []BoostRule{{Brand: "HP", Weight: 0.1}, {Category: "Notebooks", Weight: -0.05}, {ProductID: "123", Weight: 0.2}},
		Sponsored:    []SponsoredRule{{ProductID: "456", Boost: 0.3}, {Brand: "Logitech", Boost: 0.2}},
		MaxSponsored: 1,
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if _, err := NewRanker(nil, RankerConfig{Rules: r}); err != nil {
		t.Fatal(err)
	}
}

func TestRulesParseErrors(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"unknown field", `{"boosts": [{"brnad": "HP", "weight": 1}]}`, `unknown field "brnad"`},
		{"category in sponsored", `{"sponsored": [{"category": "x", "boost": 1}]}`, `unknown field "category"`},
		{"top-level typo", `{"boost": []}`, `unknown field "boost"`},
		{"wrong type", "{\n  \"boosts\": [{\"brand\": \"HP\", \"weight\": \"high\"}]}", `line 2: field "boosts.weight": want float64, got JSON string`},
		{"wrong type max", `{"max_sponsored": 1.5}`, `field "max_sponsored"`},
		{"syntax", "{\n\"boosts\": [,]}", "line 2 column 12"},
		{"empty", ``, "empty file"},
		{"not an object", `[]`, "want a JSON object, got JSON array"},
		{"trailing data", `{} {}`, "data after the rules object"},
		{"no selector", `{"boosts": [{"weight": 1}]}`, "boosts[0]: set exactly one of product_id, brand, category (0 set)"},
		{"two selectors", `{"boosts": [{"brand": "a", "weight": 1}, {"brand": "HP", "category": "x", "weight": 1}]}`, "boosts[1]: set exactly one of product_id, brand, category (2 set)"},
		{"blank selector", `{"boosts": [{"brand": "  ", "weight": 1}]}`, "boosts[0]: set exactly one"},
		{"zero weight", `{"boosts": [{"brand": "HP"}]}`, "boosts[0].weight: want a non-zero finite number, got 0"},
		{"sponsored two", `{"sponsored": [{"brand": "a", "product_id": "1", "boost": 1}]}`, "sponsored[0]: set exactly one of product_id, brand (2 set)"},
		{"sponsored no boost", `{"sponsored": [{"brand": "a"}]}`, "sponsored[0].boost: want a finite number > 0, got 0"},
		{"sponsored negative", `{"sponsored": [{"brand": "a", "boost": -1}]}`, "sponsored[0].boost"},
		{"max negative", `{"max_sponsored": -1}`, "max_sponsored: want >= 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseRules(%s) = %v, want %q", c.json, err, c.want)
			}
		})
	}
}

func TestLoadRulesNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(path, []byte(`{"boosts": [{"brand": "HP"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadRules(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "boosts[0].weight") {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadRules(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}
