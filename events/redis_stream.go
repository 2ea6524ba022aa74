package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/privacy"
)

// RedisStream is the scale-out Stream on Redis Streams (Redis >= 6.2 for
// XAUTOCLAIM; 7.0 for the lag check). Key: P+"stream", one entry per up to
// Config.EntryEvents events of a Publish call, with a single field: "e",
// the events in a compact binary form (see codec.go), or with
// Config.Sealer "s", that form sealed (privacy.Sealer, associated data
// privacy.AAD("event-stream", the stream key)). Publish pipelines
// XADD MAXLEN ~ N; consumers share the group Config.Group: XREADGROUP
// batches, apply, then XACK; entries left pending longer than ClaimIdle by
// a dead or failing consumer are taken over with XAUTOCLAIM. Delivery is
// at-least-once; the apply function makes it exactly-once in effect by
// deduplicating on the event id. Entries leave the stream by MAXLEN
// trimming, by age (Config.MaxAge: each consumer runs XTRIM MINID once a
// minute) or by Erase.
type RedisStream struct {
	c   *redis.Client
	cfg Config
	key string
	aad []byte // sealed entries' associated data

	// Entries that did not open since the last log line, and when that
	// was (unix ns).
	unopened atomic.Int64
	loggedAt atomic.Int64

	// busy is set by the lag monitor when undelivered + pending entries
	// reach 90% of MaxLen, so Publish sheds load instead of letting XADD's
	// trimming drop entries no consumer has applied.
	busy      atomic.Bool
	monOnce   sync.Once
	stopMon   chan struct{}
	closeOnce sync.Once
}

var (
	_ Stream = (*RedisStream)(nil)
	_ Eraser = (*RedisStream)(nil)
)

// ApplyRedisDefaults sets the timeouts and options the events package
// expects on a client it creates (fail fast when Redis is down).
func ApplyRedisDefaults(opt *redis.Options) {
	redisopt.FailFast(opt, DefaultRedisTimeout, DefaultRedisTimeout, DefaultRedisTimeout)
}

// NewRedisStream creates the consumer group (and the stream) if missing and
// returns the stream. Close closes c.
func NewRedisStream(ctx context.Context, c *redis.Client, cfg Config) (*RedisStream, error) {
	cfg = cfg.withDefaults()
	key := cfg.KeyPrefix + "stream"
	s := &RedisStream{c: c, cfg: cfg, key: key, aad: privacy.AAD(streamAADScope, key), stopMon: make(chan struct{})}
	if err := s.ensureGroup(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Key is the stream's Redis key.
func (s *RedisStream) Key() string { return s.key }

func (s *RedisStream) ensureGroup(ctx context.Context) error {
	err := s.c.XGroupCreateMkStream(ctx, s.key, s.cfg.Group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return unavailable("create group", err)
	}
	return nil
}

// Stream entry fields, and the scope of sealed entries' associated data.
const (
	plainField     = "e"
	sealedField    = "s"
	streamAADScope = "event-stream"
)

// Publish implements Stream: one pipeline of XADD MAXLEN ~ N, one round
// trip per call; with Config.Sealer each entry's payload is sealed.
func (s *RedisStream) Publish(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	s.monOnce.Do(func() { go s.monitor() })
	if s.busy.Load() {
		return ErrBusy
	}
	pipe := s.c.Pipeline()
	buf := make([]byte, 0, 128*len(evs))
	for i := 0; i < len(evs); i += s.cfg.EntryEvents {
		start := len(buf)
		for j := i; j < min(i+s.cfg.EntryEvents, len(evs)); j++ {
			buf = appendEvent(buf, &evs[j])
		}
		field, payload := s.entryPayload(buf[start:len(buf):len(buf)])
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.key, MaxLen: s.cfg.MaxLen, Approx: true, Values: []any{field, payload}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("publish", err)
	}
	return nil
}

// monitor refreshes the busy flag every 500 ms from XINFO GROUPS.
func (s *RedisStream) monitor() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		s.checkLag()
		select {
		case <-s.stopMon:
			return
		case <-t.C:
		}
	}
}

