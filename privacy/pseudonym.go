package privacy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"
)

// MinPseudonymSecret is the shortest secret NewPseudonymizer accepts.
const MinPseudonymSecret = 32

// pseudonymDomain separates these HMACs from any other use of the secret.
const pseudonymDomain = "shopassist/pseudonym/v1\x00"

// Pseudonymizer maps user ids to pseudonymous ids with a keyed hash, for
// events and analytics: the same user id always gives the same pseudonym
// (profiles and counts still add up), different ids give different ones
// (128 bits: collisions are negligible), and without the secret a
// pseudonym can be neither reversed nor recomputed from a guessed id.
// Keep the secret apart from the encryption keys: rotating it changes every
// pseudonym. A Pseudonymizer is safe for concurrent use.
type Pseudonymizer struct {
	macs sync.Pool // of hash.Hash: HMAC-SHA256 keyed with the secret
}

// NewPseudonymizer returns a Pseudonymizer keyed by secret (at least 32
// bytes, e.g. 32 random bytes decoded from a base64 setting).
func NewPseudonymizer(secret []byte) (*Pseudonymizer, error) {
	if len(secret) < MinPseudonymSecret {
		return nil, fmt.Errorf("%w: pseudonym secret of %d bytes, want >= %d", ErrKeyFormat, len(secret), MinPseudonymSecret)
	}
	key := append([]byte(nil), secret...)
	p := &Pseudonymizer{}
	p.macs.New = func() any { return hmac.New(sha256.New, key) }
	return p, nil
}

// ID returns the pseudonym of userID: HMAC-SHA256(secret, domain ||
// userID) truncated to 128 bits, as 22 characters of unpadded base64url
// (safe in URLs, Redis keys and the events' 128-byte id limit). The empty
// id has a pseudonym like any other; callers keep "no user" empty.
func (p *Pseudonymizer) ID(userID string) string {
	m := p.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(pseudonymDomain))
	m.Write([]byte(userID))
	id := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	p.macs.Put(m)
	return id
}
