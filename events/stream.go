package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/privacy"
)

// ErrBusy is returned by Publish when the stream cannot take more events
// now (the in-process queue is full, or the Redis consumers lag so far
// behind that trimming could drop undelivered entries). Nothing of the call
// was accepted; the caller may retry later (HTTP 503 with Retry-After).
var ErrBusy = errors.New("events: stream busy")

// ErrUnavailable wraps backend failures (Redis down or slow, cancelled
// context): nothing of the call is known to be accepted; retry later.
var ErrUnavailable = errors.New("events: backend unavailable")

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("events: stream closed")

// ApplyFunc consumes a batch of events, typically Profiles.Apply. It must be
// idempotent by event id: after a crash between apply and acknowledgement
// the same events are delivered again. An error leaves the batch
// unacknowledged, to be delivered again later.
type ApplyFunc func(ctx context.Context, evs []Event) error

// Stream carries accepted events from the HTTP/WebSocket edge to the
// consumers that apply them to profiles. Implementations are safe for
// concurrent use.
type Stream interface {
	// Publish accepts events durably for the backend: it returns nil only
	// once every event is in the stream (Redis: XADD answered; in-process:
	// queued). It returns ErrBusy when the stream is full and an
	// ErrUnavailable-wrapped error when the backend fails; then none, or
	// with Redis possibly some, of the events were accepted (a retry with
	// the same ids is applied once).
	Publish(ctx context.Context, evs []Event) error
	// Consume delivers batches to apply until ctx is done, then returns
	// ctx.Err(). A batch is acknowledged only after apply returns nil. Any
	// number of Consume calls may run (one per goroutine or process).
	Consume(ctx context.Context, apply ApplyFunc) error
	// Close releases the stream; queued in-process events not yet consumed
	// are lost.
	Close() error
}

// Eraser is implemented by the streams that can take events back out
// (InProcess, RedisStream), for erasure requests: Service.Erase uses it.
type Eraser interface {
	// Erase removes every event for which match is true from the stream
	// and returns how many it removed. Other events stored with them stay
	// deliverable. match gets events as stored (pseudonymous ids when
	// Config.Pseudonymize is set). An event a consumer has already taken
	// and is applying at that moment is beyond reach.
	Erase(ctx context.Context, match func(*Event) bool) (int, error)
}

// Defaults applied to zero Config fields.
const (
	DefaultQueueSize     = 100_000
	DefaultBatch         = 500
	DefaultEntryEvents   = 64
	DefaultMaxLen        = 100_000
	DefaultBlock         = time.Second
	DefaultClaimIdle     = 30 * time.Second
	DefaultClaimInterval = 5 * time.Second
	DefaultKeyPrefix     = "sa:ev:"
	DefaultGroup         = "profiles"
	DefaultRedisTimeout  = time.Second
	// DefaultStreamMaxAge is Config.MaxAge's default: as old as an event
	// may be when it is accepted (Limits.MaxAge).
	DefaultStreamMaxAge = DefaultMaxAge
)

// Config selects and tunes the stream. Zero fields take the defaults.
type Config struct {
	// Backend is "memory" (default) or "redis".
	Backend string
	// RedisURL is required for the redis backend (a Client may be given to
	// NewRedisStream instead).
	RedisURL string
	// KeyPrefix prefixes the stream key, P+"stream" (default "sa:ev:").
	KeyPrefix string
	// QueueSize is the in-process queue's capacity in events (default
	// 100,000); a Publish that does not fit returns ErrBusy.
	QueueSize int
	// Batch is the most events handed to one apply call (default 500), and
	// the most stream entries one XREADGROUP or XAUTOCLAIM returns (all of
	// whose events are applied, Batch at a time, before one XACK).
	Batch int
	// EntryEvents is the most events of one Publish call packed into one
	// Redis stream entry (default 64; 1 writes an entry per event). Packing
	// cuts the XADD, XREADGROUP and XACK work per event by that factor; a
	// redelivered entry re-delivers all of its events (applied once, by id).
	EntryEvents int
	// MaxLen bounds the Redis stream in entries (XADD MAXLEN ~ MaxLen,
	// default 100,000, up to 6.4 M events at 64 per entry). Publish returns
	// ErrBusy once the group's undelivered plus pending entries reach 90%
	// of it, so trimming never drops an unapplied event.
	MaxLen int64
	// Group is the consumer group (default "profiles").
	Group string
	// Consumer names this process in the group (default host-pid).
	// Restarting with the same name resumes its own pending entries at once.
	Consumer string
	// Block is how long one XREADGROUP waits for new entries (default 1s).
	Block time.Duration
	// ClaimIdle: pending entries idle longer than this (their consumer died
	// or failed to apply them) are taken over with XAUTOCLAIM (default 30s).
	ClaimIdle time.Duration
	// ClaimInterval is how often a consumer runs XAUTOCLAIM (default 5s).
	ClaimInterval time.Duration
	// MaxAge bounds how long an entry stays in the Redis stream, applied
	// or not: every consumer trims entries older than this once a minute
	// (XTRIM MINID), beside the MaxLen bound (default 7 days, as old as an
	// accepted event may be; at least a minute).
	MaxAge time.Duration
	// Pseudonymize, when set (privacy.Pseudonymizer.ID), replaces the user
	// and session ids of every event published through Service.Stream, and
	// the shopper id of every Service.Profiles look-up, by their
	// pseudonyms: raw ids never reach the stream or the profile keys, and
	// profiles and recommendations still work by raw id. The empty id stays
	// empty. Changing the function orphans existing profiles (they expire
	// after ProfileConfig.ProfileTTL).
	Pseudonymize func(string) string
	// Sealer, when set (a *privacy.Keyring), encrypts the payload of every
	// Redis stream entry Publish writes (AES-256-GCM, the key id inside,
	// bound to the stream key); consumers and Erase open them and still
	// read entries written plain. An entry that does not open (its key is
	// not in the Sealer, or no Sealer is set) is not applied: it stays
	// pending (XPENDING) and is logged, and Erase reports it as an error.
	// Entries are never rewritten, so a rotation leaves them under their
	// old key until MaxAge or MaxLen removes them
	// (RedisStream.Unrotated counts them). Entry ids and the consumer
	// group's state are not encrypted. The in-process stream keeps events
	// in memory only and ignores it.
	Sealer privacy.Sealer
	// Log receives what consumers cannot return: stream entries that do not
	// open (at most one line a minute per RedisStream). Default
	// slog.Default().
	Log *slog.Logger
}

