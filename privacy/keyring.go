package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// EnvKeys is the environment variable read by KeysFromEnv: key entries
// "id:base64" separated by commas, the first one current.
const EnvKeys = "ASSISTANT_ENCRYPTION_KEYS"

// KeySize is the length of an encryption key: 32 bytes, AES-256.
const KeySize = 32

// MaxKeyIDLen bounds a key id, which is stored in every sealed record.
const MaxKeyIDLen = 32

// sealVersion is the first byte of every sealed record.
const sealVersion byte = 1

// Sizes of the parts of a sealed record.
const (
	nonceSize = 12 // 96-bit random nonce, the GCM standard size
	tagSize   = 16
)

var (
	// ErrNoKeys: no key is configured (empty file or variable).
	ErrNoKeys = errors.New("privacy: no encryption keys configured")
	// ErrKeyFormat wraps every problem with a key file or variable.
	ErrKeyFormat = errors.New("privacy: bad encryption key")
	// ErrMalformed: the bytes are not a sealed record of a known version
	// (too short, or another first byte, such as plaintext JSON).
	ErrMalformed = errors.New("privacy: not a sealed record")
	// ErrUnknownKey: the record was sealed with a key id the keyring does
	// not hold (a retired key, or another deployment's key).
	ErrUnknownKey = errors.New("privacy: record sealed with an unknown key")
	// ErrTampered: authentication failed. The record was changed, or it was
	// sealed for other associated data (moved from another session), or
	// with other key material under the same id.
	ErrTampered = errors.New("privacy: record tampered with or bound to another record")
)

type sealKey struct {
	id   string
	aead cipher.AEAD
}

// Sealer encrypts records at rest for the stores (sessions, events).
// *Keyring implements it: AES-256-GCM, the key id stored with each record
// so keys can rotate. aad binds a record to its place (its store, record
// kind and id): a record moved elsewhere does not open. NeedsRotation
// reports whether a stored record should be sealed again with the current
// key (true for plaintext and for records under an older key); a rotation
// reads each record, and when NeedsRotation, opens it and seals it again.
type Sealer interface {
	Seal(plaintext, aad []byte) []byte
	Open(sealed, aad []byte) ([]byte, error)
	NeedsRotation(sealed []byte) bool
}

var _ Sealer = (*Keyring)(nil)

// Keyring seals and opens records with AES-256-GCM. It holds one or more
// keys by id; the first is current and seals, all of them open, so records
// sealed before a rotation stay readable until re-sealed. A Keyring is
// immutable and safe for concurrent use.
//
// A sealed record is
//
//	version (1 byte, = 1) | id length (1 byte) | key id | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// 30 bytes plus the key id longer than the plaintext. The header (version
// and key id) is authenticated with the caller's associated data, so
// changing any byte makes Open fail.
type Keyring struct {
	keys []sealKey // keys[0] is current
}

// ParseKeys reads key entries "id:base64(32 bytes)" separated by newlines
// or commas; blank entries and lines starting with '#' are skipped. The
// first entry is the current key. Ids are 1–32 characters of letters,
// digits, '.', '_' and '-', each used once. Errors wrap ErrKeyFormat (or
// ErrNoKeys when there is no entry) and name the entry by number, line and
// id, never the key material.
func ParseKeys(text string) (*Keyring, error) {
	kr := &Keyring{}
	seen := map[string]bool{}
	n := 0
	for ln, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			n++
			where := fmt.Sprintf("entry %d (line %d)", n, ln+1)
			id, b64, ok := strings.Cut(entry, ":")
			if !ok {
				return nil, fmt.Errorf("%w: %s is not id:base64", ErrKeyFormat, where)
			}
			if err := checkKeyID(id); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrKeyFormat, where, err)
			}
			if seen[id] {
				return nil, fmt.Errorf("%w: %s: key id %q is used twice", ErrKeyFormat, where, id)
			}
			seen[id] = true
			key, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s, key %q: not standard base64", ErrKeyFormat, where, id)
			}
			if len(key) != KeySize {
				return nil, fmt.Errorf("%w: %s, key %q: %d bytes, want %d", ErrKeyFormat, where, id, len(key), KeySize)
			}
			kr.keys = append(kr.keys, newSealKey(id, key))
		}
	}
	if len(kr.keys) == 0 {
		return nil, ErrNoKeys
	}
	return kr, nil
}

func newSealKey(id string, key []byte) sealKey {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("privacy: " + err.Error()) // unreachable: the length was checked
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("privacy: " + err.Error()) // unreachable: standard nonce and tag sizes
	}
	return sealKey{id: id, aead: aead}
}

func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("key id of %d bytes, want 1..%d", len(id), MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isDigit(c) && !isASCIILetter(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("key id %q has %q; use letters, digits, '.', '_' and '-'", id, c)
		}
	}
	return nil
}

// LoadKeyFile reads a key file: one "id:base64" entry per line, the first
// current (see ParseKeys).
func LoadKeyFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("privacy: key file: %w", err)
	}
	kr, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

