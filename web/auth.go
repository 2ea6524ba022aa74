package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/shopassist/shopassist/audit"
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
	// loginBodyLimit bounds a sign-in request's body.
	loginBodyLimit = 4096
	// auditTimeout bounds writing one audit record.
	auditTimeout = 5 * time.Second
)

// ErrNoPassword is returned by NewOperatorAuth with neither a bootstrap
// password nor accounts: the console has no default password and stays
// disabled without one.
var ErrNoPassword = errors.New("web: the operator console needs an accounts file or an operator password (there is no default)")

// OperatorAuth signs operators in to the console and authorises the
// operator API.
//
// Who: accounts from an accounts file (WithAccounts, LoadAccounts), each
// with a role (viewer, agent, admin) and either a bcrypt-hashed password
// (console sign-in) or an API token (kept as its SHA-256; sent as
// "Authorization: Bearer <token>" to the operator API, no cookie, no
// CSRF token). The bootstrap password of NewOperatorAuth, when not empty,
// signs in as an admin under any display name that is not an account's
// name (meant for a first start, before an accounts file exists).
//
// A console sign-in sets an HttpOnly, SameSite=Strict cookie (Secure when
// the request came over TLS or X-Forwarded-Proto says https) holding a
// random 256-bit token; the server keeps only the token's SHA-256 with
// the operator's name and role, a CSRF token and the expiry, in memory (a
// restart signs everybody out; each replica has its own sign-ins).
//
// Guessing: after 5 failed sign-ins in a row from one client address, or
// for one account name, that address or name is locked out for 30 s,
// doubling with every further failure up to 15 min (429 with
// Retry-After); a success clears both. Across all clients sign-ins are
// also rate limited (burst 20, then 5 per second) to bound the bcrypt
// work. An unknown name costs a bcrypt comparison like a wrong password.
//
// CSRF: besides SameSite=Strict, Authorize refuses a state-changing
// cookie request (any method but GET, HEAD, OPTIONS) without the session's
// token in the X-CSRF-Token header, which a cross-site form cannot send;
// the login accepts only a JSON body and, when an Origin header is
// present, only the server's own origin.
//
// Every sign-in (success, failure, lockout) and sign-out is recorded in
// the audit log (WithAudit); a successful sign-in whose record cannot be
// written is refused (503).
//
// OperatorAuth is safe for concurrent use.
type OperatorAuth struct {
	bootstrap *[32]byte // SHA-256 of the bootstrap password; nil: none
	accounts  *Accounts
	audit     audit.Log
	clientIP  func(*http.Request) string
	ttl       time.Duration
	now       func() time.Time
	limiter   *rate.Limiter
	locks     *lockout

	mu       sync.Mutex
	sessions map[[32]byte]opSession // by SHA-256 of the cookie token
}

