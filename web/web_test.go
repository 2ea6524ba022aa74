package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWidgetSize keeps the widget small enough to embed on every page of a
// store: under 12 KiB gzipped.
func TestWidgetSize(t *testing.T) {
	src, err := files.ReadFile("static/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(src)
	_ = zw.Close()
	t.Logf("widget.js: %d bytes, %d gzipped", len(src), buf.Len())
	if buf.Len() > 12<<10 {
		t.Errorf("widget.js is %d bytes gzipped; the budget is 12 KiB", buf.Len())
	}
}

// TestStorefrontEmbedsWidgetWithOneTag checks that the demo page loads the
// widget the way a third-party store would: one async script tag.
func TestStorefrontEmbedsWidgetWithOneTag(t *testing.T) {
	page, err := files.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "widget.js"); n != 1 {
		t.Fatalf("index.html names widget.js %d times, want one script tag", n)
	}
	if !strings.Contains(string(page), `<script src="/widget.js" async></script>`) {
		t.Error("index.html does not embed the widget with <script src=\"/widget.js\" async>")
	}
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := Handler()

	resp := do(t, h, "GET", "/", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("<title>")) {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src") && !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET / CSP %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("GET / without nosniff")
	}

	resp = do(t, h, "GET", "/widget.js", http.Header{"Accept-Encoding": {"gzip, br"}})
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /widget.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("widget.js not gzipped for a client accepting gzip")
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	want, _ := files.ReadFile("static/widget.js")
	if !bytes.Equal(plain, want) {
		t.Fatal("gzipped widget.js does not decode to the file")
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}

	resp = do(t, h, "GET", "/widget.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	resp = do(t, h, "GET", "/widget.js", http.Header{"Accept-Encoding": {"gzip;q=0"}})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzipped for a client refusing gzip")
	}

	for _, p := range []string{"/nope.js", "/index.html", "/console/", "/../web.go"} {
		if resp := do(t, h, "GET", p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp := do(t, h, "POST", "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

// TestSecurityHeadersOnEveryResponse: pages, scripts, JSON answers and
// errors of both handlers carry nosniff, no-referrer and their CSP; the
// console may not be framed at all, the storefront only by itself.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	auth, err := NewOperatorAuth("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		h              http.Handler
		method, target string
		frame          string
	}{
		{Handler(), "GET", "/", "SAMEORIGIN"},
		{Handler(), "GET", "/widget.js", "SAMEORIGIN"},
		{Handler(), "GET", "/nope", "SAMEORIGIN"},
		{Handler(), "POST", "/", "SAMEORIGIN"},
		{ConsoleHandler(auth), "GET", "/console/", "DENY"},
		{ConsoleHandler(auth), "GET", "/console/console.js", "DENY"},
		{ConsoleHandler(auth), "GET", "/console/session", "DENY"},
		{ConsoleHandler(auth), "POST", "/console/login", "DENY"},
		{ConsoleHandler(auth), "GET", "/console/missing", "DENY"},
		{ConsoleHandler(nil), "GET", "/console/", "DENY"},
	}
	for _, tc := range cases {
		resp := do(t, tc.h, tc.method, tc.target, nil)
		h := resp.Header
		what := tc.method + " " + tc.target + " (" + resp.Status + ")"
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != tc.frame {
			t.Errorf("%s: headers %v", what, h)
		}
		csp := h.Get("Content-Security-Policy")
		if tc.frame == "DENY" {
			if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || h.Get("Cross-Origin-Opener-Policy") != "same-origin" {
				t.Errorf("%s: console CSP %q, COOP %q", what, csp, h.Get("Cross-Origin-Opener-Policy"))
			}
		} else if !strings.Contains(csp, "frame-ancestors 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: storefront CSP %q", what, csp)
		}
	}
}

func TestConsoleHandlerDisabledWithoutAuth(t *testing.T) {
	h := ConsoleHandler(nil)
	for _, p := range []string{"/console/", "/console/console.js", "/console/session"} {
		resp := do(t, h, "GET", p, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "disabled") {
			t.Errorf("GET %s without auth: %d %q", p, resp.StatusCode, body)
		}
	}
}

func TestConsoleHandlerServesPage(t *testing.T) {
	auth, err := NewOperatorAuth("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	h := ConsoleHandler(auth)
	resp := do(t, h, "GET", "/console/", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`id="login-form"`)) {
		t.Fatalf("GET /console/: %d", resp.StatusCode)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("console headers %v", resp.Header)
	}
	if resp := do(t, h, "GET", "/console/console.js", nil); resp.StatusCode != 200 {
		t.Errorf("GET /console/console.js: %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/console/missing.js", nil); resp.StatusCode != 404 {
		t.Errorf("GET /console/missing.js: %d", resp.StatusCode)
	}
}
