package sessions

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/shopassist/shopassist/privacy"
)

// Sealer encrypts records at rest (Config.Sealer); see privacy.Sealer.
type Sealer = privacy.Sealer

// ErrCorrupt is returned for a stored record that cannot be decoded: it is
// encrypted but the store has no key, or its key is unknown, or it was
// tampered with or moved to another session.
var ErrCorrupt = errors.New("sessions: record cannot be decoded")

// sealedPrefix marks an encrypted string field (user id, meta values).
const sealedPrefix = "sealed:"

// codec seals what a store writes and opens what it reads. What is sealed:
// every transcript turn (the whole record), the user id and every meta
// value. What stays plain, because the stores index and expire by it:
// session ids, timestamps and turn counts. Each record's associated data
// binds it to its session and field, so a record copied to another session
// does not open. Records written before encryption was turned on (plain
// JSON, plain strings) are read as they are and sealed when next written.
// Safe for concurrent use.
type codec struct{ s Sealer }

func aad(kind, id string) []byte { return []byte("shopassist/sessions/" + kind + "/" + id) }

// sealTurn seals an encoded turn.
func (c codec) sealTurn(id string, b []byte) []byte {
	if c.s == nil {
		return b
	}
	return c.s.Seal(b, aad("turn", id))
}

// openTurn returns an encoded turn's JSON.
func (c codec) openTurn(id string, b []byte) ([]byte, error) {
	if !privacy.IsSealed(b) {
		return b, nil
	}
	if c.s == nil {
		return nil, fmt.Errorf("%w: a turn of %q is encrypted but no encryption key is configured", ErrCorrupt, id)
	}
	p, err := c.s.Open(b, aad("turn", id))
	if err != nil {
		return nil, fmt.Errorf("%w: a turn of %q: %w", ErrCorrupt, id, err)
	}
	return p, nil
}

// sealString seals a string field; "" stays "" (it means absent).
func (c codec) sealString(id, field, v string) string {
	if c.s == nil || v == "" {
		return v
	}
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(c.s.Seal([]byte(v), aad(field, id)))
}

// openString returns a string field's value.
func (c codec) openString(id, field, v string) (string, error) {
	raw, ok := strings.CutPrefix(v, sealedPrefix)
	if !ok {
		return v, nil
	}
	if c.s == nil {
		return "", fmt.Errorf("%w: %s of %q is encrypted but no encryption key is configured", ErrCorrupt, field, id)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s of %q: %w", ErrCorrupt, field, id, err)
	}
	p, err := c.s.Open(b, aad(field, id))
	if err != nil {
		return "", fmt.Errorf("%w: %s of %q: %w", ErrCorrupt, field, id, err)
	}
	return string(p), nil
}

// sealSession returns s with its user id and meta values sealed.
func (c codec) sealSession(s Session) Session {
	if c.s == nil {
		return s
	}
	s.UserID = c.sealString(s.ID, "user_id", s.UserID)
	if len(s.Meta) > 0 {
		m := make(map[string]string, len(s.Meta))
		for k, v := range s.Meta {
			m[k] = c.sealString(s.ID, "meta:"+k, v)
		}
		s.Meta = m
	}
	return s
}

// openSession returns s with its user id and meta values opened.
func (c codec) openSession(s Session) (Session, error) {
	var err error
	if s.UserID, err = c.openString(s.ID, "user_id", s.UserID); err != nil {
		return Session{}, err
	}
	if len(s.Meta) > 0 {
		m := make(map[string]string, len(s.Meta))
		for k, v := range s.Meta {
			if m[k], err = c.openString(s.ID, "meta:"+k, v); err != nil {
				return Session{}, err
			}
		}
		s.Meta = m
	}
	return s, nil
}
