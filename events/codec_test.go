package events

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, in := range []Event{
		{ID: "x", Type: View, UserID: "u", ProductID: "p", TS: time.UnixMilli(1764244800123)},
		{ID: "é\x00\t|", Type: Search, SessionID: "s", Query: "ink \n cartridge", Source: "widget", TS: time.UnixMilli(0), Price: 4995, Quantity: 3},
	} {
		out, err := decodeEvent(appendEvent(nil, &in))
		if err != nil || out != in && !(out.TS.Equal(in.TS) && sameButTS(out, in)) {
			t.Fatalf("round trip %+v → %+v, %v", in, out, err)
		}
	}
	// JSON entries (written by other tools) decode too.
	j, _ := json.Marshal(Event{ID: "j", Type: Click, UserID: "u", ProductID: "p", TS: time.UnixMilli(5)})
	if e, err := decodeEvent(j); err != nil || e.ID != "j" || e.TS.UnixMilli() != 5 {
		t.Fatalf("json entry: %+v %v", e, err)
	}
}

func sameButTS(a, b Event) bool { a.TS, b.TS = time.Time{}, time.Time{}; return a == b }

func FuzzDecodeEvent(f *testing.F) {
	f.Add(appendEvent(nil, &Event{ID: "x", Type: View, UserID: "u", ProductID: "p", TS: time.UnixMilli(1)}))
	f.Add([]byte{1, 200, 1})
	f.Add([]byte(`{"id":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEvent(b)
		if err != nil || len(b) == 0 || b[0] != codecV1 {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		e2, err := decodeEvent(appendEvent(nil, &e))
		if err != nil || !sameButTS(e, e2) || !e.TS.Equal(e2.TS) {
			t.Fatalf("%+v → %+v, %v", e, e2, err)
		}
	})
}

func TestDecodeEntryPacked(t *testing.T) {
	var b []byte
	for i := range 5 {
		b = appendEvent(b, &Event{ID: fmt.Sprint("id", i), Type: View, UserID: "u", ProductID: "p", TS: time.UnixMilli(int64(i))})
	}
	evs := decodeEntry(nil, b)
	if len(evs) != 5 || evs[4].ID != "id4" || evs[4].TS.UnixMilli() != 4 {
		t.Fatalf("%+v", evs)
	}
	// A corrupt tail keeps the events before it.
	if evs := decodeEntry(nil, append(b[:len(b):len(b)], 1, 250)); len(evs) != 5 {
		t.Fatalf("corrupt tail: %d events", len(evs))
	}
}