// KeysFromEnv parses $ASSISTANT_ENCRYPTION_KEYS (see ParseKeys); unset or
// empty, it returns ErrNoKeys.
func KeysFromEnv() (*Keyring, error) {
	kr, err := ParseKeys(os.Getenv(EnvKeys))
	if err != nil && !errors.Is(err, ErrNoKeys) {
		return nil, fmt.Errorf("$%s: %w", EnvKeys, err)
	}
	return kr, err
}

// GenerateKey returns a new key entry "id:base64" with 32 bytes from
// crypto/rand, for a key file or ASSISTANT_ENCRYPTION_KEYS (the `keygen`
// command). To rotate, put the new entry first and keep the old ones after
// it until every record is re-sealed.
func GenerateKey(id string) (string, error) {
	if err := checkKeyID(id); err != nil {
		return "", fmt.Errorf("%w: %w", ErrKeyFormat, err)
	}
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go >= 1.24).
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// CurrentID is the id of the key that seals.
func (k *Keyring) CurrentID() string { return k.keys[0].id }

// String lists the key ids, current first, and never key material, so a
// Keyring is safe to log.
func (k *Keyring) String() string {
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return fmt.Sprintf("keyring(current %s; keys %s)", ids[0], strings.Join(ids, ","))
}

// AAD builds associated data binding a sealed record to where it belongs:
// scope names the kind of record ("transcript", "session", "profile"), id
// its owner (the session id, the user id). Open with another scope or id
// fails with ErrTampered, so a record copied to another session or owner
// does not open.
func AAD(scope, id string) []byte {
	b := make([]byte, 0, len("shopassist\x00")+len(scope)+1+len(id))
	b = append(b, "shopassist\x00"...)
	b = append(b, scope...)
	b = append(b, 0)
	return append(b, id...)
}

// Seal encrypts plaintext with the current key and a fresh random nonce,
// authenticating aad with it (aad is not stored; Open needs the same).
func (k *Keyring) Seal(plaintext, aad []byte) []byte {
	key := k.keys[0]
	hlen := 2 + len(key.id)
	out := make([]byte, hlen+nonceSize, hlen+nonceSize+len(plaintext)+tagSize)
	out[0] = sealVersion
	out[1] = byte(len(key.id))
	copy(out[2:], key.id)
	nonce := out[hlen : hlen+nonceSize]
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go >= 1.24).
	return key.aead.Seal(out, nonce, plaintext, additional(out[:hlen], aad))
}

// additional is what GCM authenticates: the record header, then aad.
func additional(header, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	return append(append(b, header...), aad...)
}

// parse splits a sealed record into its key id, header, nonce and sealed
// body.
func parse(sealed []byte) (id string, header, nonce, body []byte, err error) {
	if len(sealed) < 2 || sealed[0] != sealVersion {
		return "", nil, nil, nil, ErrMalformed
	}
	hlen := 2 + int(sealed[1])
	if sealed[1] == 0 || len(sealed) < hlen+nonceSize+tagSize {
		return "", nil, nil, nil, ErrMalformed
	}
	return string(sealed[2:hlen]), sealed[:hlen], sealed[hlen : hlen+nonceSize], sealed[hlen+nonceSize:], nil
}

func (k *Keyring) key(id string) (sealKey, bool) {
	for _, key := range k.keys {
		if key.id == id {
			return key, true
		}
	}
	return sealKey{}, false
}

// Open decrypts a record made by Seal with any key of the keyring and the
// same aad. Errors: ErrMalformed, ErrUnknownKey (naming the id) or
// ErrTampered.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	id, header, nonce, body, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	key, ok := k.key(id)
	if !ok {
		return nil, fmt.Errorf("%w %q (this keyring holds %s)", ErrUnknownKey, id, k)
	}
	plain, err := key.aead.Open(nil, nonce, body, additional(header, aad))
	if err != nil {
		return nil, fmt.Errorf("%w (key %q)", ErrTampered, id)
	}
	return plain, nil
}

// NeedsRotation reports whether a record should be re-sealed: true unless
// it is a well-formed record sealed with the current key (so also for
// plaintext and for records under an old or unknown key).
func (k *Keyring) NeedsRotation(sealed []byte) bool {
	id, _, _, _, err := parse(sealed)
	return err != nil || id != k.CurrentID()
}

// IsSealed reports whether b looks like a sealed record (version byte and
// length), so a reader can tell sealed records from plaintext written
// before encryption was turned on. It does not authenticate anything.
func IsSealed(b []byte) bool {
	_, _, _, _, err := parse(b)
	return err == nil
}

// Reseal opens a record and seals it again with the current key when it
// was sealed with another one; changed reports whether out differs from
// sealed. It is the step of a rotation command: read, Reseal, write back
// when changed, and retire the old key once nothing needs rotation.
func (k *Keyring) Reseal(sealed, aad []byte) (out []byte, changed bool, err error) {
	if !k.NeedsRotation(sealed) {
		return sealed, false, nil
	}
	plain, err := k.Open(sealed, aad)
	if err != nil {
		return nil, false, err
	}
	return k.Seal(plain, aad), true, nil
}
