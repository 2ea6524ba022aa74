package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/shopassist/shopassist/sessions"
)

// ProtocolVersion is the version of the WebSocket protocol in docs/protocol.md.
const ProtocolVersion = 1

// MaxTextBytes is the largest message text accepted, in bytes of UTF-8.
const MaxTextBytes = 4096

// Frame types sent by the client.
const (
	TypeHello    = "hello"
	TypeMessage  = "message"
	TypeEvent    = "event"
	TypeFeedback = "feedback"
)

// Frame types sent by the server (TypeMessage is shared).
const (
	TypeSession  = "session"
	TypeHistory  = "history"
	TypeTyping   = "typing"
	TypeIntent   = "intent"
	TypeProducts = "products"
	TypeDone     = "done"
	TypeError    = "error"
	// TypeToken carries a piece of a streamed LLM answer; the message frame
	// that follows holds the full, authoritative text.
	TypeToken = "token"
	// TypeHandoff reports a change of the session's handoff state.
	TypeHandoff = "handoff"
	// TypeFeedbackOK confirms that a feedback frame was stored.
	TypeFeedbackOK = "feedback_ok"
)

// Handoff states of a session (frame field "state", operator API "state").
const (
	StateBot            = "bot"             // the assistant answers
	StateHandoffPending = "handoff_pending" // waiting for a person; the assistant still answers
	StateAgent          = "agent"           // a person holds the session; the assistant is silent
)

// Roles of a message frame.
const (
	RoleBot   = "bot"
	RoleAgent = "agent"
)

// Error codes carried by error frames. Each names one cause so a client can
// react without parsing the message.
const (
	CodeInvalidJSON   = "invalid_json"   // the frame is not a JSON object
	CodeInvalidUTF8   = "invalid_utf8"   // the frame is not valid UTF-8
	CodeUnknownType   = "unknown_type"   // "type" missing or not one of the client types
	CodeBadRequest    = "bad_request"    // a field has the wrong type or value
	CodeEmptyText     = "empty_text"     // a message without text
	CodeTooLarge      = "too_large"      // text over MaxTextBytes
	CodeUnavailable   = "unavailable"    // a backend (session store) failed; retry later
	CodeBusy          = "busy"           // the server sheds load; retry later
	CodeTimeout       = "timeout"        // the turn ran past its deadline
	CodeInternal      = "internal"       // a bug; logged on the server
	CodeBinaryMessage = "binary_message" // binary frames are not part of the protocol
	CodeBadEvent      = "bad_event"      // a behaviour event was rejected; the message names the reason
)

// ClientFrame is a decoded client → server frame.
type ClientFrame struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id,omitempty"` // hello
	UserID    string `json:"user_id,omitempty"`    // hello
	ID        string `json:"id,omitempty"`         // message
	Text      string `json:"text,omitempty"`       // message
	// Event is the behaviour event of an event frame, validated by package
	// events when it is handled.
	Event json.RawMessage `json:"event,omitempty"`
	// MessageID, Rating (1 or -1) and Comment are a feedback frame's.
	MessageID string `json:"message_id,omitempty"`
	Rating    int    `json:"rating,omitempty"`
	Comment   string `json:"comment,omitempty"`
}

// ProtocolError is a client mistake answered with an error frame; the
// connection stays open.
type ProtocolError struct {
	Code    string
	Message string
	ReplyTo string
}

func (e *ProtocolError) Error() string { return e.Code + ": " + e.Message }

// maxIDBytes bounds client-chosen ids (message id, session id, user id).
const maxIDBytes = 128

