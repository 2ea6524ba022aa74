// Package limit sheds load per client: a token bucket per client IP
// (golang.org/x/time/rate) in front of an HTTP handler, answering 429 with
// Retry-After when a client exceeds its rate, so one client cannot take the
// capacity of all. Buckets live in a bounded LRU (the least recently seen
// IPs are forgotten first), so memory stays bounded under a flood of
// addresses. Safe for concurrent use; a request costs one map lookup under
// a lock and one rate.Limiter.Allow.
package limit

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// PerIP limits requests per client IP.
type PerIP struct {
	rate    rate.Limit
	burst   int
	trustXF bool
	buckets *lru.Cache[string, *rate.Limiter]
	limited atomic.Int64
}

// Config tunes NewPerIP.
type Config struct {
	// Rate is the sustained requests per second allowed per IP; Burst how
	// many may come at once.
	Rate  float64
	Burst int
	// TrustForwardedFor takes the client IP from the first address of
	// X-Forwarded-For (set it only behind a proxy that sets that header,
	// such as deploy/nginx.conf); otherwise the connection's address.
	TrustForwardedFor bool
	// MaxClients bounds the IPs tracked (default 100,000).
	MaxClients int
}

// NewPerIP returns a limiter; a Rate <= 0 allows everything.
func NewPerIP(cfg Config) *PerIP {
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 100_000
	}
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	c, _ := lru.New[string, *rate.Limiter](cfg.MaxClients)
	return &PerIP{rate: rate.Limit(cfg.Rate), burst: cfg.Burst, trustXF: cfg.TrustForwardedFor, buckets: c}
}

// Allow reports whether a request from ip may go ahead now.
func (l *PerIP) Allow(ip string) bool {
	if l.rate <= 0 {
		return true
	}
	b, ok := l.buckets.Get(ip)
	if !ok {
		b = rate.NewLimiter(l.rate, l.burst)
		if prev, ok, _ := l.buckets.PeekOrAdd(ip, b); ok {
			b = prev
		}
	}
	if b.Allow() {
		return true
	}
	l.limited.Add(1)
	return false
}

// Limited is how many requests were refused.
func (l *PerIP) Limited() int64 { return l.limited.Load() }

// ClientIP is the request's client address as the limiter sees it.
func (l *PerIP) ClientIP(r *http.Request) string {
	if l.trustXF {
		if xf := r.Header.Get("X-Forwarded-For"); xf != "" {
			first, _, _ := strings.Cut(xf, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Handler wraps next: a client over its rate gets 429 Too Many Requests
// with Retry-After, before next runs.
func (l *PerIP) Handler(next http.Handler) http.Handler {
	retry := "1"
	if l.rate > 0 && l.rate < 1 {
		retry = strconv.Itoa(int(1/float64(l.rate)) + 1)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.Allow(l.ClientIP(r)) {
			w.Header().Set("Retry-After", retry)
			http.Error(w, "too many requests from this address; retry later", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}
