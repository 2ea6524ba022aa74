// Package redisopt holds the go-redis client options shared by the
// packages that talk to Redis (sessions, events), so that every client fails
// fast when Redis is down instead of hanging a chat turn or a request.
package redisopt

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// FailFast fills the options a Redis URL left unset: the dial, read and
// write timeouts given, a pool wait one second past the read timeout, one
// dial retry (go-redis's default of five multiplies the dial timeout while
// Redis is down), the caller's context deadline bounding each command, and
// no CLIENT MAINT_NOTIFICATIONS handshake (plain Redis has none).
func FailFast(opt *redis.Options, dial, read, write time.Duration) {
	if opt.DialTimeout == 0 {
		opt.DialTimeout = dial
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = read
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = write
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = opt.ReadTimeout + time.Second
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 2
	}
	opt.ContextTimeoutEnabled = true
	if opt.MaintNotificationsConfig == nil {
		opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}

// MaskURL returns a Redis URL fit for logs and error messages: the password
// replaced by "xxxxx", and nothing of a URL that does not parse (it may
// hold a password in a place url.Parse did not find).
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// NewClient parses a Redis URL and returns a client with FailFast options,
// each timeout set to timeout unless the URL sets it.
func NewClient(raw string, timeout time.Duration) (*redis.Client, error) {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redis url %s: %w", MaskURL(raw), err)
	}
	FailFast(opt, timeout, timeout, timeout)
	return redis.NewClient(opt), nil
}

// GlobEscape quotes the glob characters of s (* ? [ ] \ ^) so that it can
// prefix a SCAN MATCH or KEYS pattern literally, e.g. GlobEscape(prefix)+"*".
func GlobEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\^`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
