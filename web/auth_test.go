package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

const testPassword = "correct horse battery"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newAuth(t *testing.T, opts ...AuthOption) (*OperatorAuth, http.Handler) {
	t.Helper()
	a, err := NewOperatorAuth(testPassword, opts...)
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
}

func TestLoginAndAuthorize(t *testing.T) {
	a, h := newAuth(t)
	resp, info := login(t, h, `{"name":"  Alex   Martin ","password":"`+testPassword+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if info.Operator != "Alex Martin" || len(info.CSRFToken) < 40 {
		t.Fatalf("login answer %+v", info)
	}
	c := sessionCookie(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || len(c.Value) < 40 {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, path /", c)
	}
	if c.Value == info.CSRFToken {
		t.Error("the CSRF token equals the session token")
	}

	if op, ok := a.Authorize(request("GET", c, "")); !ok || op != "Alex Martin" {
		t.Errorf("GET with the cookie: %q %v", op, ok)
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
	if op, ok := a.Authorize(request("POST", c, info.CSRFToken)); !ok || op != "Alex Martin" {
		t.Errorf("POST with the CSRF token: %q %v", op, ok)
	}

	// A reloaded console gets the same CSRF token back.
	req := httptest.NewRequest("GET", "/console/session", nil)
	req.AddCookie(c)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var again sessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &again); err != nil || rec.Code != 200 || again != info {
		t.Errorf("GET /console/session: %d %+v, want %+v", rec.Code, again, info)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the CSRF token answer may be cached")
	}
}

func TestLoginCookieSecureBehindTLS(t *testing.T) {
	_, h := newAuth(t)
	resp, _ := login(t, h, `{"name":"Sam","password":"`+testPassword+`"}`, func(r *http.Request) {
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
		{"wrong password", `{"name":"Alex","password":"correct horse batterx"}`, nil, 401},
		{"empty password", `{"name":"Alex","password":""}`, nil, 401},
		{"form post", `name=Alex&password=` + testPassword, func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, 415},
		{"other site", `{"name":"Alex","password":"` + testPassword + `"}`, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403},
		{"no name", `{"name":"  ","password":"` + testPassword + `"}`, nil, 400},
		{"markup in name", `{"name":"<b>Alex</b>","password":"` + testPassword + `"}`, nil, 400},
		{"not json", `{"name":`, nil, 400},
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
	resp, _ := login(t, h, `{"name":"Alex","password":"`+testPassword+`"}`, func(r *http.Request) { r.Header.Set("Origin", "http://"+r.Host) })
	if resp.StatusCode != 200 {
		t.Errorf("same-origin sign-in: %d", resp.StatusCode)
	}
}

func TestLoginRateLimited(t *testing.T) {
	_, h := newAuth(t)
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		resp, _ := login(t, h, `{"name":"Alex","password":"guess"}`, nil)
		limited = resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != ""
	}
	if !limited {
		t.Fatal("30 wrong passwords in a row were never rate limited")
	}
	// The limit also holds for the right password.
	if resp, _ := login(t, h, `{"name":"Alex","password":"`+testPassword+`"}`, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while limited: %d", resp.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}
	a, h := newAuth(t, WithSessionTTL(time.Hour), WithClock(clk.now))
	resp, _ := login(t, h, `{"name":"Alex","password":"`+testPassword+`"}`, nil)
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
	resp, info := login(t, h, `{"name":"Alex","password":"`+testPassword+`"}`, nil)
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
	a, _ := newAuth(t, WithClock(clk.now))
	a.limiter = rate.NewLimiter(rate.Inf, 1) // sign in many times without waiting
	h := ConsoleHandler(a)
	var first *http.Cookie
	for i := 0; i < maxSessions+5; i++ {
		resp, _ := login(t, h, `{"name":"Alex","password":"`+testPassword+`"}`, nil)
		if i == 0 {
			first = sessionCookie(t, resp)
		}
		clk.add(time.Millisecond)
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
