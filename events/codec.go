package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
)

// Stream entries hold an event in a compact binary form (no reflection):
// the version byte 1, then id, type, user, session, product, source and
// query as uvarint length + bytes, then ts (unix ms), price and quantity as
// varints. Entries starting with '{' are decoded as JSON, so events written
// by other tools in the JSON wire format are accepted too.
const codecV1 = 1

// appendEvent appends e's binary encoding to b.
func appendEvent(b []byte, e *Event) []byte {
	b = append(b, codecV1)
	for _, s := range [...]string{e.ID, string(e.Type), e.UserID, e.SessionID, e.ProductID, e.Source, e.Query} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, e.TS.UnixMilli())
	b = binary.AppendVarint(b, e.Price)
	return binary.AppendVarint(b, int64(e.Quantity))
}

var errCodec = errors.New("events: corrupt stream entry")

// decodeEntry appends the events of one stream entry (appendEvent outputs
// one after another, or one JSON event) to evs, skipping what does not
// decode.
func decodeEntry(evs []Event, b []byte) []Event {
	if len(b) > 0 && b[0] == '{' {
		if e, err := decodeEvent(b); err == nil && e.ID != "" {
			evs = append(evs, e)
		}
		return evs
	}
	for len(b) > 0 {
		e, n, err := decodeOne(b)
		if err != nil {
			return evs
		}
		if e.ID != "" {
			evs = append(evs, e)
		}
		b = b[n:]
	}
	return evs
}

// decodeEvent decodes one appendEvent output (or JSON).
func decodeEvent(b []byte) (Event, error) {
	var e Event
	if len(b) > 0 && b[0] == '{' {
		err := json.Unmarshal(b, &e)
		return e, err
	}
	e, n, err := decodeOne(b)
	if err == nil && n != len(b) {
		err = errCodec
	}
	return e, err
}

// decodeOne decodes the event at the start of b and returns its length.
func decodeOne(b []byte) (Event, int, error) {
	var e Event
	total := len(b)
	if len(b) == 0 || b[0] != codecV1 {
		return e, 0, errCodec
	}
	b = b[1:]
	var strs [7]string
	for i := range strs {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return e, 0, errCodec
		}
		strs[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var ints [3]int64
	for i := range ints {
		v, k := binary.Varint(b)
		if k <= 0 {
			return e, 0, errCodec
		}
		ints[i] = v
		b = b[k:]
	}
	e = Event{ID: strs[0], Type: Type(strs[1]), UserID: strs[2], SessionID: strs[3], ProductID: strs[4],
		Source: strs[5], Query: strs[6], TS: time.UnixMilli(ints[0]), Price: ints[1], Quantity: int(ints[2])}
	return e, total - len(b), nil
}
