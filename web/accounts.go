package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/shopassist/shopassist/audit"
)

// MinBcryptCost is the lowest bcrypt cost an accounts file may use.
const MinBcryptCost = bcrypt.DefaultCost

// tokenPrefix marks an API token account's third field.
const tokenPrefix = "token-sha256"

// Account is one operator account of an accounts file.
type Account struct {
	Name string
	Role audit.Role
	// hash is the bcrypt hash of a password account; nil for a token
	// account.
	hash []byte
	// token is the SHA-256 of a token account's API token.
	token [32]byte
}

// Accounts are the operator accounts of an accounts file (LoadAccounts).
// Names are unique ignoring case; an Accounts is immutable and safe for
// concurrent use.
type Accounts struct {
	byName  map[string]*Account // by lower-case name
	byToken map[[32]byte]*Account
}

// Len is how many accounts there are.
func (a *Accounts) Len() int { return len(a.byName) }

// lookup finds an account by name, ignoring case and extra spaces.
func (a *Accounts) lookup(name string) *Account {
	if a == nil {
		return nil
	}
	return a.byName[strings.ToLower(strings.Join(strings.Fields(name), " "))]
}

// byBearer finds the token account whose token is tok.
func (a *Accounts) byBearer(tok string) *Account {
	if a == nil || tok == "" {
		return nil
	}
	return a.byToken[sha256.Sum256([]byte(tok))]
}

// LoadAccounts reads an accounts file: one account per line,
//
//	name:role:bcrypt-hash
//	name:role:token-sha256:<64 hex digits>
//
// with role viewer, agent or admin; blank lines and lines starting with
// '#' are skipped. Names are 1–40 letters, digits, single spaces and
// . ' -, unique ignoring case; bcrypt hashes have a cost of at least
// MinBcryptCost; token hashes are the SHA-256 of a random token
// (NewTokenLine makes both). Any other line is an error naming the file
// and line. A file that group or others may write is refused, since
// whoever writes it can make themselves an admin.
func LoadAccounts(path string) (*Accounts, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("web: accounts file: %w", err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("web: accounts file %s is writable by group or others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web: accounts file: %w", err)
	}
	return ParseAccounts(path, string(b))
}

// ParseAccounts reads the text of an accounts file (see LoadAccounts);
// source names it in errors.
func ParseAccounts(source, text string) (*Accounts, error) {
	a := &Accounts{byName: map[string]*Account{}, byToken: map[[32]byte]*Account{}}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		acct, err := parseAccountLine(line)
		if err != nil {
			return nil, fmt.Errorf("web: %s:%d: %w", source, i+1, err)
		}
		key := strings.ToLower(acct.Name)
		if a.byName[key] != nil {
			return nil, fmt.Errorf("web: %s:%d: account %q is defined twice", source, i+1, acct.Name)
		}
		if acct.hash == nil {
			if a.byToken[acct.token] != nil {
				return nil, fmt.Errorf("web: %s:%d: account %q has the same token as %q", source, i+1, acct.Name, a.byToken[acct.token].Name)
			}
			a.byToken[acct.token] = acct
		}
		a.byName[key] = acct
	}
	if len(a.byName) == 0 {
		return nil, fmt.Errorf("web: %s: no accounts", source)
	}
	return a, nil
}

func parseAccountLine(line string) (*Account, error) {
	f := strings.Split(line, ":")
	if len(f) != 3 && len(f) != 4 {
		return nil, errors.New("want name:role:bcrypt-hash or name:role:token-sha256:<hex>")
	}
	name, err := accountName(f[0])
	if err != nil {
		return nil, err
	}
	role, err := audit.ParseRole(f[1])
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", name, err)
	}
	acct := &Account{Name: name, Role: role}
	if len(f) == 4 {
		if f[2] != tokenPrefix {
			return nil, fmt.Errorf("account %q: third field %q, want %s for a token account", name, f[2], tokenPrefix)
		}
		sum, err := hex.DecodeString(f[3])
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("account %q: the token hash must be 64 hex digits (SHA-256)", name)
		}
		copy(acct.token[:], sum)
		return acct, nil
	}
	cost, err := bcrypt.Cost([]byte(f[2]))
	if err != nil {
		return nil, fmt.Errorf("account %q: not a bcrypt hash: %w", name, err)
	}
	if cost < MinBcryptCost {
		return nil, fmt.Errorf("account %q: bcrypt cost %d is below %d", name, cost, MinBcryptCost)
	}
	acct.hash = []byte(f[2])
	return acct, nil
}

// accountName checks a name as written in the file: no leading, trailing
// or double spaces, and the characters of a display name.
func accountName(s string) (string, error) {
	n, err := displayName(s)
	if err != nil {
		return "", fmt.Errorf("account name %q: %w", s, err)
	}
	if n != s {
		return "", fmt.Errorf("account name %q has leading, trailing or repeated spaces", s)
	}
	return n, nil
}

// AccountLine returns an accounts-file line for a password account:
// name:role:bcrypt-hash at MinBcryptCost (for an `assistant operator add`
// command). The password must be at least MinPasswordLen bytes (bcrypt
// reads at most 72).
func AccountLine(name, role, password string) (string, error) {
	if _, err := accountName(name); err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	if _, err := audit.ParseRole(role); err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("web: the password must be at least %d characters", MinPasswordLen)
	}
	if len(password) > 72 {
		return "", errors.New("web: the password must be at most 72 bytes (bcrypt ignores the rest)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), MinBcryptCost)
	if err != nil {
		return "", fmt.Errorf("web: %w", err)
	}
	return name + ":" + role + ":" + string(hash), nil
}

// NewTokenLine makes an API token account: it returns the accounts-file
// line (name:role:token-sha256:<hex>) and the token (256 random bits,
// base64url), which is shown once and never stored. The token is sent as
// "Authorization: Bearer <token>" to the operator API.
func NewTokenLine(name, role string) (line, token string, err error) {
	if _, err := accountName(name); err != nil {
		return "", "", fmt.Errorf("web: %w", err)
	}
	if _, err := audit.ParseRole(role); err != nil {
		return "", "", fmt.Errorf("web: %w", err)
	}
	token = randomToken()
	sum := sha256.Sum256([]byte(token))
	return name + ":" + role + ":" + tokenPrefix + ":" + hex.EncodeToString(sum[:]), token, nil
}

// dummyHash is compared against when the account does not exist, so an
// unknown name costs what a wrong password does.
// It is made on first use: a bcrypt hash costs tens of milliseconds.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("shopassist: no such account"), MinBcryptCost)
	return h
})

// checkPassword reports whether password opens acct (nil: burns the same
// time and fails).
func checkPassword(acct *Account, password string) bool {
	if acct == nil || acct.hash == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(acct.hash, []byte(password)) == nil
}

// sameHash compares two SHA-256 sums in constant time.
func sameHash(a, b [32]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }
