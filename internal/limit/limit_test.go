package limit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPerIPLimitsEachClientSeparately(t *testing.T) {
	l := NewPerIP(Config{Rate: 0.001, Burst: 3}) // effectively no refill during the test
	h := l.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	do := func(remote, xf string) int {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = remote
		if xf != "" {
			r.Header.Set("X-Forwarded-For", xf)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == 429 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return w.Code
	}
	for i := range 3 {
		if c := do("10.0.0.1:1234", ""); c != 204 {
			t.Fatalf("request %d within the burst: %d", i, c)
		}
	}
	if c := do("10.0.0.1:999", ""); c != 429 {
		t.Fatalf("4th request from the same IP (another port): %d, want 429", c)
	}
	if c := do("10.0.0.2:1", ""); c != 204 {
		t.Fatalf("another IP was limited: %d", c)
	}
	// Without trust, X-Forwarded-For is ignored (a client cannot dodge the
	// limit by inventing addresses).
	if c := do("10.0.0.1:1", "1.2.3.4"); c != 429 {
		t.Fatalf("untrusted X-Forwarded-For changed the client: %d", c)
	}
	if l.Limited() != 2 {
		t.Errorf("limited %d, want 2", l.Limited())
	}

	behind := NewPerIP(Config{Rate: 0.001, Burst: 1, TrustForwardedFor: true})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5"
	r.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	if ip := behind.ClientIP(r); ip != "203.0.113.9" {
		t.Errorf("client behind a trusted proxy: %q", ip)
	}
}

func TestPerIPBoundedMemory(t *testing.T) {
	l := NewPerIP(Config{Rate: 1, Burst: 1, MaxClients: 100})
	for i := range 10_000 {
		l.Allow(string(rune(i)))
	}
	if n := l.buckets.Len(); n != 100 {
		t.Fatalf("%d buckets kept, want the bound 100", n)
	}
}

func TestZeroRateAllowsAll(t *testing.T) {
	l := NewPerIP(Config{})
	for range 1000 {
		if !l.Allow("x") {
			t.Fatal("refused with no rate configured")
		}
	}
}