type opSession struct {
	operator audit.Operator
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

// WithClock replaces time.Now, for tests of expiry and lockouts.
func WithClock(now func() time.Time) AuthOption {
	return func(a *OperatorAuth) { a.now = now }
}

// WithAccounts sets the operator accounts (LoadAccounts).
func WithAccounts(accts *Accounts) AuthOption {
	return func(a *OperatorAuth) { a.accounts = accts }
}

// WithAudit records sign-ins and sign-outs in log.
func WithAudit(log audit.Log) AuthOption {
	return func(a *OperatorAuth) { a.audit = log }
}

// WithClientIP sets how a request's client address is found, for the
// lockout and the audit log (default: the connection's address; behind a
// proxy, one that reads X-Forwarded-For, e.g. limit.PerIP.ClientIP).
func WithClientIP(f func(*http.Request) string) AuthOption {
	return func(a *OperatorAuth) {
		if f != nil {
			a.clientIP = f
		}
	}
}

// NewOperatorAuth returns the console's sign-in. password is the
// bootstrap admin password ("" for none; else at least MinPasswordLen
// bytes); with neither a password nor accounts (WithAccounts) it returns
// ErrNoPassword.
func NewOperatorAuth(password string, opts ...AuthOption) (*OperatorAuth, error) {
	a := &OperatorAuth{
		clientIP: RemoteIP,
		ttl:      12 * time.Hour,
		now:      time.Now,
		limiter:  rate.NewLimiter(5, 20),
		sessions: map[[32]byte]opSession{},
	}
	for _, o := range opts {
		o(a)
	}
	a.locks = newLockout(a.now)
	if password != "" {
		if len(password) < MinPasswordLen {
			return nil, fmt.Errorf("web: the operator password must be at least %d characters", MinPasswordLen)
		}
		sum := sha256.Sum256([]byte(password))
		a.bootstrap = &sum
	}
	if a.bootstrap == nil && (a.accounts == nil || a.accounts.Len() == 0) {
		return nil, ErrNoPassword
	}
	return a, nil
}

// RemoteIP is the host part of r.RemoteAddr.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Authorize reports the operator making r: a token account named by an
// "Authorization: Bearer" header, or the console sign-in named by the
// session cookie — then, for any method but GET, HEAD and OPTIONS, the
// X-CSRF-Token header must hold that sign-in's CSRF token. A request with
// a Bearer header is judged by it alone (a wrong token is refused even
// with a valid cookie); other Authorization schemes (a proxy's Basic
// authentication) are ignored. It is the chat.Config.OperatorAuth hook of
// the operator API.
func (a *OperatorAuth) Authorize(r *http.Request) (audit.Operator, bool) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		acct := a.accounts.byBearer(strings.TrimSpace(tok))
		if acct == nil {
			return audit.Operator{}, false
		}
		return audit.Operator{Name: acct.Name, Role: acct.Role}, true
	}
	s, _, ok := a.session(r)
	if !ok || !csrfOK(r, s) {
		return audit.Operator{}, false
	}
	return s.operator, true
}

// csrfOK reports whether r may act for s: a safe method, or the CSRF
// header holding s's token.
func csrfOK(r *http.Request, s opSession) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	got := r.Header.Get(CSRFHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// session returns the live sign-in named by r's cookie and its key.
func (a *OperatorAuth) session(r *http.Request) (opSession, [32]byte, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return opSession{}, [32]byte{}, false
	}
	key := sha256.Sum256([]byte(c.Value))
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[key]
	if !ok {
		return opSession{}, key, false
	}
	if !a.now().Before(s.expires) {
		delete(a.sessions, key)
		return opSession{}, key, false
	}
	return s, key, true
}