// DecodeClientFrame parses and validates one text frame. It never panics; any
// problem is a *ProtocolError naming the cause.
func DecodeClientFrame(data []byte) (ClientFrame, error) {
	var f ClientFrame
	if !utf8.Valid(data) {
		return f, &ProtocolError{Code: CodeInvalidUTF8, Message: "frame is not valid UTF-8"}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return f, &ProtocolError{Code: CodeInvalidJSON, Message: "frame must be a JSON object"}
	}
	// Decode into raw fields first so a wrongly typed field is reported by
	// name rather than as a generic JSON error.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return f, &ProtocolError{Code: CodeInvalidJSON, Message: "frame is not valid JSON: " + err.Error()}
	}
	str := func(name string, dst *string) error {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return &ProtocolError{Code: CodeBadRequest, Message: fmt.Sprintf("field %q must be a string", name)}
		}
		return nil
	}
	for _, fld := range []struct {
		name string
		dst  *string
	}{{"type", &f.Type}, {"session_id", &f.SessionID}, {"user_id", &f.UserID}, {"id", &f.ID}, {"text", &f.Text},
		{"message_id", &f.MessageID}, {"comment", &f.Comment}} {
		if err := str(fld.name, fld.dst); err != nil {
			return ClientFrame{}, err
		}
	}
	switch f.Type {
	case TypeHello:
		if len(f.SessionID) > maxIDBytes || len(f.UserID) > maxIDBytes {
			return f, &ProtocolError{Code: CodeBadRequest, Message: fmt.Sprintf("session_id and user_id are at most %d bytes", maxIDBytes)}
		}
		return f, nil
	case TypeMessage:
		if len(f.ID) > maxIDBytes {
			return f, &ProtocolError{Code: CodeBadRequest, Message: fmt.Sprintf("id is at most %d bytes", maxIDBytes)}
		}
		if f.ID == "" {
			return f, &ProtocolError{Code: CodeBadRequest, Message: `message needs a non-empty "id"`}
		}
		if len(f.Text) > MaxTextBytes {
			return f, &ProtocolError{Code: CodeTooLarge, ReplyTo: f.ID, Message: fmt.Sprintf("text is %d bytes; the limit is %d", len(f.Text), MaxTextBytes)}
		}
		if len(bytes.TrimSpace([]byte(f.Text))) == 0 {
			return f, &ProtocolError{Code: CodeEmptyText, ReplyTo: f.ID, Message: `message needs a non-empty "text"`}
		}
		return f, nil
	case TypeEvent:
		ev, ok := raw["event"]
		if !ok || len(bytes.TrimSpace(ev)) == 0 || bytes.TrimSpace(ev)[0] != '{' {
			return f, &ProtocolError{Code: CodeBadEvent, Message: `event frame needs an "event" object`}
		}
		f.Event = ev
		return f, nil
	case TypeFeedback:
		if f.MessageID == "" || len(f.MessageID) > maxIDBytes {
			return f, &ProtocolError{Code: CodeBadRequest, Message: fmt.Sprintf(`feedback needs a "message_id" of 1 to %d bytes`, maxIDBytes)}
		}
		if v, ok := raw["rating"]; !ok || (string(v) != "1" && string(v) != "-1") {
			return f, &ProtocolError{Code: CodeBadRequest, Message: `feedback needs "rating": 1 or -1`}
		} else if string(v) == "1" {
			f.Rating = 1
		} else {
			f.Rating = -1
		}
		if len(f.Comment) > MaxTextBytes {
			return f, &ProtocolError{Code: CodeTooLarge, Message: fmt.Sprintf("comment is %d bytes; the limit is %d", len(f.Comment), MaxTextBytes)}
		}
		return f, nil
	case "":
		return f, &ProtocolError{Code: CodeUnknownType, Message: `frame needs a "type"`}
	default:
		return f, &ProtocolError{Code: CodeUnknownType, Message: fmt.Sprintf("unknown frame type %q", f.Type)}
	}
}

// Item is a product as sent in a products frame and by /api/search.
type Item struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Brand    string  `json:"brand,omitempty"`
	Price    float64 `json:"price"`    // in currency units, e.g. 49.95
	Currency string  `json:"currency"` // ISO 4217
	Image    string  `json:"image,omitempty"`
	// URL is the product page; empty when the catalogue has none.
	URL   string  `json:"url"`
	Score float64 `json:"score"`
	// Sponsored marks a paid placement, set by the ranking stage's
	// sponsored rules (Deps.Ranker); always shown as such.
	Sponsored bool `json:"sponsored,omitempty"`
}

// ServerFrame is one server → client frame. Only the fields of its Type are
// set.
type ServerFrame struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id,omitempty"`
	Resumed   *bool  `json:"resumed,omitempty"`
	ReplyTo   string `json:"reply_to,omitempty"`
	Intent    string `json:"intent,omitempty"`
	// Confidence is the intent model's probability for Intent's class.
	Confidence *float64        `json:"confidence,omitempty"`
	ID         string          `json:"id,omitempty"`
	Text       string          `json:"text,omitempty"`
	Items      []Item          `json:"items,omitempty"`
	Turns      []sessions.Turn `json:"turns,omitempty"`
	Code       string          `json:"code,omitempty"`
	Message    string          `json:"message,omitempty"`
	// Role is "agent" on a message an operator wrote; omitted for the
	// assistant's.
	Role string `json:"role,omitempty"`
	// Suggestions are quick replies offered with a message.
	Suggestions []string `json:"suggestions,omitempty"`
	// State is a handoff frame's new handoff state.
	State string `json:"state,omitempty"`
	// MessageID is the message a feedback_ok frame confirms.
	MessageID string `json:"message_id,omitempty"`
}
