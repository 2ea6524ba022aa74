package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopassist/shopassist/audit"
)

const testPassword = "correct horse battery"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Test accounts, made once per binary (bcrypt is slow on purpose).
var (
	accountsOnce sync.Once
	accountsText string
	apiToken     string // the token of the "Robot" account
)

// testAccounts returns an accounts file with Vera (viewer), Alex (agent)
// and Ada (admin), all with password testPassword, and Robot, an agent
// with an API token (apiToken).
func testAccounts(t *testing.T) *Accounts {
	t.Helper()
	accountsOnce.Do(func() {
		var lines []string
		for _, a := range [][2]string{{"Vera", "viewer"}, {"Alex", "agent"}, {"Ada", "admin"}} {
			l, err := AccountLine(a[0], a[1], testPassword)
			if err != nil {
				panic(err)
			}
			lines = append(lines, l)
		}
		l, tok, err := NewTokenLine("Robot", "agent")
		if err != nil {
			panic(err)
		}
		apiToken = tok
		accountsText = "# operators\n" + strings.Join(append(lines, l), "\n") + "\n"
	})
	a, err := ParseAccounts("test", accountsText)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newAuth(t *testing.T, opts ...AuthOption) (*OperatorAuth, http.Handler) {
	t.Helper()
	return newAuthWith(t, testPassword, opts...)
}

// newAuthWith is newAuth with another bootstrap password.
func newAuthWith(t *testing.T, bootstrap string, opts ...AuthOption) (*OperatorAuth, http.Handler) {
	t.Helper()
	a, err := NewOperatorAuth(bootstrap, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a, ConsoleHandler(a)
}

// login posts a sign-in and returns the response and the decoded body.
func login(t *testing.T, h http.Handler, body string, mod func(*http.Request)) (*http.Response, sessionInfo) {
	t.Helper()
	req := httptest.NewRequest("POST", "/console/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if mod != nil {
		mod(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var info sessionInfo
	_ = json.Unmarshal(rec.Body.Bytes(), &info)
	return rec.Result(), info
}

func creds(name, password string) string {
	b, _ := json.Marshal(map[string]string{"name": name, "password": password})
	return string(b)
}

func fromIP(ip string) func(*http.Request) {
	return func(r *http.Request) { r.RemoteAddr = ip + ":5555" }
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", CookieName, resp.Header["Set-Cookie"])
	return nil
}

func request(method string, c *http.Cookie, csrf string) *http.Request {
	req := httptest.NewRequest(method, "/api/operator/sessions", nil)
	if c != nil {
		req.AddCookie(c)
	}
	if csrf != "" {
		req.Header.Set(CSRFHeader, csrf)
	}
	return req
}

func TestNewOperatorAuthRefusesMissingOrShortPassword(t *testing.T) {
	if _, err := NewOperatorAuth(""); !errors.Is(err, ErrNoPassword) {
		t.Errorf("empty password: %v, want ErrNoPassword", err)
	}
	if _, err := NewOperatorAuth("short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if _, err := NewOperatorAuth("", WithAccounts(testAccounts(t))); err != nil {
		t.Errorf("accounts without a bootstrap password: %v", err)
	}
}

// TestLoginAndAuthorize: the bootstrap password signs in an admin under a
// display name, with a cookie and a CSRF token that Authorize checks.
func TestLoginAndAuthorize(t *testing.T) {
	a, h := newAuth(t)
	resp, info := login(t, h, creds("  Alex   Martin ", testPassword), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if info.Operator != "Alex Martin" || info.Role != "admin" || len(info.CSRFToken) < 40 || !info.Can[audit.ActionViewAudit] {
		t.Fatalf("login answer %+v", info)
	}
	c := sessionCookie(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || len(c.Value) < 40 {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, path /", c)
	}
	if c.Value == info.CSRFToken {
		t.Error("the CSRF token equals the session token")
	}
	want := audit.Operator{Name: "Alex Martin", Role: audit.RoleAdmin}
	if op, ok := a.Authorize(request("GET", c, "")); !ok || op != want {
		t.Errorf("GET with the cookie: %+v %v", op, ok)
	}
	if _, ok := a.Authorize(request("GET", nil, "")); ok {
		t.Error("GET without a cookie authorised")
	}
	if _, ok := a.Authorize(request("GET", &http.Cookie{Name: CookieName, Value: info.CSRFToken}, "")); ok {
		t.Error("a made-up session token authorised")
	}
	if _, ok := a.Authorize(request("POST", c, "")); ok {
		t.Error("POST without the CSRF header authorised")
	}
	if _, ok := a.Authorize(request("POST", c, info.CSRFToken+"x")); ok {
		t.Error("POST with a wrong CSRF token authorised")
	}
	if op, ok := a.Authorize(request("POST", c, info.CSRFToken)); !ok || op != want {
		t.Errorf("POST with the CSRF token: %+v %v", op, ok)
	}

	// A reloaded console gets the same CSRF token back.
	req := httptest.NewRequest("GET", "/console/session", nil)
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var again sessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &again); err != nil || rec.Code != 200 || again.CSRFToken != info.CSRFToken || again.Operator != info.Operator || again.Role != info.Role {
		t.Errorf("GET /console/session: %d %+v, want %+v", rec.Code, again, info)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the CSRF token answer may be cached")
	}
}

// TestAccountsSignIn: each account signs in with its own password and
// gets its role (and what it allows); a wrong password, an unknown name,
// the bootstrap password under an account's name and a token account at
// the console are refused alike.
func TestAccountsSignIn(t *testing.T) {
	a, h := newAuth(t, WithAccounts(testAccounts(t)))
	// Names match ignoring case; the account's own spelling is kept.
	for _, tc := range []struct {
		typed, name string
		role        audit.Role
	}{{"vera", "Vera", audit.RoleViewer}, {"Alex", "Alex", audit.RoleAgent}, {"ADA", "Ada", audit.RoleAdmin}} {
		resp, info := login(t, h, creds(tc.typed, testPassword), nil)
		if resp.StatusCode != 200 || info.Role != string(tc.role) || info.Operator != tc.name {
			t.Fatalf("%s: %d %+v", tc.typed, resp.StatusCode, info)
		}
		for _, act := range audit.Actions {
			if info.Can[act] != tc.role.Allows(act) {
				t.Errorf("%s: can[%s] = %v", tc.typed, act, info.Can[act])
			}
		}
		if op, ok := a.Authorize(request("GET", sessionCookie(t, resp), "")); !ok || op != (audit.Operator{Name: tc.name, Role: tc.role}) {
			t.Errorf("%s: Authorize %+v %v", tc.typed, op, ok)
		}
	}
	const bootstrap = "the bootstrap password"
	_, hb := newAuthWith(t, bootstrap, WithAccounts(testAccounts(t)))
	for i, tc := range []struct {
		what, name, password string
		h                    http.Handler
	}{
		{"wrong password", "Alex", testPassword + "x", h},
		{"unknown name", "Nobody", testPassword + "x", h},
		{"bootstrap password under an account's name", "Alex", bootstrap, hb},
		{"token account at the console", "Robot", apiToken, h},
	} {
		resp, info := login(t, tc.h, creds(tc.name, tc.password), fromIP("198.51.100."+strconv.Itoa(i)))
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 || info.Role != "" {
			t.Errorf("%s: %d %+v", tc.what, resp.StatusCode, info)
		}
	}
	if resp, info := login(t, hb, creds("Ops Lead", bootstrap), nil); resp.StatusCode != 200 || info.Role != "admin" {
		t.Errorf("bootstrap password under a new name: %d %+v", resp.StatusCode, info)
	}
}

// TestBearerToken: a token account authorises API requests with its
// token alone (no cookie, no CSRF token); a wrong token is refused even
// alongside a valid cookie.
func TestBearerToken(t *testing.T) {
	a, h := newAuth(t, WithAccounts(testAccounts(t)))
	bearer := func(method, tok string, c *http.Cookie) *http.Request {
		r := request(method, c, "")
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	if op, ok := a.Authorize(bearer("POST", apiToken, nil)); !ok || op != (audit.Operator{Name: "Robot", Role: audit.RoleAgent}) {
		t.Errorf("POST with the token: %+v %v", op, ok)
	}
	resp, _ := login(t, h, creds("Ada", testPassword), nil)
	c := sessionCookie(t, resp)
	for _, tok := range []string{apiToken + "x", "", testPassword} {
		if _, ok := a.Authorize(bearer("GET", tok, c)); ok {
			t.Errorf("token %q authorised", tok)
		}
	}
	r := request("GET", nil, "")
	r.Header.Set("Authorization", "Basic "+apiToken)
	if _, ok := a.Authorize(r); ok {
		t.Error("a Basic header authorised")
	}
	// A proxy's Basic authentication does not hide the console's cookie.
	r = request("GET", c, "")
	r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	if op, ok := a.Authorize(r); !ok || op.Name != "Ada" {
		t.Errorf("cookie behind a proxy's Basic authentication: %+v %v", op, ok)
	}
}

func TestLoginCookieSecureBehindTLS(t *testing.T) {
	_, h := newAuth(t)
	resp, _ := login(t, h, creds("Sam", testPassword), func(r *http.Request) {
		r.Header.Set("X-Forwarded-Proto", "https")
	})
	if c := sessionCookie(t, resp); !c.Secure {
		t.Error("cookie not Secure behind a TLS proxy")
	}
}

func TestLoginRefusals(t *testing.T) {
	_, h := newAuth(t)
	cases := []struct {
		name, body string
		mod        func(*http.Request)
		status     int
	}{
		{"wrong password", creds("Alex", "correct horse batterx"), nil, 401},
		{"empty password", creds("Alex", ""), nil, 401},
		{"form post", `name=Alex&password=` + testPassword, func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, 415},
		{"other site", creds("Alex", testPassword), func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403},
		{"no name", creds("  ", testPassword), nil, 400},
		{"markup in name", creds("<b>Alex</b>", testPassword), nil, 400},
		{"not json", `{"name":`, nil, 400},
		{"body over 4 KiB", creds("Alex", strings.Repeat("x", 5000)), nil, 413},
	}
	for _, tc := range cases {
		resp, _ := login(t, h, tc.body, tc.mod)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if len(resp.Cookies()) != 0 {
			t.Errorf("%s: a cookie was set", tc.name)
		}
	}
	// Same-origin requests with an Origin header are fine.
	resp, _ := login(t, h, creds("Alex", testPassword), func(r *http.Request) { r.Header.Set("Origin", "http://"+r.Host) })
	if resp.StatusCode != 200 {
		t.Errorf("same-origin sign-in: %d", resp.StatusCode)
	}
}

// TestLockoutPerAddressAndPerName: five failures from one address lock
// that address out (even with the right password, even for another
// name), for 30 s, then 60 s after one more failure; five failures for
// one name from five addresses lock the name out; other addresses and
// names are unaffected; a success clears the lock.
func TestLockoutPerAddressAndPerName(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}
	_, h := newAuth(t, WithAccounts(testAccounts(t)), WithClock(clk.now))
	try := func(name, password, ip string) *http.Response {
		resp, _ := login(t, h, creds(name, password), fromIP(ip))
		return resp
	}
	for i := range lockAfter {
		if resp := try("Alex", "guess", "203.0.113.1"); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
		}
		clk.add(time.Second)
	}
	resp := try("Ada", testPassword, "203.0.113.1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password of another name from a locked address: %d, want 429 with Retry-After", resp.StatusCode)
	}
	if got, _ := strconv.Atoi(resp.Header.Get("Retry-After")); got < 1 || got > 30 {
		t.Errorf("Retry-After %d, want within the 30 s lock", got)
	}
	if resp := try("Alex", testPassword, "203.0.113.1"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password from a locked address: %d", resp.StatusCode)
	}
	if resp := try("Vera", testPassword, "203.0.113.2"); resp.StatusCode != 200 {
		t.Fatalf("another address and name: %d", resp.StatusCode)
	}
	clk.add(30 * time.Second)
	if resp := try("Alex", "guess again", "203.0.113.1"); resp.StatusCode != 401 {
		t.Fatalf("after the lock: %d, want 401", resp.StatusCode)
	}
	resp = try("Alex", testPassword, "203.0.113.1")
	if got, _ := strconv.Atoi(resp.Header.Get("Retry-After")); resp.StatusCode != 429 || got <= 30 || got > 60 {
		t.Fatalf("the sixth failure locks for 60 s: %d, Retry-After %d", resp.StatusCode, got)
	}
	clk.add(61 * time.Second)
	if resp := try("Alex", testPassword, "203.0.113.1"); resp.StatusCode != 200 {
		t.Fatalf("right password after the lock: %d", resp.StatusCode)
	}
	if resp := try("Alex", "guess", "203.0.113.1"); resp.StatusCode != 401 {
		t.Fatalf("a failure after a success starts the count again: %d", resp.StatusCode)
	}

	// Per name, from many addresses.
	for i := range lockAfter {
		if resp := try("Ada", "guess", "192.0.2."+strconv.Itoa(10+i)); resp.StatusCode != 401 {
			t.Fatalf("failure %d on Ada: %d", i+1, resp.StatusCode)
		}
	}
	if resp := try("ada", testPassword, "192.0.2.99"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a locked name from a fresh address: %d, want 429", resp.StatusCode)
	}
	if resp := try("Vera", testPassword, "192.0.2.10"); resp.StatusCode != 200 {
		t.Fatalf("another name from an address that failed once: %d", resp.StatusCode)
	}
}

// TestLoginRateLimitedOverall: past the burst, sign-ins from anywhere are
// refused at once with Retry-After, before any password is checked.
func TestLoginRateLimitedOverall(t *testing.T) {
	a, h := newAuth(t)
	a.limiter = rate.NewLimiter(rate.Every(time.Hour), 2)
	for i := range 2 {
		if resp, _ := login(t, h, creds("Alex", "guess"), fromIP("198.51.100."+strconv.Itoa(i))); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := login(t, h, creds("Alex", testPassword), fromIP("198.51.100.77"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the overall rate: %d", resp.StatusCode)
	}
}

// failingLog is an audit log that is down.
type failingLog struct{ audit.Memory }

func (*failingLog) Append(context.Context, audit.Record) error { return audit.ErrUnavailable }

// TestSignInsAudited: a success, a wrong password, an unknown name (not
// written down: it may be a password typed in the wrong field), a
// sign-out and lockouts make one record each; with the audit log down a
// sign-in is refused.
func TestSignInsAudited(t *testing.T) {
	log := audit.NewMemory(0)
	_, h := newAuth(t, WithAccounts(testAccounts(t)), WithAudit(log), WithClientIP(func(*http.Request) string { return "192.0.2.7" }))
	resp, info := login(t, h, creds("Alex", testPassword), nil)
	c := sessionCookie(t, resp)
	login(t, h, creds("Ada", "wrong"), nil)
	login(t, h, creds("my secret pw", "x"), nil)
	out := httptest.NewRequest("POST", "/console/logout", nil)
	out.AddCookie(c)
	out.Header.Set(CSRFHeader, info.CSRFToken)
	h.ServeHTTP(httptest.NewRecorder(), out)
	// Three more failures make five from this address; then it is locked.
	for range 4 {
		login(t, h, creds("Ada", "wrong"), nil)
	}
	failed := audit.Record{Operator: "Ada", Role: audit.RoleAdmin, Action: audit.ActionSignIn, Outcome: audit.Failed}
	want := []audit.Record{ // newest first
		{Operator: "Ada", Action: audit.ActionSignIn, Outcome: audit.Locked},
		failed, failed, failed,
		{Operator: "Alex", Role: audit.RoleAgent, Action: audit.ActionSignOut, Outcome: audit.OK},
		{Operator: "", Action: audit.ActionSignIn, Outcome: audit.Failed},
		failed,
		{Operator: "Alex", Role: audit.RoleAgent, Action: audit.ActionSignIn, Outcome: audit.OK},
	}
	got, _ := log.Recent(context.Background(), 100)
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	for i, r := range got {
		w := want[i]
		if r.Operator != w.Operator || r.Role != w.Role || r.Action != w.Action || r.Outcome != w.Outcome || r.IP != "192.0.2.7" || r.Time.IsZero() {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
		if strings.Contains(r.Detail+r.Operator+r.Target, "secret") {
			t.Errorf("record %d keeps the unknown name: %+v", i, r)
		}
	}

	_, h = newAuth(t, WithAccounts(testAccounts(t)), WithAudit(&failingLog{}))
	if resp, _ := login(t, h, creds("Alex", testPassword), nil); resp.StatusCode != http.StatusServiceUnavailable || len(resp.Cookies()) != 0 {
		t.Errorf("sign-in with the audit log down: %d", resp.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}
	a, h := newAuth(t, WithSessionTTL(time.Hour), WithClock(clk.now))
	resp, _ := login(t, h, creds("Alex", testPassword), nil)
	c := sessionCookie(t, resp)
	if c.MaxAge != 3600 {
		t.Errorf("cookie Max-Age %d, want 3600", c.MaxAge)
	}
	clk.add(59 * time.Minute)
	if _, ok := a.Authorize(request("GET", c, "")); !ok {
		t.Fatal("session ended before its TTL")
	}
	clk.add(time.Minute)
	if _, ok := a.Authorize(request("GET", c, "")); ok {
		t.Fatal("session still valid after its TTL")
	}
}

func TestLogout(t *testing.T) {
	a, h := newAuth(t)
	resp, info := login(t, h, creds("Alex", testPassword), nil)
	c := sessionCookie(t, resp)

	out := func(csrf string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/console/logout", nil)
		req.AddCookie(c)
		if csrf != "" {
			req.Header.Set(CSRFHeader, csrf)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := out(""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("logout without CSRF token: %d", rec.Code)
	}
	if _, ok := a.Authorize(request("GET", c, "")); !ok {
		t.Fatal("a refused logout signed the operator out")
	}
	rec := out(info.CSRFToken)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d", rec.Code)
	}
	if cl := sessionCookie(t, rec.Result()); cl.MaxAge >= 0 || cl.Value != "" {
		t.Errorf("logout cookie %+v does not clear it", cl)
	}
	if _, ok := a.Authorize(request("GET", c, "")); ok {
		t.Fatal("the old cookie still works after logout")
	}
}

func TestSessionsCapped(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}
	a, h := newAuth(t, WithClock(clk.now))
	resp, _ := login(t, h, creds("Alex", testPassword), nil)
	first := sessionCookie(t, resp)
	// Sign in many times without a bcrypt comparison each.
	op := audit.Operator{Name: "Alex", Role: audit.RoleAdmin}
	for range maxSessions + 5 {
		clk.add(time.Millisecond)
		a.startSession(httptest.NewRecorder(), httptest.NewRequest("POST", "/console/login", nil), op)
	}
	a.mu.Lock()
	n := len(a.sessions)
	a.mu.Unlock()
	if n > maxSessions {
		t.Errorf("%d sessions kept, cap %d", n, maxSessions)
	}
	if _, ok := a.Authorize(request("GET", first, "")); ok {
		t.Error("the oldest session survived the cap")
	}
}
