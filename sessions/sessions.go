package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redisopt"
)

// ErrExists is returned by Create when the id is already taken by a live
// session.
var ErrExists = errors.New("sessions: already exists")

// ErrInvalid is returned for a malformed argument (empty or over-long id).
var ErrInvalid = errors.New("sessions: invalid argument")

// MaxIDLen is the longest session id a store accepts, in bytes.
const MaxIDLen = 128

// Defaults applied by New to zero Config fields.
const (
	// DefaultTTL is how long a session lives without being updated.
	DefaultTTL = 30 * 24 * time.Hour
	// DefaultKeyPrefix prefixes every Redis key of the store.
	DefaultKeyPrefix = "sa:"
	// DefaultSweepInterval is how often the embedded store deletes expired
	// sessions from disk. Expired sessions are invisible at once; the sweep
	// only reclaims space.
	DefaultSweepInterval = 10 * time.Minute
	// DefaultRedisTimeout bounds dialing, reading and writing one Redis
	// command, so a turn fails fast with ErrUnavailable when Redis is down
	// instead of hanging.
	DefaultRedisTimeout = time.Second
	// DefaultRedisRetries is how many times a failed Redis command is retried
	// (on a fresh connection) before giving up.
	DefaultRedisRetries = 1
)

// Config selects and tunes the session store. Zero fields take the defaults
// above.
type Config struct {
	// DataDir holds sessions.db for the embedded store (used when RedisURL is
	// empty).
	DataDir string
	// RedisURL selects the Redis store, e.g. redis://:password@host:6379/0.
	// Timeouts set as URL query parameters (dial_timeout, read_timeout,
	// write_timeout, max_retries) win over the fields below.
	RedisURL string
	// TTL is how long a session lives after its last update (default 30 days).
	TTL time.Duration
	// KeyPrefix prefixes every Redis key (default "sa:").
	KeyPrefix string
	// SweepInterval is how often the embedded store deletes expired sessions
	// (default 10 minutes).
	SweepInterval time.Duration
	// DialTimeout, ReadTimeout and WriteTimeout bound each Redis operation
	// (default 1s each).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxRetries is how many times a failed Redis command is retried; -1
	// disables retries (default 1).
	MaxRetries int
	// Sealer, when set, encrypts transcripts, user ids and metadata at rest
	// (see codec); nil stores them in plain text.
	Sealer Sealer
	// UserKey names a user in the user → sessions index that DeleteUser
	// reads (the sessions themselves keep the user id, sealed when Sealer
	// is set). Set it to a keyed hash such as privacy.Pseudonymizer.ID so
	// the index holds no user id a guess can confirm. Nil: SHA-256 of the
	// user id when Sealer is set (no user id in plain text at rest, but a
	// guessed id can be checked against it), else the user id itself.
	// Changing it (or turning encryption on) rebuilds the index when the
	// store is next opened (see OpenEmbedded, OpenRedis).
	UserKey func(userID string) string
}

// Validate reports the first invalid field. It does not contact any backend.
func (c Config) Validate() error {
	if c.TTL < 0 {
		return fmt.Errorf("sessions: ttl %v is negative", c.TTL)
	}
	if c.SweepInterval < 0 {
		return fmt.Errorf("sessions: sweep interval %v is negative", c.SweepInterval)
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 {
		return errors.New("sessions: redis timeouts must not be negative")
	}
	if c.MaxRetries < -1 {
		return fmt.Errorf("sessions: max retries %d is below -1", c.MaxRetries)
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			return fmt.Errorf("sessions: redis url %s: %w", redisopt.MaskURL(c.RedisURL), err)
		}
		return nil
	}
	if c.DataDir == "" {
		return errors.New("sessions: data dir is required when no redis url is set")
	}
	return nil
}

// String prints the effective configuration with any Redis password masked,
// for the start-up log.
func (c Config) String() string {
	c = c.withDefaults()
	if c.RedisURL != "" {
		return fmt.Sprintf("sessions: redis %s prefix=%q ttl=%v timeouts=%v/%v/%v retries=%d",
			redisopt.MaskURL(c.RedisURL), c.KeyPrefix, c.TTL, c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.MaxRetries)
	}
	return fmt.Sprintf("sessions: embedded dir=%q ttl=%v sweep=%v", c.DataDir, c.TTL, c.SweepInterval)
}

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultRedisTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultRedisTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultRedisTimeout
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultRedisRetries
	}
	return c
}

// New validates cfg and opens the configured store: Redis when RedisURL is
// set (pinged once, so a wrong address fails here), else the embedded store
// in DataDir.
func New(ctx context.Context, cfg Config) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RedisURL != "" {
		return OpenRedis(ctx, cfg)
	}
	return OpenEmbedded(cfg)
}

// NewID returns a new unguessable session id: 128 bits from crypto/rand as
// 22 characters of unpadded base64url.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24).
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// userKeyFunc returns the function naming users in the index (see
// Config.UserKey).
func (c Config) userKeyFunc() func(string) string {
	switch {
	case c.UserKey != nil:
		return c.UserKey
	case c.Sealer != nil:
		return func(u string) string {
			h := sha256.Sum256([]byte(userKeyDomain + u))
			return base64.RawURLEncoding.EncodeToString(h[:])
		}
	default:
		return func(u string) string { return u }
	}
}

// userKeyDomain separates the default index hash from other uses of
// SHA-256 over user ids.
const userKeyDomain = "shopassist/sessions/user-index/v1\x00"

// userKeyProbe is hashed with the configured UserKey and stored beside the
// index: when the stored value differs at open, the key function changed
// and the index is rebuilt. It names no user.
const userKeyProbe = "\x00shopassist user-index probe"

func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("%w: session id of %d bytes (want 1..%d)", ErrInvalid, len(id), MaxIDLen)
	}
	return nil
}

func pageLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return n
}

// unavailable wraps a backend failure so errors.Is(err, ErrUnavailable) and
// errors.Is(err, cause) both hold.
func unavailable(op string, err error) error {
	return fmt.Errorf("sessions: %s: %w: %w", op, ErrUnavailable, err)
}
