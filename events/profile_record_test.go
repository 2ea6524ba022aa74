package events

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func sampleRecord() *profileRecord {
	return &profileRecord{
		Ep: -5, Last: 1764244800123,
		N:  map[Type]int64{View: 3, Purchase: 1 << 40},
		A:  map[string]float64{"b:é": 1e300, "c:": -0.5, "p:x": math.SmallestNonzeroFloat64},
		RV: []string{"a", "b"}, RVT: []int64{2, -1},
		PU: []string{"c"}, PUT: []int64{5},
		Q: []string{"", "q\x00 ✓"},
	}
}

// sameRecord compares records, floats by their bits (NaN included).
func sameRecord(a, b *profileRecord) bool {
	if len(a.A) != len(b.A) {
		return false
	}
	for k, v := range a.A {
		w, ok := b.A[k]
		if !ok || math.Float64bits(v) != math.Float64bits(w) {
			return false
		}
	}
	x, y := *a, *b
	x.A, y.A = nil, nil
	return reflect.DeepEqual(x, y)
}

func TestProfileRecordRoundTrip(t *testing.T) {
	rec := sampleRecord()
	b := rec.appendTo(nil)
	var got profileRecord
	if err := got.decode(string(b)); err != nil || !sameRecord(&got, rec) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, rec)
	}
	for i := range len(b) { // every truncation fails, none panics
		if err := (&profileRecord{}).decode(string(b[:i])); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded", i, len(b))
		}
	}
	if err := (&profileRecord{}).decode(string(b) + "x"); err == nil {
		t.Fatal("trailing byte: decoded")
	}
}

func FuzzProfileRecordDecode(f *testing.F) {
	f.Add(string(sampleRecord().appendTo(nil)))
	f.Add(string((&profileRecord{}).appendTo(nil)))
	f.Add("\x00\x00\xff\xff\xff\xff\x0f")
	f.Fuzz(func(t *testing.T, s string) {
		var p profileRecord
		if p.decode(s) != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		var q profileRecord
		if err := q.decode(string(p.appendTo(nil))); err != nil || !sameRecord(&p, &q) {
			t.Fatalf("%+v → %+v, %v", p, q, err)
		}
	})
}

// TestTouch: lists keep each id once with its latest ts, most recent first
// (ties: the one touched last first), at most n long; an older ts for an id
// already there changes nothing (as ZADD GT did).
func TestTouch(t *testing.T) {
	var ids []string
	var ts []int64
	for _, x := range []struct {
		id string
		ts int64
	}{{"a", 10}, {"b", 10}, {"c", 5}, {"a", 3}, {"d", 1}, {"c", 12}} {
		ids, ts = touch(ids, ts, x.id, x.ts, 3)
	}
	if got := strings.Join(ids, ","); got != "c,b,a" || !reflect.DeepEqual(ts, []int64{12, 10, 10}) {
		t.Fatalf("ids %s ts %v, want c,b,a [12 10 10]", got, ts)
	}
}
