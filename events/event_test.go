package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestParseRows(t *testing.T) {
	ms := testNow.Add(-time.Minute).UnixMilli()
	cases := []struct {
		name   string
		body   string
		ctype  string
		reason string // "" = accepted
	}{
		{"view", `{"type":"view","user_id":"u","product_id":"p"}`, "", ""},
		{"rfc3339", `{"type":"click","user_id":"u","product_id":"p","ts":"2026-11-27T11:59:00Z"}`, "", ""},
		{"unix ms", fmt.Sprintf(`{"type":"purchase","session_id":"s","product_id":"p","ts":%d,"price":4995,"quantity":2}`, ms), "", ""},
		{"unix ms string", fmt.Sprintf(`{"type":"add_to_cart","user_id":"u","product_id":"p","ts":"%d"}`, ms), "", ""},
		{"search", `{"type":"search","user_id":"u","query":"ink"}`, "", ""},
		{"upper type", `{"type":"VIEW","user_id":"u","product_id":"p"}`, "", ""},
		{"malformed", `{"type":"view",`, "", ReasonMalformed},
		{"not object", `42`, "", ReasonMalformed},
		{"bad ts", `{"type":"view","user_id":"u","product_id":"p","ts":"yesterday"}`, "", ReasonMalformed},
		{"unknown type", `{"type":"wishlist","user_id":"u","product_id":"p"}`, "", ReasonUnknownType},
		{"missing type", `{"user_id":"u","product_id":"p"}`, "", ReasonUnknownType},
		{"missing user", `{"type":"view","product_id":"p"}`, "", ReasonMissingUser},
		{"missing product", `{"type":"click","user_id":"u"}`, "", ReasonMissingProduct},
		{"search no query", `{"type":"search","user_id":"u"}`, "", ReasonBadValue},
		{"future", `{"type":"view","user_id":"u","product_id":"p","ts":"2026-11-27T12:06:00Z"}`, "", ReasonFutureTimestamp},
		{"skew ok", `{"type":"view","user_id":"u","product_id":"p","ts":"2026-11-27T12:04:00Z"}`, "", ""},
		{"too old", `{"type":"view","user_id":"u","product_id":"p","ts":"2026-11-01T00:00:00Z"}`, "", ReasonTooOld},
		{"long id", `{"type":"view","user_id":"` + strings.Repeat("x", 129) + `","product_id":"p"}`, "", ReasonTooLong},
		{"negative price", `{"type":"view","user_id":"u","product_id":"p","price":-1}`, "", ReasonBadValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc, rej, err := Parse(strings.NewReader(c.body), "application/x-ndjson", Limits{}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if c.reason == "" {
				if len(acc) != 1 || len(rej) != 0 {
					t.Fatalf("accepted %v rejected %v, want 1 accepted", acc, rej)
				}
				e := acc[0]
				if e.ID == "" || e.TS.IsZero() || e.Quantity < 1 || !e.Type.valid() {
					t.Fatalf("defaults not filled: %+v", e)
				}
				return
			}
			if len(acc) != 0 || len(rej) != 1 || rej[0].Reason != c.reason || rej[0].Row != 0 || rej[0].Detail == "" {
				t.Fatalf("accepted %v rejected %+v, want one %s with a detail", acc, rej, c.reason)
			}
		})
	}
}