func (s *RedisStream) checkLag() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	groups, err := s.c.XInfoGroups(ctx, s.key).Result()
	if err != nil {
		return // Publish reports outages itself
	}
	limit := s.cfg.MaxLen * 9 / 10
	busy := false
	for _, g := range groups {
		if g.Name != s.cfg.Group {
			continue
		}
		lag := g.Lag
		if lag < 0 { // unknown: assume the worst
			lag = s.cfg.MaxLen
		}
		busy = lag+g.Pending >= limit
	}
	s.busy.Store(busy)
}

// Consume implements Stream. On start and every ClaimInterval it takes over
// entries idle longer than ClaimIdle (its own after a restart under the same
// name, or a dead consumer's) with XAUTOCLAIM, then reads new entries with
// XREADGROUP. Redis errors are retried after a pause; a lost group (Redis
// restarted without persistence) is recreated. An entry whose apply keeps
// failing stays pending and is retried every ClaimInterval once idle for
// ClaimIdle (watch XPENDING); it does not hold up newer entries.
func (s *RedisStream) Consume(ctx context.Context, apply ApplyFunc) error {
	var lastClaim, lastTrim time.Time
	backoff := 100 * time.Millisecond
	pause := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(lastTrim) >= trimEvery {
			_ = s.trimAge(ctx) // an outage shows in the reads below
			lastTrim = time.Now()
		}
		if time.Since(lastClaim) >= s.cfg.ClaimInterval {
			n, err := s.claim(ctx, apply)
			if err != nil {
				// Read new entries before claiming again, so entries whose
				// apply keeps failing cannot starve the rest.
				lastClaim = time.Now()
				if err := pause(); err != nil {
					return err
				}
				continue
			}
			if n == 0 {
				lastClaim = time.Now()
			} // else claim again at once: there may be more
			continue
		}
		res, err := s.c.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: s.cfg.Group, Consumer: s.cfg.Consumer, Streams: []string{s.key, ">"},
			Count: int64(s.cfg.Batch), Block: min(s.cfg.Block, s.cfg.ClaimInterval),
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if redis.HasErrorPrefix(err, "NOGROUP") {
				_ = s.ensureGroup(ctx)
			}
			if err := pause(); err != nil {
				return err
			}
			continue
		}
		for _, st := range res {
			if err := s.applyAck(ctx, st.Messages, apply); err != nil {
				if err := pause(); err != nil {
					return err
				}
				continue
			}
			backoff = 100 * time.Millisecond
		}
	}
}

// claim takes over idle pending entries and applies them; it returns how
// many it claimed.
func (s *RedisStream) claim(ctx context.Context, apply ApplyFunc) (int, error) {
	start, total := "0-0", 0
	for {
		msgs, next, err := s.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: s.key, Group: s.cfg.Group, Consumer: s.cfg.Consumer,
			MinIdle: s.cfg.ClaimIdle, Start: start, Count: int64(s.cfg.Batch),
		}).Result()
		if err != nil {
			if redis.HasErrorPrefix(err, "NOGROUP") {
				_ = s.ensureGroup(ctx)
			}
			return total, err
		}
		if len(msgs) > 0 {
			if err := s.applyAck(ctx, msgs, apply); err != nil {
				return total, err
			}
			total += len(msgs)
		}
		if next == "0-0" || next == "" {
			return total, nil
		}
		start = next
	}
}

// entryPayload is the field and value of an entry holding the encoded
// events b: sealed when the stream has a Sealer.
func (s *RedisStream) entryPayload(b []byte) (string, []byte) {
	if s.cfg.Sealer == nil {
		return plainField, b
	}
	return sealedField, s.cfg.Sealer.Seal(b, s.aad)
}

