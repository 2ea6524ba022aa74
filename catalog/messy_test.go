package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

func loadTestdata(t *testing.T, pattern string, m *Mapping) ([]Product, Summary, []QuarantineEntry) {
	t.Helper()
	var q bytes.Buffer
	ps, sum, err := Load(context.Background(), os.DirFS("testdata"), []string{pattern}, m, LoadOptions{Quarantine: &q})
	if err != nil {
		t.Fatalf("Load(%s): %v", pattern, err)
	}
	return ps, sum, parseQuarantine(t, q.Bytes())
}

func parseQuarantine(t *testing.T, b []byte) []QuarantineEntry {
	t.Helper()
	var out []QuarantineEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e QuarantineEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("quarantine line %q: %v", sc.Text(), err)
		}
		if e.Record == nil && e.RecordText == "" && e.RecordBase64 == "" {
			t.Errorf("quarantine entry without the original record: %s", sc.Text())
		}
		out = append(out, e)
	}
	return out
}

func byID(ps []Product) map[string]Product {
	m := map[string]Product{}
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}

// TestMessyJSONL ingests a JSON Lines feed with HTML, duplicates, broken
// rows, bad prices, invalid UTF-8, wrong types and a truncated last line:
// every bad line is quarantined with its reason and line number, and every
// good one is indexed, cleaned and normalised.
func TestMessyJSONL(t *testing.T) {
	ps, sum, q := loadTestdata(t, "messy.jsonl", nil)

	wantQ := map[int]string{ // line -> reason
		4: ReasonMissingID, 5: ReasonMissingTitle, 6: ReasonMissingTitle,
		7: ReasonBadPrice, 8: ReasonBadPrice, 9: ReasonBadPrice,
		10: ReasonInvalidUTF8, 11: ReasonWrongType, 12: ReasonWrongType,
		13: ReasonBadPrice, 14: ReasonWrongType, 15: ReasonParse,
		16: ReasonNotObject, 22: ReasonTruncated,
	}
	gotQ := map[int]string{}
	for _, e := range q {
		if _, dup := gotQ[e.Line]; dup {
			t.Errorf("line %d quarantined twice", e.Line)
		}
		gotQ[e.Line] = e.Reason
		if e.Source != "messy.jsonl" || e.Offset <= 0 {
			t.Errorf("entry for line %d: source %q offset %d", e.Line, e.Source, e.Offset)
		}
	}
	if !reflect.DeepEqual(gotQ, wantQ) {
		t.Errorf("quarantined lines\n got %v\nwant %v", gotQ, wantQ)
	}
	for _, e := range q {
		if e.Line == 10 && e.RecordBase64 == "" {
			t.Errorf("invalid UTF-8 record not kept byte for byte: %+v", e)
		}
		if e.Line == 22 && e.RecordText != `{"id":"Z9","title":"truncated` {
			t.Errorf("truncated record kept as %q", e.RecordText)
		}
	}

	if sum.Read != 21 || sum.Indexed != 6 || sum.Duplicates != 1 || sum.Quarantined != 14 || sum.NearDuplicateGroups != 2 {
		t.Errorf("summary %+v", sum)
	}
	wantByReason := map[string]int{}
	for _, r := range wantQ {
		wantByReason[r]++
	}
	if !reflect.DeepEqual(sum.QuarantinedByReason, wantByReason) {
		t.Errorf("by reason %v, want %v", sum.QuarantinedByReason, wantByReason)
	}
	order := []string{}
	for _, p := range ps {
		order = append(order, p.ID)
	}
	if want := []string{"H1", "A1", "N1", "N2", "F1", "G1"}; !reflect.DeepEqual(order[:6], want) {
		t.Errorf("feed order %v, want %v first", order, want)
	}

	got := byID(ps)
	h1 := got["H1"]
	if h1.Title != "Acme Widget & Co" || h1.Description != "Great widget for home." || h1.Brand != "ACME" ||
		!reflect.DeepEqual(h1.Category, []string{"Tools", "Widgets"}) || h1.Price != 1999 || h1.Currency != "EUR" ||
		h1.Availability != AvailabilityInStock || h1.Rating != 4.5 || h1.ReviewCount != 12 ||
		h1.Attributes["color"] != "Red" || !reflect.DeepEqual(h1.Colors, []string{"red"}) || h1.PriceBand != "10-25" {
		t.Errorf("H1 cleaned to %+v", h1)
	}
	a1 := got["A1"] // the second A1 wins, at the first one's position
	if a1.Title != "Acme Widget & Co" || a1.Description != "Updated." || a1.Price != 2150 || a1.Currency != "EUR" ||
		!reflect.DeepEqual(a1.Category, []string{"Tools", "Widgets"}) || a1.Brand != "ACME" {
		t.Errorf("A1 (last wins) = %+v", a1)
	}
	if a1.Group != h1.Group {
		t.Errorf("H1 and A1 have the same brand and title but groups %q and %q", h1.Group, a1.Group)
	}
	n1, n2 := got["N1"], got["N2"]
	if n1.Group != n2.Group || n1.Group == h1.Group || n2.Brand != "ACME" || n2.Price != 1200 || n2.ListPrice != 1500 {
		t.Errorf("near duplicates N1 %+v N2 %+v", n1, n2)
	}
	f1 := got["F1"]
	if f1.Title != "Widget Pro Max" || f1.Currency != "USD" || f1.Availability != AvailabilityOutOfStock {
		t.Errorf("F1 (NFKC, control and zero-width characters) = %q %+v", f1.Title, f1)
	}
	g1 := got["G1"]
	if g1.Price != -1 || g1.Currency != "" || g1.PriceBand != "" || g1.Availability != AvailabilityOutOfStock ||
		!reflect.DeepEqual(g1.Colors, []string{"grey"}) {
		t.Errorf("G1 (no price, stock 0) = %+v", g1)
	}
}