// Validate reports the first invalid field without contacting a backend.
func (c Config) Validate() error {
	switch c.Backend {
	case "", "memory":
	case "redis":
		if c.RedisURL != "" {
			if _, err := redis.ParseURL(c.RedisURL); err != nil {
				return fmt.Errorf("events: redis url %s: %w", redisopt.MaskURL(c.RedisURL), err)
			}
		}
	default:
		return fmt.Errorf("events: unknown stream backend %q (want memory or redis)", c.Backend)
	}
	if c.QueueSize < 0 || c.Batch < 0 || c.MaxLen < 0 || c.EntryEvents < 0 {
		return errors.New("events: queue size, batch and max len must not be negative")
	}
	if c.Block < 0 || c.ClaimIdle < 0 || c.ClaimInterval < 0 {
		return errors.New("events: durations must not be negative")
	}
	if c.MaxLen > 0 && c.MaxLen < 1000 {
		return fmt.Errorf("events: max len %d is below 1000", c.MaxLen)
	}
	if c.MaxAge != 0 && c.MaxAge < time.Minute {
		return fmt.Errorf("events: stream max age %v is under a minute", c.MaxAge)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.EntryEvents == 0 {
		c.EntryEvents = DefaultEntryEvents
	}
	if c.MaxLen == 0 {
		c.MaxLen = DefaultMaxLen
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Consumer == "" {
		h, _ := os.Hostname()
		c.Consumer = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if c.Block == 0 {
		c.Block = DefaultBlock
	}
	if c.ClaimIdle == 0 {
		c.ClaimIdle = DefaultClaimIdle
	}
	if c.ClaimInterval == 0 {
		c.ClaimInterval = DefaultClaimInterval
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultStreamMaxAge
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// String prints the effective configuration (password masked).
func (c Config) String() string {
	c = c.withDefaults()
	if c.Backend == "redis" {
		return fmt.Sprintf("events: redis stream %s key=%q group=%q consumer=%q maxlen~%d max-age=%v batch=%d claim-idle=%v pseudonyms=%v encrypted=%v",
			redisopt.MaskURL(c.RedisURL), c.KeyPrefix+"stream", c.Group, c.Consumer, c.MaxLen, c.MaxAge, c.Batch, c.ClaimIdle, c.Pseudonymize != nil, c.Sealer != nil)
	}
	return fmt.Sprintf("events: in-process stream queue=%d batch=%d pseudonyms=%v", c.QueueSize, c.Batch, c.Pseudonymize != nil)
}

// NewStream validates cfg and returns the configured stream. For the redis
// backend, client (may be nil) is used when cfg.RedisURL is empty, so the
// stream can share the sessions store's connection pool.
func NewStream(ctx context.Context, cfg Config, client *redis.Client) (Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Backend {
	case "", "memory":
		return NewInProcess(cfg), nil
	default: // redis
		if client == nil {
			if cfg.RedisURL == "" {
				return nil, errors.New("events: redis stream needs a redis url")
			}
			var err error
			if client, err = redisopt.NewClient(cfg.RedisURL, DefaultRedisTimeout); err != nil {
				return nil, fmt.Errorf("events: %w", err)
			}
		}
		return NewRedisStream(ctx, client, cfg)
	}
}

// unavailable wraps a backend failure so errors.Is sees ErrUnavailable and
// the cause.
func unavailable(op string, err error) error {
	return fmt.Errorf("events: %s: %w: %w", op, ErrUnavailable, err)
}