// entryEvents appends the events of entry m to evs. A sealed entry that
// does not open is an error (naming the entry); an entry that does not
// decode (written by something else) gives no events.
func (s *RedisStream) entryEvents(evs []Event, m redis.XMessage) ([]Event, error) {
	if v, ok := m.Values[sealedField].(string); ok {
		if s.cfg.Sealer == nil {
			return evs, fmt.Errorf("events: stream entry %s is encrypted and no encryption key is configured: %w", m.ID, privacy.ErrNoKeys)
		}
		plain, err := s.cfg.Sealer.Open([]byte(v), s.aad)
		if err != nil {
			return evs, fmt.Errorf("events: stream entry %s: %w", m.ID, err)
		}
		return decodeEntry(evs, plain), nil
	}
	raw, _ := m.Values[plainField].(string)
	return decodeEntry(evs, []byte(raw)), nil
}

// unopenedLogEvery bounds the log lines about entries that do not open.
const unopenedLogEvery = time.Minute

// noteUnopened counts an entry that did not open and logs err, with the
// count, at most once every unopenedLogEvery.
func (s *RedisStream) noteUnopened(err error) {
	n := s.unopened.Add(1)
	now := time.Now().UnixNano()
	last := s.loggedAt.Load()
	if now-last < int64(unopenedLogEvery) || !s.loggedAt.CompareAndSwap(last, now) {
		return
	}
	s.unopened.Add(-n)
	s.cfg.Log.Error("events: stream entries do not open: they stay pending, unapplied, until a key that opens them is configured or they age out",
		"entries", n, "stream", s.key, "err", err)
}

