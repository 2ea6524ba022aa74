package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

var fuzzMapping = DefaultMapping()

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		// Each line alone, too: small seeds mutate better.
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
}

// readAll runs one reader over b, checks the invariants every reader
// keeps (records in order, bad ones with a reason, offsets within the
// input) and returns the records.
func readAll(t *testing.T, b []byte, read func(context.Context, string, *bufio.Reader, func(rawRecord) error) error) []rawRecord {
	var recs []rawRecord
	err := read(context.Background(), "fuzz", bufio.NewReaderSize(bytes.NewReader(b), 16), func(r rawRecord) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("reader error on in-memory input: %v", err)
	}
	mp, _ := newMapper(fuzzMapping)
	for i, r := range recs {
		if r.offset < 0 || r.offset > int64(len(b)) {
			t.Fatalf("record %d offset %d outside input of %d bytes", i, r.offset, len(b))
		}
		if i > 0 && r.offset < recs[i-1].offset {
			t.Fatalf("record %d offset %d before record %d's %d", i, r.offset, i-1, recs[i-1].offset)
		}
		if r.bad == "" && r.data == nil && r.fields == nil {
			t.Fatalf("record %d: neither data nor a reason", i)
		}
		// Mapping must never panic, whatever the record holds.
		rr := r
		if rec, reason, _ := mp.decode(&rr); reason == "" {
			mp.product(rec)
		}
		newEntry(&r, "x", "")
	}
	return recs
}

// FuzzParseJSON: the record decoder accepts exactly what encoding/json
// accepts and decodes to the same values.
func FuzzParseJSON(f *testing.F) {
	addSeeds(f, "messy.jsonl", "messy.json")
	for _, s := range []string{`{"a":"\ud83d\ude00\ud800x\u00e9"}`, `[1,-0.5e+3,true,null]`, `"\u0000"`, `{"a":1,"a":2}`, `1e400`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseJSON(b, map[string]string{})
		var want any
		wantErr := json.Unmarshal(b, &want)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("parseJSON(%q): err %v, encoding/json: %v", b, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json = %#v", b, got, want)
		}
		// The record path: reused map, skipped fields validated only.
		obj, isObj := want.(map[string]any)
		if wantErr != nil && !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
			return
		}
		m := map[string]any{"stale": 1}
		skip := func(k string) bool { return len(k)%2 == 1 }
		err = parseJSONObjectInto(b, m, map[string]string{}, map[string]fieldInfo{}, skip)
		if (err == nil) != (wantErr == nil && isObj) {
			t.Fatalf("parseJSONObjectInto(%q): err %v, encoding/json: %v", b, err, wantErr)
		}
		if err != nil {
			return
		}
		for k, v := range obj {
			if !skip(k) && !reflect.DeepEqual(m[k], v) {
				t.Fatalf("parseJSONObjectInto(%q)[%q] = %#v, want %#v", b, k, m[k], v)
			}
		}
		for k := range m {
			if _, ok := obj[k]; !ok || skip(k) {
				t.Fatalf("parseJSONObjectInto(%q) has field %q", b, k)
			}
		}
	})
}

// FuzzJSONArray: whatever the input, the array reader reports every
// element it meets; on a valid array it yields exactly its elements.
func FuzzJSONArray(f *testing.F) {
	addSeeds(f, "messy.json")
	f.Add([]byte(`[]`))
	f.Add([]byte(` [ {"a":"]"} , {"b":"\"}"} , 3, "x" ] `))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs := readAll(t, b, func(ctx context.Context, name string, br *bufio.Reader, emit func(rawRecord) error) error {
			return readJSONArray(ctx, name, br, emit)
		})
		var elems []json.RawMessage
		if json.Unmarshal(b, &elems) != nil {
			return
		}
		if len(recs) != len(elems) {
			t.Fatalf("valid array of %d elements read as %d records", len(elems), len(recs))
		}
		for i, r := range recs {
			if r.bad != "" {
				t.Fatalf("element %d of a valid array marked %s (%s)", i, r.bad, r.detail)
			}
			if !bytes.Equal(r.data, bytes.TrimSpace(elems[i])) {
				t.Fatalf("element %d read as %q, want %q", i, r.data, elems[i])
			}
		}
	})
}

// FuzzJSONL: one record per non-blank line, each with its line number and
// its bytes; only the last line can be truncated.
func FuzzJSONL(f *testing.F) {
	addSeeds(f, "messy.jsonl")
	f.Fuzz(func(t *testing.T, b []byte) {
		recs := readAll(t, b, readJSONL)
		lines := bytes.Split(b, []byte("\n"))
		var want []int
		for i, l := range lines {
			if len(bytes.TrimSpace(l)) > 0 {
				want = append(want, i+1)
			}
		}
		if len(recs) != len(want) {
			t.Fatalf("%d records for %d non-blank lines", len(recs), len(want))
		}
		for i, r := range recs {
			if r.line != want[i] {
				t.Fatalf("record %d at line %d, want %d", i, r.line, want[i])
			}
			if r.bad == "" && !bytes.Equal(r.data, bytes.TrimSpace(lines[r.line-1])) {
				t.Fatalf("line %d read as %q", r.line, r.data)
			}
			if r.bad == ReasonTruncated && i != len(recs)-1 {
				t.Fatalf("line %d marked truncated but is not the last", r.line)
			}
		}
	})
}

// FuzzCSV: on input encoding/csv reads without error, the reader yields
// one record per row with the same fields; on any input it never loses a
// row silently (every row is a record, good or bad).
func FuzzCSV(f *testing.F) {
	addSeeds(f, "messy.csv", "google-merchant.tsv")
	f.Add([]byte("id,title\n1,\"multi\nline\"\n2,x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs := readAll(t, b, readCSV)
		if bytes.ContainsAny(b, "\t;") || bytes.Contains(b, []byte("\r")) || bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
			return // the oracle below is for plain comma files
		}
		cr := csv.NewReader(bytes.NewReader(b))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil || len(rows) == 0 {
			return
		}
		header := rows[0]
		var good [][]string
		for _, r := range rows[1:] {
			if len(r) == 1 && strings.TrimSpace(r[0]) == "" {
				continue
			}
			good = append(good, r)
		}
		if len(recs) != len(good) {
			t.Fatalf("%d records for %d rows", len(recs), len(good))
		}
		for i, r := range recs {
			if len(good[i]) != len(header) {
				if r.bad == "" {
					t.Fatalf("row %d has %d fields for a %d-field header but was not marked bad", i, len(good[i]), len(header))
				}
				continue
			}
			for j, h := range header {
				h = strings.TrimSpace(h)
				if v, _ := r.fields[h].(string); good[i][j] != "" && v != good[i][j] && countOf(header, h) == 1 {
					t.Fatalf("row %d field %q = %q, want %q", i, h, v, good[i][j])
				}
			}
		}
	})
}

func countOf(l []string, s string) int {
	n := 0
	for _, x := range l {
		if strings.TrimSpace(x) == s {
			n++
		}
	}
	return n
}
