package chat

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/sessions"
)

// Redaction. Every text the chat stores — shopper, bot and agent turns,
// feedback comments — goes through privacy.Redact first; the shopper's
// message is redacted before anything else of the turn looks at it
// (intent, dialog, search, the LLM, logs), and a bot or agent answer is
// sent live as written but stored redacted (it may repeat an address). A
// turn's original is kept only when something was redacted and the
// server has a Keyring (Deps.Keys): sealed with AES-256-GCM under
// AAD("original", session id + "/" + message id), base64, in the session's
// metadata under "orig:" + the message id, written with the metadata of
// the same turn (a turn that fails before that write keeps none). Only
// admins read it back, through the operator API (opOriginal).

// aadOriginal binds a sealed original to its session and message.
func aadOriginal(session, msgID string) []byte {
	return privacy.AAD("original", session+"/"+msgID)
}

// originalText is the sealed content of an "orig:" metadata value.
type originalText struct {
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// redactShopper redacts a shopper's text and counts what it replaced in
// shopassist_redactions_total.
func (s *Server) redactShopper(text string) (string, bool) {
	red, spans := privacy.Redact(text)
	for _, sp := range spans {
		s.metrics.redactions.WithLabelValues(sp.Kind.String()).Inc()
	}
	return red, len(spans) > 0
}

// storedTurn returns t as it is stored: its text redacted. When something
// was redacted and the server has keys, the sealed original is added to
// kv (the metadata written with the turn) under "orig:" + t.ID.
func (s *Server) storedTurn(session string, t sessions.Turn, kv map[string]string) sessions.Turn {
	orig := t.Text
	t.Text, _ = privacy.Redact(t.Text)
	s.keepOriginal(session, t, orig, kv)
	return t
}

// keepOriginal adds the sealed original of t (stored redacted) to kv when
// it differs from t's text and the server has keys.
func (s *Server) keepOriginal(session string, t sessions.Turn, original string, kv map[string]string) {
	if s.keys == nil || original == t.Text {
		return
	}
	b, _ := json.Marshal(originalText{Text: original, At: t.At})
	kv[metaOriginal+t.ID] = base64.StdEncoding.EncodeToString(s.keys.Seal(b, aadOriginal(session, t.ID)))
}

// errNoOriginal: the message has no kept original (nothing was redacted,
// no keys were configured, or no such message).
var errNoOriginal = errors.New("chat: no original kept for this message")

// openOriginal decrypts the original of message msgID of a session from
// its metadata.
func (s *Server) openOriginal(session, msgID string, meta map[string]string) (originalText, error) {
	v := meta[metaOriginal+msgID]
	if v == "" {
		return originalText{}, errNoOriginal
	}
	if s.keys == nil {
		return originalText{}, fmt.Errorf("%w: it is sealed but this server has no encryption keys", errNoOriginal)
	}
	sealed, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return originalText{}, fmt.Errorf("chat: original of %s: %w", msgID, err)
	}
	plain, err := s.keys.Open(sealed, aadOriginal(session, msgID))
	if err != nil {
		return originalText{}, fmt.Errorf("chat: original of %s: %w", msgID, err)
	}
	var o originalText
	if err := json.Unmarshal(plain, &o); err != nil {
		return originalText{}, fmt.Errorf("chat: original of %s: %w", msgID, err)
	}
	return o, nil
}
