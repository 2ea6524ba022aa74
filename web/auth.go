package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// Names on the wire of the operator sign-in.
const (
	// CookieName is the HttpOnly cookie holding an operator's session token.
	CookieName = "shopassist_console"
	// CSRFHeader must carry the session's CSRF token on every state-changing
	// request (any method but GET, HEAD and OPTIONS). The console reads the
	// token from the login answer or GET /console/session.
	CSRFHeader = "X-CSRF-Token"
	// MinPasswordLen is the shortest operator password accepted.
	MinPasswordLen = 12
	// maxNameRunes bounds the display name an operator signs in with.
	maxNameRunes = 40
	// maxSessions bounds the signed-in sessions kept in memory; past it a
	// sign-in evicts the session closest to expiry.
	maxSessions = 10000
)

// ErrNoPassword is returned by NewOperatorAuth for an empty password: the
// console has no default password and stays disabled without one.
var ErrNoPassword = errors.New("web: the operator console needs a password (there is no default)")

// OperatorAuth signs operators in to the console with one shared password,
// until the security issue brings accounts and roles. An operator signs in
// with the password and a display name ("Alex"); the name is who Authorize
// reports, what the session records as the operator holding a conversation.
//
// A sign-in sets an HttpOnly, SameSite=Strict cookie (Secure when the
// request came over TLS or X-Forwarded-Proto says https) holding a random
// 256-bit token; the server keeps only the token's SHA-256 with the
// operator's name, a CSRF token and the expiry, in memory (a restart signs
// everybody out; each replica has its own sign-ins). The password is compared
// in constant time. Sign-in attempts are rate limited across all clients
// (burst 10, then one per second), which slows guessing at the price of
// letting a flood delay real sign-ins.
//
// CSRF: besides SameSite=Strict, Authorize refuses a state-changing request
// (any method but GET, HEAD, OPTIONS) without the session's token in the
// X-CSRF-Token header, which a cross-site form cannot send; the login
// accepts only a JSON body and, when an Origin header is present, only the
// server's own origin.
//
// OperatorAuth is safe for concurrent use.
type OperatorAuth struct {
	hash    [32]byte // SHA-256 of the password
	ttl     time.Duration
	now     func() time.Time
	limiter *rate.Limiter

	mu       sync.Mutex
	sessions map[[32]byte]opSession // by SHA-256 of the cookie token
}

type opSession struct {
	operator string
	csrf     string
	expires  time.Time
}

// AuthOption tunes an OperatorAuth.
type AuthOption func(*OperatorAuth)

// WithSessionTTL sets how long a sign-in lasts (default 12h).
func WithSessionTTL(d time.Duration) AuthOption {
	return func(a *OperatorAuth) {
		if d > 0 {
			a.ttl = d
		}
	}
}

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) AuthOption {
	return func(a *OperatorAuth) { a.now = now }
}

// NewOperatorAuth returns the console's sign-in for password. It returns
// ErrNoPassword for an empty password and an error for one shorter than
// MinPasswordLen bytes.
func NewOperatorAuth(password string, opts ...AuthOption) (*OperatorAuth, error) {
	if password == "" {
		return nil, ErrNoPassword
	}
	if len(password) < MinPasswordLen {
		return nil, fmt.Errorf("web: the operator password must be at least %d characters", MinPasswordLen)
	}
	a := &OperatorAuth{
		hash:     sha256.Sum256([]byte(password)),
		ttl:      12 * time.Hour,
		now:      time.Now,
		limiter:  rate.NewLimiter(rate.Every(time.Second), 10),
		sessions: map[[32]byte]opSession{},
	}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

// Authorize reports the operator signed in on r: the session cookie must
// name a live sign-in and, for any method but GET, HEAD and OPTIONS, the
// X-CSRF-Token header must hold that sign-in's CSRF token. It is the
// chat.Config.OperatorAuth hook of the operator API.
func (a *OperatorAuth) Authorize(r *http.Request) (operator string, ok bool) {
	s, ok := a.session(r)
	if !ok {
		return "", false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
			return "", false
		}
	}
	return s.operator, true
}