// applyAck decodes msgs, applies their events in calls of at most Batch
// events and acknowledges them once every call succeeded. Entries that do
// not decode (written by something else) are acknowledged and skipped;
// sealed entries that do not open are neither applied nor acknowledged
// (noteUnopened): they stay pending.
func (s *RedisStream) applyAck(ctx context.Context, msgs []redis.XMessage, apply ApplyFunc) error {
	if len(msgs) == 0 {
		return nil
	}
	evs := make([]Event, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		var err error
		if evs, err = s.entryEvents(evs, m); err != nil {
			s.noteUnopened(err)
			continue
		}
		ids = append(ids, m.ID)
	}
	for i := 0; i < len(evs); i += s.cfg.Batch {
		if err := apply(ctx, evs[i:min(i+s.cfg.Batch, len(evs))]); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := s.c.XAck(ctx, s.key, s.cfg.Group, ids...).Err(); err != nil {
		return unavailable("ack", err)
	}
	return nil
}

// trimEvery is how often a consumer trims entries older than MaxAge.
const trimEvery = time.Minute

// trimAge deletes the entries older than MaxAge (by their id's time).
func (s *RedisStream) trimAge(ctx context.Context) error {
	minID := strconv.FormatInt(time.Now().Add(-s.cfg.MaxAge).UnixMilli(), 10) + "-0"
	if err := s.c.XTrimMinID(ctx, s.key, minID).Err(); err != nil {
		return unavailable("trim", err)
	}
	return nil
}

// eraseScript: KEYS stream; ARGV 1 entry id, 2 group, 3 the entry's events
// to keep ("" for none), 4 max len, 5 "1" when the group had delivered the
// entry before the scan, 6 the field of the kept events ("e" or "s"). If
// the entry is still there, its kept events are added as a new entry when
// the group may still need them (not delivered yet, or pending: a
// redelivery is applied once, by id), then the entry is deleted and
// acknowledged. Returns 1 when the entry was removed.
var eraseScript = redis.NewScript(`
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
if ARGV[3] ~= '' then
  local needed = ARGV[5] ~= '1'
  if not needed then
    needed = #redis.call('XPENDING', KEYS[1], ARGV[2], ARGV[1], ARGV[1], 1) > 0
  end
  if needed then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', ARGV[6], ARGV[3])
  end
end
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
return 1
`)

// eraseBatch is how many entries one XRANGE of Erase reads.
const eraseBatch = 500

// Erase implements Eraser: it reads the whole stream (at most about MaxLen
// entries, eraseBatch per XRANGE) and rewrites each entry holding a
// matching event with one script: the entry goes, the other events in it
// are added again as a new entry unless the group has applied them
// already (sealed with the current key when the stream has a Sealer).
// Cost: O(stream length) reads, one script per entry touched. Sealed
// entries that do not open cannot be checked: Erase goes on with the
// others, then returns an error counting them.
func (s *RedisStream) Erase(ctx context.Context, match func(*Event) bool) (int, error) {
	if err := s.ensureGroup(ctx); err != nil {
		return 0, err
	}
	groups, err := s.c.XInfoGroups(ctx, s.key).Result()
	if err != nil {
		return 0, unavailable("erase", err)
	}
	delivered := "0-0"
	for _, g := range groups {
		if g.Name == s.cfg.Group {
			delivered = g.LastDeliveredID
		}
	}
	removed, unopened := 0, 0
	var firstErr error
	for start := "-"; ; {
		msgs, err := s.c.XRangeN(ctx, s.key, start, "+", eraseBatch).Result()
		if err != nil {
			return removed, unavailable("erase", err)
		}
		for _, m := range msgs {
			evs, err := s.entryEvents(nil, m)
			if err != nil {
				if unopened++; firstErr == nil {
					firstErr = err
				}
				continue
			}
			var kept []byte
			n := 0
			for i := range evs {
				if match(&evs[i]) {
					n++
				} else {
					kept = appendEvent(kept, &evs[i])
				}
			}
			if n == 0 {
				continue
			}
			wasDelivered := "0"
			if streamIDLE(m.ID, delivered) {
				wasDelivered = "1"
			}
			field, payload := plainField, []byte(nil)
			if len(kept) > 0 {
				field, payload = s.entryPayload(kept)
			}
			ok, err := eraseScript.Run(ctx, s.c, []string{s.key}, m.ID, s.cfg.Group, payload, s.cfg.MaxLen, wasDelivered, field).Int()
			if err != nil {
				return removed, unavailable("erase", err)
			}
			if ok == 1 {
				removed += n
			}
		}
		if len(msgs) < eraseBatch {
			if unopened > 0 {
				return removed, fmt.Errorf("events: erase: %d stream entries do not open, their events were not checked (first: %w)", unopened, firstErr)
			}
			return removed, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// streamIDLE reports whether stream id a ("ms-seq") is at or before b.
func streamIDLE(a, b string) bool {
	am, as := splitStreamID(a)
	bm, bs := splitStreamID(b)
	return am < bm || (am == bm && as <= bs)
}

func splitStreamID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	q, _ := strconv.ParseUint(seq, 10, 64)
	return m, q
}

// Pending is the number of entries delivered to a consumer of the group
// but not acknowledged yet.
func (s *RedisStream) Pending(ctx context.Context) (int64, error) {
	p, err := s.c.XPending(ctx, s.key, s.cfg.Group).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return 0, nil
		}
		return 0, unavailable("xpending", err)
	}
	return p.Count, nil
}

// Unrotated counts the entries of the stream not sealed with the current
// key of Config.Sealer: sealed with an older (or unknown) key, or written
// plain. Entries are never rewritten, so they leave the stream only by
// MaxAge or MaxLen; an old key may be retired once this is 0. Without a
// Sealer it returns an error. Cost: O(stream length) reads, eraseBatch
// entries per XRANGE.
func (s *RedisStream) Unrotated(ctx context.Context) (int64, error) {
	if s.cfg.Sealer == nil {
		return 0, errors.New("events: no encryption key is configured: nothing to count against")
	}
	var n int64
	for start := "-"; ; {
		msgs, err := s.c.XRangeN(ctx, s.key, start, "+", eraseBatch).Result()
		if err != nil {
			return n, unavailable("unrotated", err)
		}
		for _, m := range msgs {
			if v, ok := m.Values[sealedField].(string); ok {
				if s.cfg.Sealer.NeedsRotation([]byte(v)) {
					n++
				}
			} else if _, ok := m.Values[plainField]; ok {
				n++
			}
		}
		if len(msgs) < eraseBatch {
			return n, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// Close implements Stream; it closes the client.
func (s *RedisStream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stopMon)
		if e := s.c.Close(); e != nil && !errors.Is(e, redis.ErrClosed) {
			err = e
		}
	})
	return err
}