func TestParseDefaultsAndIDs(t *testing.T) {
	body := `[{"type":"view","user_id":"u","product_id":"p"},
	          {"id":"e1","type":"view","user_id":"u","product_id":"p","ts":"2026-11-27T11:00:00Z"},
	          {"id":"e1","type":"click","user_id":"u","product_id":"p"}]`
	acc, rej, err := Parse(strings.NewReader(body), "application/json", Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || len(rej) != 1 || rej[0].Row != 2 || rej[0].Reason != ReasonDuplicate {
		t.Fatalf("acc %d rej %+v", len(acc), rej)
	}
	if !acc[0].TS.Equal(testNow) || acc[0].ID == "" || acc[0].ID == "e1" {
		t.Fatalf("first event %+v: want ts=now and a server id", acc[0])
	}
	if acc[1].ID != "e1" || !acc[1].TS.Equal(testNow.Add(-time.Hour)) {
		t.Fatalf("second event %+v: client id and ts must be kept", acc[1])
	}
}

func TestParseMixedArrayAndNDJSON(t *testing.T) {
	// Row numbers skip blank lines and name each rejected row.
	nd := "{\"type\":\"view\",\"user_id\":\"u\",\"product_id\":\"p\"}\n\n{\"type\":\"nope\"}\n{bad\n{\"type\":\"click\",\"user_id\":\"u\",\"product_id\":\"q\"}\n"
	acc, rej, err := Parse(strings.NewReader(nd), "", Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || len(rej) != 2 || rej[0].Row != 1 || rej[0].Reason != ReasonUnknownType || rej[1].Row != 2 || rej[1].Reason != ReasonMalformed {
		t.Fatalf("acc %d rej %+v", len(acc), rej)
	}
	// An array whose element is a syntax error keeps the rows before it.
	arr := `[{"type":"view","user_id":"u","product_id":"p"}, {"type": }]`
	acc, rej, err = Parse(strings.NewReader(arr), "application/json", Limits{}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 1 || len(rej) != 1 || rej[0].Reason != ReasonMalformed {
		t.Fatalf("acc %d rej %+v", len(acc), rej)
	}
}

func TestParseBatchLimits(t *testing.T) {
	row := `{"type":"view","user_id":"u","product_id":"p"}`
	lim := Limits{MaxEvents: 3, MaxBytes: 400}
	four := "[" + strings.Repeat(row+",", 3) + row + "]"
	if _, _, err := Parse(strings.NewReader(four), "application/json", lim, testNow); !isTooLarge(err) {
		t.Fatalf("4 rows with MaxEvents 3: %v, want ErrTooLarge", err)
	}
	if _, _, err := Parse(strings.NewReader(strings.Repeat(row+"\n", 4)), "application/x-ndjson", lim, testNow); !isTooLarge(err) {
		t.Fatalf("4 NDJSON rows with MaxEvents 3: %v, want ErrTooLarge", err)
	}
	big := `[{"type":"view","user_id":"u","product_id":"` + strings.Repeat("p", 400) + `"}]`
	if _, _, err := Parse(strings.NewReader(big), "application/json", lim, testNow); !isTooLarge(err) {
		t.Fatalf("body over MaxBytes: %v, want ErrTooLarge", err)
	}
	three := "[" + strings.Repeat(row+",", 2) + row + "]"
	acc, _, err := Parse(strings.NewReader(three), "application/json", lim, testNow)
	if err != nil || len(acc) != 3 {
		t.Fatalf("3 rows at the limit: %d accepted, %v", len(acc), err)
	}
	for _, body := range []string{"", "   ", "[", "[1"} {
		if _, _, err := Parse(strings.NewReader(body), "application/json", lim, testNow); err == nil && body != "[1" {
			t.Errorf("Parse(%q) = nil error, want ErrNoEvents", body)
		}
	}
}

func isTooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), ErrTooLarge.Error())
}

func TestEventJSONRoundTrip(t *testing.T) {
	for _, in := range []Event{
		{ID: "x", Type: Purchase, UserID: "u", ProductID: "p", TS: testNow.Add(123 * time.Millisecond), Price: 10, Quantity: 2, Source: "web"},
		{ID: "q\"<\\", Type: Search, SessionID: "s\n\x01", Query: "tinte für \"hp\" – 61", TS: testNow},
	} {
		b, err := json.Marshal(in)
		if err != nil || !json.Valid(b) {
			t.Fatalf("%s: %v", b, err)
		}
		var out Event
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if !out.TS.Equal(in.TS) {
			t.Fatalf("round trip %s → %+v", b, out)
		}
		out.TS = in.TS
		if out != in {
			t.Fatalf("round trip %s → %+v, want %+v", b, out, in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`[{"type":"view","user_id":"u","product_id":"p"}]`,
		`{"type":"search","user_id":"u","query":"ink","ts":1764244800000}`,
		"{\"type\":\"view\",\"user_id\":\"u\",\"product_id\":\"p\"}\n{bad",
		`[{"type":"wishlist"},{"type":"view","ts":"2030-01-01T00:00:00Z","user_id":"u","product_id":"p"}]`,
		`[1,2,3]`, `null`, `[`,
	} {
		f.Add(s, "application/json")
		f.Add(s, "application/x-ndjson")
	}
	f.Fuzz(func(t *testing.T, body, ctype string) {
		lim := Limits{MaxEvents: 50, MaxBytes: 4096}
		acc, rej, err := Parse(strings.NewReader(body), ctype, lim, testNow)
		if err != nil {
			if len(acc) != 0 || len(rej) != 0 {
				t.Fatalf("error %v with results", err)
			}
			return
		}
		if len(acc)+len(rej) > lim.MaxEvents+1 {
			t.Fatalf("%d rows from a batch limited to %d", len(acc)+len(rej), lim.MaxEvents)
		}
		ids := map[string]bool{}
		for _, e := range acc {
			if Check(&e, testNow, lim) != nil || e.ID == "" || ids[e.ID] {
				t.Fatalf("accepted an invalid or duplicate event %+v", e)
			}
			ids[e.ID] = true
		}
		for _, r := range rej {
			if r.Reason == "" {
				t.Fatalf("rejection without reason: %+v", r)
			}
		}
	})
}

// recordStream records published events; fail makes Publish return it.
type recordStream struct {
	got  []Event
	fail error
}

func (s *recordStream) Publish(_ context.Context, evs []Event) error {
	if s.fail != nil {
		return s.fail
	}
	s.got = append(s.got, evs...)
	return nil
}

func (s *recordStream) Consume(ctx context.Context, _ ApplyFunc) error {
	<-ctx.Done()
	return ctx.Err()
}
func (s *recordStream) Close() error { return nil }

func TestHandler(t *testing.T) {
	rs := &recordStream{}
	h := Handler(rs, Limits{MaxEvents: 5}, func() time.Time { return testNow }, nil)
	do := func(method, body string) (*httptest.ResponseRecorder, IngestResponse) {
		req := httptest.NewRequest(method, "/api/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var r IngestResponse
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		return w, r
	}
	w, r := do("POST", `[{"type":"view","user_id":"u","product_id":"p"},{"type":"bogus","user_id":"u"},{"type":"view","user_id":"u","product_id":"p","ts":"2027-01-01T00:00:00Z"}]`)
	if w.Code != http.StatusAccepted || r.Accepted != 1 || r.Rejected != 2 || len(r.Errors) != 2 ||
		r.Errors[0].Row != 1 || r.Errors[0].Reason != ReasonUnknownType || r.Errors[1].Reason != ReasonFutureTimestamp {
		t.Fatalf("mixed batch: %d %+v", w.Code, r)
	}
	if len(rs.got) != 1 {
		t.Fatalf("published %d events, want the 1 accepted", len(rs.got))
	}
	if w, r = do("POST", `not json at all`); w.Code != http.StatusBadRequest || r.Rejected != 1 {
		t.Fatalf("garbage: %d %+v", w.Code, r)
	}
	if w, _ = do("POST", ``); w.Code != http.StatusBadRequest {
		t.Fatalf("empty body: %d", w.Code)
	}
	six := "[" + strings.Repeat(`{"type":"view","user_id":"u","product_id":"p"},`, 5) + `{"type":"view","user_id":"u","product_id":"p"}]`
	if w, r = do("POST", six); w.Code != http.StatusRequestEntityTooLarge || r.Accepted != 0 || r.Error == "" {
		t.Fatalf("oversize: %d %+v", w.Code, r)
	}
	if w, _ = do("GET", ``); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", w.Code)
	}
	rs.fail = ErrBusy
	n := len(rs.got)
	if w, r = do("POST", `[{"type":"view","user_id":"u","product_id":"p"}]`); w.Code != http.StatusServiceUnavailable || r.Accepted != 0 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("busy: %d %+v", w.Code, r)
	}
	if len(rs.got) != n {
		t.Fatal("busy stream recorded events")
	}
}

func TestHandlerNDJSONBody(t *testing.T) {
	rs := &recordStream{}
	h := Handler(rs, Limits{}, nil, nil)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range 3 {
		_ = enc.Encode(Event{ID: fmt.Sprint("n", i), Type: Click, UserID: "u", ProductID: "p", TS: time.Now()})
	}
	req := httptest.NewRequest("POST", "/api/events", &buf)
	req.Header.Set("Content-Type", "application/x-ndjson")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted || len(rs.got) != 3 || rs.got[2].ID != "n2" {
		t.Fatalf("%d %s, published %d", w.Code, w.Body, len(rs.got))
	}
}

// TestParseLargeNDJSON: a full-size generated NDJSON batch is accepted row
// for row (rows must not alias a reused read buffer).
func TestParseLargeNDJSON(t *testing.T) {
	ids, _ := benchProducts(100)
	evs := NewGenerator(1, ids, 10, 1.1).Next(DefaultMaxEvents)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range evs {
		_ = enc.Encode(&evs[i])
	}
	acc, rej, err := Parse(&buf, "application/x-ndjson", Limits{}, time.Now())
	if err != nil || len(rej) != 0 || len(acc) != len(evs) {
		t.Fatalf("accepted %d of %d, rejected %v, err %v", len(acc), len(evs), rej, err)
	}
	for i := range acc {
		if acc[i].ID != evs[i].ID || acc[i].ProductID != evs[i].ProductID || acc[i].Type != evs[i].Type {
			t.Fatalf("row %d: %+v, sent %+v", i, acc[i], evs[i])
		}
	}
}