// session returns the live sign-in named by r's cookie.
func (a *OperatorAuth) session(r *http.Request) (opSession, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return opSession{}, false
	}
	key := sha256.Sum256([]byte(c.Value))
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[key]
	if !ok {
		return opSession{}, false
	}
	if !a.now().Before(s.expires) {
		delete(a.sessions, key)
		return opSession{}, false
	}
	return s, true
}

// sessionInfo is the body of a successful login and of GET /console/session.
type sessionInfo struct {
	Operator  string `json:"operator"`
	CSRFToken string `json:"csrf_token"`
}

// login serves POST /console/login with a JSON body {"name","password"}.
func (a *OperatorAuth) login(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		jsonError(w, http.StatusUnsupportedMediaType, "send the sign-in as application/json")
		return
	}
	if !sameOrigin(r) {
		jsonError(w, http.StatusForbidden, "sign-in from another site refused")
		return
	}
	if !a.limiter.Allow() {
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusTooManyRequests, "too many sign-in attempts; wait a moment")
		return
	}
	var body struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		jsonError(w, http.StatusBadRequest, "malformed sign-in: "+err.Error())
		return
	}
	got := sha256.Sum256([]byte(body.Password))
	if subtle.ConstantTimeCompare(got[:], a.hash[:]) != 1 {
		jsonError(w, http.StatusUnauthorized, "wrong password")
		return
	}
	name, err := displayName(body.Name)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	token, csrf := randomToken(), randomToken()
	now := a.now()
	s := opSession{operator: name, csrf: csrf, expires: now.Add(a.ttl)}
	a.mu.Lock()
	a.sweep(now)
	a.sessions[sha256.Sum256([]byte(token))] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Expires:  s.expires,
		MaxAge:   int(a.ttl / time.Second),
		HttpOnly: true,
		Secure:   overTLS(r),
		SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusOK, sessionInfo{Operator: name, CSRFToken: csrf})
}

// sweep drops expired sign-ins and, at the cap, the one closest to expiry.
// a.mu must be held.
func (a *OperatorAuth) sweep(now time.Time) {
	var oldest [32]byte
	var oldestAt time.Time
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, k)
			continue
		}
		if oldestAt.IsZero() || s.expires.Before(oldestAt) {
			oldest, oldestAt = k, s.expires
		}
	}
	if len(a.sessions) >= maxSessions {
		delete(a.sessions, oldest)
	}
}

// logout serves POST /console/logout (with the CSRF header).
func (a *OperatorAuth) logout(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.Authorize(r); !ok {
		jsonError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	c, _ := r.Cookie(CookieName)
	a.mu.Lock()
	delete(a.sessions, sha256.Sum256([]byte(c.Value)))
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// current serves GET /console/session: who is signed in, and the CSRF token
// for the console's state-changing requests.
func (a *OperatorAuth) current(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(r)
	if !ok {
		jsonError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	writeJSON(w, http.StatusOK, sessionInfo{Operator: s.operator, CSRFToken: s.csrf})
}

// displayName validates the name an operator signs in with: 1–40
// characters, letters, digits, spaces and . ' -.
func displayName(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || utf8.RuneCountInString(s) > maxNameRunes {
		return "", fmt.Errorf("give your name (1–%d characters); shoppers see it", maxNameRunes)
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" .'-", r) {
			return "", fmt.Errorf("the name may hold letters, digits, spaces and . ' - only")
		}
	}
	return s, nil
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sameOrigin reports whether r's Origin header, when present, names the
// host r was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ConsoleHandler serves the operator console under /console/: the page
// (sign-in form, session list, transcript, analytics) and POST
// /console/login, POST /console/logout, GET /console/session. Mount it at
// "/console/" (the mux redirects /console there). The console's data comes
// from the operator API of package chat, authorised by auth.Authorize. With
// a nil auth (no operator password configured) every path answers 404
// saying the console is disabled.
func ConsoleHandler(auth *OperatorAuth) http.Handler {
	if auth == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the operator console is disabled: no operator password is configured", http.StatusNotFound)
		})
	}
	assets := loadAssets("console")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /console/login", auth.login)
	mux.HandleFunc("POST /console/logout", auth.logout)
	mux.HandleFunc("GET /console/session", auth.current)
	mux.HandleFunc("GET /console/{file...}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", consoleCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		a.serve(w, r, "no-cache")
	})
	return mux
}