// TestMessyLatin1 reads the same feed declared as windows-1252: the line
// with Latin-1 bytes is then decoded instead of quarantined.
func TestMessyLatin1(t *testing.T) {
	m := DefaultMapping()
	m.Encoding = "windows-1252"
	ps, sum, _ := loadTestdata(t, "messy.jsonl", m)
	if sum.QuarantinedByReason[ReasonInvalidUTF8] != 0 {
		t.Fatalf("invalid_utf8 still quarantined: %v", sum.QuarantinedByReason)
	}
	if u := byID(ps)["U1"]; u.Title != "Café crème" {
		t.Errorf("U1 title %q, want Café crème", u.Title)
	}
}

// TestMessyCSV covers the CSV reader: wrong field counts, a bad quote,
// invalid UTF-8, a negative price, a missing id, a duplicate and an
// unterminated last row.
func TestMessyCSV(t *testing.T) {
	ps, sum, q := loadTestdata(t, "messy.csv", nil)
	gotQ := map[int]string{}
	for _, e := range q {
		gotQ[e.Line] = e.Reason
		if e.RecordText == "" && e.Reason != ReasonInvalidUTF8 {
			t.Errorf("line %d: row not kept as text: %+v", e.Line, e)
		}
	}
	want := map[int]string{3: ReasonParse, 4: ReasonInvalidUTF8, 5: ReasonBadPrice, 6: ReasonMissingID, 7: ReasonParse, 10: ReasonTruncated}
	if !reflect.DeepEqual(gotQ, want) {
		t.Errorf("quarantined lines\n got %v\nwant %v", gotQ, want)
	}
	if sum.Read != 9 || sum.Indexed != 2 || sum.Duplicates != 1 {
		t.Errorf("summary %+v", sum)
	}
	got := byID(ps)
	c1, c6 := got["c1"], got["c6"]
	if c1.Title != "Blue Mug" || c1.Description != "Updated description" || c1.Price != 549 || !reflect.DeepEqual(c1.Category, []string{"Kitchen", "Mugs"}) {
		t.Errorf("c1 = %+v", c1)
	}
	if c6.Price != 129900 || c6.Brand != "Mugs&Co" || !reflect.DeepEqual(c6.Category, []string{"Kitchen", "Plates"}) {
		t.Errorf("c6 = %+v (brand should take the first spelling)", c6)
	}
}

// TestMessyJSONArray covers the streaming JSON array reader: a non-object
// element, a bad price, double-escaped HTML and an array cut off mid-record.
func TestMessyJSONArray(t *testing.T) {
	ps, sum, q := loadTestdata(t, "messy.json", IcecatMapping())
	reasons := map[int]string{}
	for _, e := range q {
		reasons[e.Index] = e.Reason
	}
	if want := map[int]string{1: ReasonNotObject, 2: ReasonBadPrice, 4: ReasonTruncated}; !reflect.DeepEqual(reasons, want) {
		t.Errorf("quarantined elements %v, want %v", reasons, want)
	}
	if sum.Read != 5 || sum.Indexed != 2 {
		t.Errorf("summary %+v", sum)
	}
	if j1 := byID(ps)["j1"]; j1.Title != "Printer Pro" || j1.Price != 12999 || j1.Currency != "EUR" || j1.Description != "Fast" {
		t.Errorf("j1 = %+v", j1)
	}
}
