package events

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"
)

// Type is an event's kind.
type Type string

// Event types.
const (
	View      Type = "view"
	Click     Type = "click"
	AddToCart Type = "add_to_cart"
	Purchase  Type = "purchase"
	Search    Type = "search"
)

// Types lists every accepted event type.
var Types = []Type{View, Click, AddToCart, Purchase, Search}

func (t Type) valid() bool {
	switch t {
	case View, Click, AddToCart, Purchase, Search:
		return true
	}
	return false
}

// Event is one shopper action. JSON field names are the wire format of
// POST /api/events and of the widget's event frames.
type Event struct {
	// ID identifies the event for idempotency: a client may supply one (a
	// retried batch with the same ids is applied once); otherwise the server
	// assigns one on acceptance.
	ID   string `json:"id,omitempty"`
	Type Type   `json:"type"`
	// UserID or SessionID (at least one) names the shopper; a profile is
	// keyed by UserID when set, else by SessionID (see Event.Shopper).
	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	// ProductID is required for every type except search.
	ProductID string `json:"product_id,omitempty"`
	// TS is when the action happened; on the wire RFC 3339 or unix
	// milliseconds; missing means the time of acceptance.
	TS time.Time `json:"ts"`
	// Price (minor units) and Quantity are optional; Quantity <= 0 means 1.
	Price    int64  `json:"price,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	Source   string `json:"source,omitempty"`
	// Query is the text of a search event.
	Query string `json:"query,omitempty"`
}

// Shopper is the profile key: UserID when set, else SessionID.
func (e *Event) Shopper() string {
	if e.UserID != "" {
		return e.UserID
	}
	return e.SessionID
}

// wireEvent decodes ts in either form.
type wireEvent struct {
	ID        string          `json:"id"`
	Type      Type            `json:"type"`
	UserID    string          `json:"user_id"`
	SessionID string          `json:"session_id"`
	ProductID string          `json:"product_id"`
	TS        json.RawMessage `json:"ts"`
	Price     int64           `json:"price"`
	Quantity  int             `json:"quantity"`
	Source    string          `json:"source"`
	Query     string          `json:"query"`
}

// UnmarshalJSON accepts ts as an RFC 3339 string or unix milliseconds.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	return w.to(e)
}

func (w *wireEvent) to(e *Event) error {
	ts, err := parseTS(w.TS)
	if err != nil {
		return err
	}
	*e = Event{ID: w.ID, Type: w.Type, UserID: w.UserID, SessionID: w.SessionID, ProductID: w.ProductID,
		TS: ts, Price: w.Price, Quantity: w.Quantity, Source: w.Source, Query: w.Query}
	return nil
}

// MarshalJSON writes ts as unix milliseconds (compact, exact for stored
// events); empty optional fields are left out.
func (e Event) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 192)
	b = append(b, '{')
	field := func(name, v string, always bool) {
		if v == "" && !always {
			return
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = appendJSONString(b, v)
	}
	field("id", e.ID, false)
	field("type", string(e.Type), true)
	field("user_id", e.UserID, false)
	field("session_id", e.SessionID, false)
	field("product_id", e.ProductID, false)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.TS.UnixMilli(), 10)
	if e.Price != 0 {
		b = append(b, `,"price":`...)
		b = strconv.AppendInt(b, e.Price, 10)
	}
	if e.Quantity != 0 {
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(e.Quantity), 10)
	}
	field("source", e.Source, false)
	field("query", e.Query, false)
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string: plain printable ASCII as is,
// anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func parseTS(raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == `""` {
		return time.Time{}, nil
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, err
		}
		if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
			return t, nil
		}
		if ms, err := strconv.ParseInt(str, 10, 64); err == nil {
			return time.UnixMilli(ms), nil
		}
		return time.Time{}, fmt.Errorf("ts %q is neither RFC 3339 nor unix milliseconds", str)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e15 {
		return time.Time{}, fmt.Errorf("ts %s is not unix milliseconds", s)
	}
	return time.UnixMilli(int64(f)), nil
}

// Reasons a row is rejected, as reported per row by Parse and the HTTP
// handler.
const (
	ReasonMalformed       = "malformed"
	ReasonUnknownType     = "unknown_type"
	ReasonMissingUser     = "missing_user"
	ReasonMissingProduct  = "missing_product"
	ReasonFutureTimestamp = "future_timestamp"
	ReasonTooOld          = "too_old"
	ReasonTooLong         = "field_too_long"
	ReasonBadValue        = "bad_value"
	ReasonDuplicate       = "duplicate_id"
)

// Rejection says why one row of a batch was not accepted. Row counts from 0
// in the order of the batch (array element or NDJSON line, blank lines not
// counted).
type Rejection struct {
	Row    int    `json:"row"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// Limits bound a batch and the values of its events. Zero fields take the
// defaults below.
type Limits struct {
	// MaxEvents is the most rows in one batch (default 1000).
	MaxEvents int
	// MaxBytes is the largest body (default 1 MiB).
	MaxBytes int64
	// MaxFuture is how far ahead of the server clock a ts may be (default
	// 5 minutes, for client clock skew).
	MaxFuture time.Duration
	// MaxAge is how old a ts may be (default 7 days).
	MaxAge time.Duration
	// MaxFieldLen bounds every string field in bytes (default 128; Query
	// gets 4 × MaxFieldLen).
	MaxFieldLen int
}

// Default limits.
const (
	DefaultMaxEvents   = 1000
	DefaultMaxBytes    = 1 << 20
	DefaultMaxFuture   = 5 * time.Minute
	DefaultMaxAge      = 7 * 24 * time.Hour
	DefaultMaxFieldLen = 128
)

func (l Limits) withDefaults() Limits {
	if l.MaxEvents <= 0 {
		l.MaxEvents = DefaultMaxEvents
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFuture <= 0 {
		l.MaxFuture = DefaultMaxFuture
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultMaxAge
	}
	if l.MaxFieldLen <= 0 {
		l.MaxFieldLen = DefaultMaxFieldLen
	}
	return l
}

// ErrTooLarge is returned by Parse when the batch has more than MaxEvents
// rows or more than MaxBytes bytes: the whole batch is rejected (HTTP 413).
var ErrTooLarge = errors.New("events: batch too large")

// ErrNoEvents is returned by Parse when the body holds no row at all or is
// not a JSON array / NDJSON (HTTP 400).
var ErrNoEvents = errors.New("events: no events in body")

// Parse reads a batch: a JSON array of events, or NDJSON (one event per
// line) when contentType is application/x-ndjson, application/jsonl or the
// body does not start with '['. It validates each row with Check against
// now and returns the accepted events (defaults filled, ids assigned) and a
// Rejection per refused row; an oversize batch returns ErrTooLarge and
// nothing else. Ids repeated within the batch are rejected as duplicates
// after the first.
func Parse(r io.Reader, contentType string, lim Limits, now time.Time) (accepted []Event, rejected []Rejection, err error) {
	lim = lim.withDefaults()
	body, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("events: read body: %w", err)
	}
	if int64(len(body)) > lim.MaxBytes {
		return nil, nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	rows, err := splitRows(body, contentType, lim.MaxEvents)
	if err != nil {
		return nil, nil, err
	}
	seen := make(map[string]int, len(rows))
	for i, raw := range rows {
		// Decoding into wireEvent directly (not via Event.UnmarshalJSON)
		// scans each row twice instead of three times.
		var w wireEvent
		var e Event
		err := json.Unmarshal(raw, &w)
		if err == nil {
			err = w.to(&e)
		}
		if err != nil {
			rejected = append(rejected, Rejection{Row: i, Reason: ReasonMalformed, Detail: shorten(err.Error())})
			continue
		}
		if rej := Check(&e, now, lim); rej != nil {
			rej.Row = i
			rejected = append(rejected, *rej)
			continue
		}
		if e.ID != "" {
			if first, dup := seen[e.ID]; dup {
				rejected = append(rejected, Rejection{Row: i, Reason: ReasonDuplicate, Detail: fmt.Sprintf("id %q already used by row %d", e.ID, first)})
				continue
			}
			seen[e.ID] = i
		} else {
			e.ID = NewID()
		}
		accepted = append(accepted, e)
	}
	return accepted, rejected, nil
}

// splitRows returns the raw rows of a JSON array or of NDJSON.
func splitRows(body []byte, contentType string, maxRows int) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrNoEvents)
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	ndjson := mt == "application/x-ndjson" || mt == "application/ndjson" || mt == "application/jsonl" || mt == "application/json-lines"
	if !ndjson && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoEvents, err)
		}
		var rows []json.RawMessage
		for dec.More() {
			if len(rows) == maxRows {
				return nil, fmt.Errorf("%w: more than %d events", ErrTooLarge, maxRows)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				if len(rows) == 0 {
					return nil, fmt.Errorf("%w: %v", ErrNoEvents, err)
				}
				// A syntax error ends the array: the rest of the body is
				// one malformed row.
				rows = append(rows, json.RawMessage(`!`))
				return rows, nil
			}
			rows = append(rows, raw)
		}
		if _, err := dec.Token(); err != nil {
			if len(rows) == 0 {
				return nil, fmt.Errorf("%w: %v", ErrNoEvents, err)
			}
			rows = append(rows, json.RawMessage(`!`))
		}
		return rows, nil
	}
	var rows []json.RawMessage
	for rest := trimmed; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(rows) == maxRows {
			return nil, fmt.Errorf("%w: more than %d events", ErrTooLarge, maxRows)
		}
		rows = append(rows, json.RawMessage(line))
	}
	return rows, nil
}