// sessionInfo is the body of a successful login and of GET /console/session.
type sessionInfo struct {
	Operator  string `json:"operator"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
	// Can says which audited actions the role allows, so the console
	// hides the others.
	Can map[audit.Action]bool `json:"can"`
}

func infoOf(s opSession) sessionInfo {
	can := make(map[audit.Action]bool, len(audit.Actions))
	for _, act := range audit.Actions {
		can[act] = s.operator.Role.Allows(act)
	}
	return sessionInfo{Operator: s.operator.Name, Role: string(s.operator.Role), CSRFToken: s.csrf, Can: can}
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
		jsonError(w, http.StatusTooManyRequests, "too many sign-in attempts on this server; wait a moment")
		return
	}
	var body struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, loginBodyLimit)).Decode(&body); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the sign-in is over %d bytes", loginBodyLimit))
			return
		}
		jsonError(w, http.StatusBadRequest, "malformed sign-in: "+err.Error())
		return
	}
	ip := a.clientIP(r)
	keys := []string{"ip:" + ip, "name:" + strings.ToLower(strings.Join(strings.Fields(body.Name), " "))}
	acct := a.accounts.lookup(body.Name)
	known := "" // the account name, when the name is an account's
	if acct != nil {
		known = acct.Name
	}
	if d := a.locks.wait(keys...); d > 0 {
		secs := int((d + time.Second - 1) / time.Second)
		_ = a.record(r, audit.Record{Operator: known, Action: audit.ActionSignIn, Outcome: audit.Locked, IP: ip, Detail: "locked out after repeated failures"})
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		jsonError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed sign-ins; try again in %d seconds", secs))
		return
	}
	op, detail, err := a.verify(acct, body.Name, body.Password)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	if op.Name == "" {
		a.locks.fail(keys...)
		_ = a.record(r, audit.Record{Operator: known, Role: roleOf(acct), Action: audit.ActionSignIn, Outcome: audit.Failed, IP: ip, Detail: detail})
		jsonError(w, http.StatusUnauthorized, "wrong name or password")
		return
	}
	a.locks.reset(keys...)
	if err := a.record(r, audit.Record{Operator: op.Name, Role: op.Role, Action: audit.ActionSignIn, Outcome: audit.OK, IP: ip, Detail: detail}); err != nil {
		jsonError(w, http.StatusServiceUnavailable, "the audit log is unavailable, so sign-ins are refused; try again later")
		return
	}
	writeJSON(w, http.StatusOK, infoOf(a.startSession(w, r, op)))
}

// verify checks a sign-in: the account's bcrypt hash when name is an
// account's, else the bootstrap password (as an admin named name). It
// returns the operator (zero when refused) and a reason for the audit
// log; an error is a malformed display name, answered with 400.
func (a *OperatorAuth) verify(acct *Account, name, password string) (audit.Operator, string, error) {
	switch {
	case acct != nil && acct.hash == nil:
		checkPassword(nil, password)
		return audit.Operator{}, "token account: use the API token", nil
	case acct != nil:
		if !checkPassword(acct, password) {
			return audit.Operator{}, "wrong password", nil
		}
		return audit.Operator{Name: acct.Name, Role: acct.Role}, "", nil
	case a.bootstrap != nil:
		checkPassword(nil, password) // cost as much as an account's sign-in
		if !sameHash(sha256.Sum256([]byte(password)), *a.bootstrap) {
			return audit.Operator{}, "unknown account or wrong bootstrap password", nil
		}
		display, err := displayName(name)
		if err != nil {
			return audit.Operator{}, "", err
		}
		return audit.Operator{Name: display, Role: audit.RoleAdmin}, "bootstrap password", nil
	default:
		checkPassword(nil, password)
		return audit.Operator{}, "unknown account", nil
	}
}

func roleOf(acct *Account) audit.Role {
	if acct == nil {
		return ""
	}
	return acct.Role
}

// startSession signs op in: a new session and its cookie.
func (a *OperatorAuth) startSession(w http.ResponseWriter, r *http.Request, op audit.Operator) opSession {
	token, csrf := randomToken(), randomToken()
	now := a.now()
	s := opSession{operator: op, csrf: csrf, expires: now.Add(a.ttl)}
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
	return s
}

// record appends an audit record when an audit log is configured.
func (a *OperatorAuth) record(r *http.Request, rec audit.Record) error {
	if a.audit == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	return a.audit.Append(ctx, rec)
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
	s, key, ok := a.session(r)
	if !ok || !csrfOK(r, s) {
		jsonError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	a.mu.Lock()
	delete(a.sessions, key)
	a.mu.Unlock()
	_ = a.record(r, audit.Record{Operator: s.operator.Name, Role: s.operator.Role, Action: audit.ActionSignOut, Outcome: audit.OK, IP: a.clientIP(r)})
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// current serves GET /console/session: who is signed in, with which role
// and what it allows, and the CSRF token for the console's
// state-changing requests.
func (a *OperatorAuth) current(w http.ResponseWriter, r *http.Request) {
	s, _, ok := a.session(r)
	if !ok {
		jsonError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	writeJSON(w, http.StatusOK, infoOf(s))
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
// (sign-in form, session list, transcript, analytics, audit log for
// admins) and POST /console/login, POST /console/logout, GET
// /console/session. Mount it at "/console/" (the mux redirects /console
// there). The console's data comes from the operator API of package chat,
// authorised by auth.Authorize. With a nil auth (no accounts and no
// operator password configured) every path answers 404 saying the console
// is disabled. Every response carries the console's security headers
// (SecurityHeaders).
func ConsoleHandler(auth *OperatorAuth) http.Handler {
	if auth == nil {
		return SecurityHeaders(consoleCSP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the operator console is disabled: no operator accounts or password are configured", http.StatusNotFound)
		}))
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
		a.serve(w, r, "no-cache")
	})
	return SecurityHeaders(consoleCSP, mux)
}
