package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// DefaultStream is the Redis stream key of the audit log.
const DefaultStream = "sa:audit"

// Redis is a Log in a Redis stream: one entry per record, field "r"
// holding the record's JSON, added with XADD and never trimmed (no
// MAXLEN) or deleted by the application.
type Redis struct {
	c   redis.Cmdable
	key string
}

var _ Log = (*Redis)(nil)

// NewRedis returns a Log writing to the stream key (DefaultStream when
// empty) through c, which the caller keeps and closes.
func NewRedis(c redis.Cmdable, key string) *Redis {
	if key == "" {
		key = DefaultStream
	}
	return &Redis{c: c, key: key}
}

// Append adds r to the stream with XADD (no MAXLEN).
func (l *Redis) Append(ctx context.Context, r Record) error {
	if err := check(&r); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := l.c.XAdd(ctx, &redis.XAddArgs{Stream: l.key, Values: []any{"r", b}}).Err(); err != nil {
		return fmt.Errorf("%w: XADD %s: %w", ErrUnavailable, l.key, err)
	}
	return nil
}

// Recent reads the last limit entries with XREVRANGE; entries that do not
// parse are skipped.
func (l *Redis) Recent(ctx context.Context, limit int) ([]Record, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	msgs, err := l.c.XRevRangeN(ctx, l.key, "+", "-", int64(limit)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: XREVRANGE %s: %w", ErrUnavailable, l.key, err)
	}
	out := make([]Record, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["r"].(string)
		var r Record
		if json.Unmarshal([]byte(s), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Close does nothing: the client belongs to the caller.
func (l *Redis) Close() error { return nil }

// Config chooses and configures a Log for New.
type Config struct {
	// Backend is "file" (Path), "redis" (Redis, Stream) or "memory".
	Backend string
	// Path is the file of the file backend, e.g. <data dir>/audit.log.
	Path string
	// Redis is the client of the redis backend; Stream its key (default
	// DefaultStream).
	Redis  redis.Cmdable
	Stream string
	// Capacity is how many records the memory backend keeps (default
	// 10,000).
	Capacity int
}

// New returns the Log cfg names.
func New(cfg Config) (Log, error) {
	switch cfg.Backend {
	case "file":
		if cfg.Path == "" {
			return nil, errors.New("audit: the file backend needs a path")
		}
		return OpenFile(cfg.Path)
	case "redis":
		if cfg.Redis == nil {
			return nil, errors.New("audit: the redis backend needs a client")
		}
		return NewRedis(cfg.Redis, cfg.Stream), nil
	case "memory":
		return NewMemory(cfg.Capacity), nil
	}
	return nil, fmt.Errorf("audit: unknown backend %q (want file, redis or memory)", cfg.Backend)
}