// Check validates one decoded event against now and fills its defaults (a
// zero TS becomes now, Quantity <= 0 becomes 1, the type is lower-cased). It
// returns nil when the event is acceptable; Row of the result is 0. Use it
// for events that do not come through Parse, such as widget frames.
func Check(e *Event, now time.Time, lim Limits) *Rejection {
	lim = lim.withDefaults()
	e.Type = Type(strings.ToLower(strings.TrimSpace(string(e.Type))))
	switch {
	case e.Type == "":
		return &Rejection{Reason: ReasonUnknownType, Detail: "type is missing"}
	case !e.Type.valid():
		return &Rejection{Reason: ReasonUnknownType, Detail: fmt.Sprintf("type %q is not one of view, click, add_to_cart, purchase, search", shorten(string(e.Type)))}
	case e.UserID == "" && e.SessionID == "":
		return &Rejection{Reason: ReasonMissingUser, Detail: "user_id or session_id is required"}
	case e.ProductID == "" && e.Type != Search:
		return &Rejection{Reason: ReasonMissingProduct, Detail: fmt.Sprintf("%s needs a product_id", e.Type)}
	case e.Type == Search && e.Query == "" && e.ProductID == "":
		return &Rejection{Reason: ReasonBadValue, Detail: "search needs a query"}
	}
	for name, v := range map[string]string{"id": e.ID, "user_id": e.UserID, "session_id": e.SessionID, "product_id": e.ProductID, "source": e.Source} {
		if len(v) > lim.MaxFieldLen {
			return &Rejection{Reason: ReasonTooLong, Detail: fmt.Sprintf("%s has %d bytes (max %d)", name, len(v), lim.MaxFieldLen)}
		}
	}
	if len(e.Query) > 4*lim.MaxFieldLen {
		return &Rejection{Reason: ReasonTooLong, Detail: fmt.Sprintf("query has %d bytes (max %d)", len(e.Query), 4*lim.MaxFieldLen)}
	}
	if e.Price < 0 || e.Quantity < 0 || e.Quantity > 10000 {
		return &Rejection{Reason: ReasonBadValue, Detail: "price must be >= 0 and quantity in 0..10000"}
	}
	if e.Quantity == 0 {
		e.Quantity = 1
	}
	if e.TS.IsZero() {
		e.TS = now
	}
	switch {
	case e.TS.After(now.Add(lim.MaxFuture)):
		return &Rejection{Reason: ReasonFutureTimestamp, Detail: fmt.Sprintf("ts %s is more than %v ahead of the server clock", e.TS.UTC().Format(time.RFC3339), lim.MaxFuture)}
	case e.TS.Before(now.Add(-lim.MaxAge)):
		return &Rejection{Reason: ReasonTooOld, Detail: fmt.Sprintf("ts %s is more than %v old", e.TS.UTC().Format(time.RFC3339), lim.MaxAge)}
	}
	return nil
}

// NewID returns a new event id: 96 random bits as 16 base64url characters.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go >= 1.24).
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func shorten(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}
