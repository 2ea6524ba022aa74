package sessions

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redisopt"
)

// Redis is the scale-out Store: any number of chat replicas share one Redis.
// It is safe for concurrent use. Keys, with P the configured prefix:
//
//	P s:ID  hash: user_id, created, updated (unix ns), turns, nonce (of the
//	        last write), m:KEY per meta key, uk (the user's index key, for
//	        sessions with a user)
//	P t:ID  list of Turn JSON, oldest first
//	P idx   sorted set of ids scored by updated (unix ms), for List
//	P us:K  hash, the user index for DeleteUser, K = Config.UserKey(user
//	        id): session id → the session's expire-at (unix ms), and the
//	        field "" → the greatest of them
//	P usidx string: UserKey(probe), to notice a changed key function
//
// Both per-session keys expire TTL after the last update (PEXPIREAT renewed
// by every write); a user's index key expires with the last of its
// sessions (every write renews it too, never shortening it); index members
// older than TTL are removed lazily by Create and List, user index members
// of expired sessions by DeleteUser. Every write is one Lua script, so it
// is atomic and costs one round trip. Create and Append carry a random nonce stored with the
// session, so when go-redis retries a call whose reply was lost (read
// timeout, EOF after the script ran) the retry writes nothing: no
// duplicated turns, no spurious ErrExists.
type Redis struct {
	codec   codec
	c       *redis.Client
	prefix  string
	ttl     time.Duration
	now     func() time.Time
	userKey func(string) string
}

var _ Store = (*Redis)(nil)

// OpenRedis connects to cfg.RedisURL and pings it once, so a wrong address or
// password fails here with a clear error. When the user index was built
// with another Config.UserKey (or encryption setting), or never (data
// written by an older version), it is rebuilt: every P us:* key is
// deleted and every session re-indexed, one SCAN pass each, once per
// deployment and change. Replicas must share one UserKey; after changing
// it, start one replica first (a rebuild running beside writes of another
// replica may drop their fresh index entries until those sessions are
// written again). Once open, the client reconnects
// by itself after an outage; calls made meanwhile fail fast with
// ErrUnavailable, bounded by the dial/read/write timeouts.
func OpenRedis(ctx context.Context, cfg Config) (*Redis, error) {
	if cfg.RedisURL == "" {
		return nil, errors.New("sessions: redis store needs a redis url")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("sessions: redis url %s: %w", redisopt.MaskURL(cfg.RedisURL), err)
	}
	applyRedisDefaults(opt, cfg)
	r := NewRedisFromClient(redis.NewClient(opt), cfg)
	if err := r.Ping(ctx); err != nil {
		_ = r.c.Close()
		return nil, fmt.Errorf("sessions: cannot reach redis at %s: %w", redisopt.MaskURL(cfg.RedisURL), err)
	}
	if err := r.checkUserIndex(ctx); err != nil {
		_ = r.c.Close()
		return nil, err
	}
	return r, nil
}

// applyRedisDefaults fills the client options the URL left unset.
func applyRedisDefaults(opt *redis.Options, cfg Config) {
	redisopt.FailFast(opt, cfg.DialTimeout, cfg.ReadTimeout, cfg.WriteTimeout)
	if opt.MaxRetries == 0 {
		opt.MaxRetries = cfg.MaxRetries
	}
}

// NewRedisFromClient wraps an existing client (shared with other packages);
// Close closes it. cfg supplies TTL, KeyPrefix, Sealer and UserKey. Unlike
// OpenRedis it does not check (nor rebuild) the user index.
func NewRedisFromClient(c *redis.Client, cfg Config) *Redis {
	cfg = cfg.withDefaults()
	return &Redis{codec: codec{cfg.Sealer}, c: c, prefix: cfg.KeyPrefix, ttl: cfg.TTL, now: time.Now, userKey: cfg.userKeyFunc()}
}

// Client returns the underlying client, for packages that share the
// connection pool (events).
func (r *Redis) Client() *redis.Client { return r.c }

func (r *Redis) sessKey(id string) string  { return r.prefix + "s:" + id }
func (r *Redis) turnsKey(id string) string { return r.prefix + "t:" + id }
func (r *Redis) idxKey() string            { return r.prefix + "idx" }
func (r *Redis) userIdxKey(user string) string {
	return r.prefix + "us:" + r.userKey(user)
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Close implements Store.
func (r *Redis) Close() error {
	if err := r.c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return err
	}
	return nil
}

// luaIndex records in user index uk that session id expires at ms at, and
// extends uk's own expiry to at when that is later than any before (the
// field "" holds the latest). Prepended to the scripts that write.
const luaIndex = `
local function index(uk, id, at)
  redis.call('HSET', uk, id, at)
  local m = tonumber(redis.call('HGET', uk, '') or '0')
  if tonumber(at) > m then
    redis.call('HSET', uk, '', at)
    redis.call('PEXPIREAT', uk, at)
  end
end
`

// createScript: KEYS s, t, idx, and the user index key when the session
// has a user; ARGV expire-at ms, index cutoff ms, score ms, id, nonce,
// field/value pairs. Returns 0 when the id is taken by another call (a
// retry of this very call, same nonce, returns 1).
var createScript = redis.NewScript(luaIndex + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'nonce') == ARGV[5] then return 1 end
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'nonce', ARGV[5], unpack(ARGV, 6))
if KEYS[4] then
  redis.call('HSET', KEYS[1], 'uk', KEYS[4])
  index(KEYS[4], ARGV[4], ARGV[1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
`)

// appendScript: KEYS s, t, idx; ARGV expire-at ms, updated ns, score ms, id,
// nonce, turn JSON... Returns the turn count, -1 when the session is
// missing. The nonce makes the client's automatic retry of a call whose
// reply was lost (timeout, EOF) a no-op instead of a second copy.
var appendScript = redis.NewScript(luaIndex + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #ARGV < 6 or redis.call('HGET', KEYS[1], 'nonce') == ARGV[5] then
  return redis.call('LLEN', KEYS[2])
end
local n = redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
redis.call('HSET', KEYS[1], 'updated', ARGV[2], 'turns', n, 'nonce', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
local uk = redis.call('HGET', KEYS[1], 'uk')
if uk then index(uk, ARGV[4], ARGV[1]) end
return n
`)

// setMetaScript: KEYS s, t, idx; ARGV expire-at ms, updated ns, score ms, id,
// then field/value pairs, an empty value deleting the field. Returns -1 when
// the session is missing.
var setMetaScript = redis.NewScript(luaIndex + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
for i = 5, #ARGV, 2 do
  if ARGV[i+1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  end
end
redis.call('HSET', KEYS[1], 'updated', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIREAT', KEYS[2], ARGV[1]) end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
local uk = redis.call('HGET', KEYS[1], 'uk')
if uk then index(uk, ARGV[4], ARGV[1]) end
return 1
`)

const metaField = "m:"

// Create implements Store.
func (r *Redis) Create(ctx context.Context, s Session) error {
	return r.create(ctx, s, newNonce())
}

// create runs createScript; a second run with the same nonce is a no-op
// that succeeds.
func (r *Redis) create(ctx context.Context, s Session, nonce string) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	now := r.now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now
	}
	args := []any{
		s.UpdatedAt.Add(r.ttl).UnixMilli(),
		now.Add(-r.ttl).UnixMilli(),
		s.UpdatedAt.UnixMilli(),
		s.ID,
		nonce,
		"created", s.CreatedAt.UnixNano(),
		"updated", s.UpdatedAt.UnixNano(),
		"turns", 0,
	}
	if s.UserID != "" {
		args = append(args, "user_id", r.codec.sealString(s.ID, "user_id", s.UserID))
	}
	for k, v := range s.Meta {
		if v != "" {
			args = append(args, metaField+k, r.codec.sealString(s.ID, "meta:"+k, v))
		}
	}
	keys := r.keys(s.ID)
	if s.UserID != "" {
		keys = append(keys, r.userIdxKey(s.UserID))
	}
	n, err := createScript.Run(ctx, r.c, keys, args...).Int()
	if err != nil {
		return unavailable("create", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: session %q", ErrExists, s.ID)
	}
	return nil
}

func (r *Redis) keys(id string) []string {
	return []string{r.sessKey(id), r.turnsKey(id), r.idxKey()}
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (Session, error) {
	h, err := r.c.HGetAll(ctx, r.sessKey(id)).Result()
	if err != nil {
		return Session{}, mapRedisErr("get", err)
	}
	return r.decodeSession(id, h)
}

func (r *Redis) decodeSession(id string, h map[string]string) (Session, error) {
	if len(h) == 0 {
		return Session{}, ErrNotFound
	}
	s := Session{ID: id, UserID: h["user_id"]}
	created, err1 := strconv.ParseInt(h["created"], 10, 64)
	updated, err2 := strconv.ParseInt(h["updated"], 10, 64)
	turns, err3 := strconv.Atoi(h["turns"])
	if err := errors.Join(err1, err2, err3); err != nil {
		// A hash without these fields is not a session written by this code
		// (or a half-expired remnant): treat it as absent.
		return Session{}, ErrNotFound
	}
	s.CreatedAt = time.Unix(0, created).UTC()
	s.UpdatedAt = time.Unix(0, updated).UTC()
	s.Turns = turns
	for k, v := range h {
		if strings.HasPrefix(k, metaField) {
			if s.Meta == nil {
				s.Meta = make(map[string]string)
			}
			s.Meta[k[len(metaField):]] = v
		}
	}
	return r.codec.openSession(s)
}

// Append implements Store. Zero At fields are set to now. The turns of one
// call are pushed by one script: all or none are written, once.
func (r *Redis) Append(ctx context.Context, id string, turns ...Turn) error {
	return r.append(ctx, id, newNonce(), turns)
}

// append runs appendScript; a second run with the same nonce writes nothing.
func (r *Redis) append(ctx context.Context, id, nonce string, turns []Turn) error {
	now := r.now()
	args := make([]any, 0, 5+len(turns))
	args = append(args, now.Add(r.ttl).UnixMilli(), now.UnixNano(), now.UnixMilli(), id, nonce)
	for _, t := range turns {
		if t.At.IsZero() {
			t.At = now.UTC()
		}
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("sessions: encode turn: %w", err)
		}
		args = append(args, r.codec.sealTurn(id, b))
	}
	n, err := appendScript.Run(ctx, r.c, r.keys(id), args...).Int()
	if err != nil {
		return unavailable("append", err)
	}
	if n < 0 {
		return ErrNotFound
	}
	return nil
}

// History implements Store: one MULTI round trip (EXISTS + LRANGE).
func (r *Redis) History(ctx context.Context, id string, limit int) ([]Turn, error) {
	start := int64(0)
	if limit > 0 {
		start = -int64(limit)
	}
	var exists *redis.IntCmd
	var rng *redis.StringSliceCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, r.sessKey(id))
		rng = p.LRange(ctx, r.turnsKey(id), start, -1)
		return nil
	})
	if err != nil {
		return nil, mapRedisErr("history", err)
	}
	if exists.Val() == 0 {
		return nil, ErrNotFound
	}
	raw := rng.Val()
	out := make([]Turn, len(raw))
	for i, v := range raw {
		b, err := r.codec.openTurn(id, []byte(v))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("sessions: decode turn %d of %q: %w", i, id, err)
		}
	}
	return out, nil
}

// SetMeta implements Store. It also bumps UpdatedAt, renewing the TTL.
func (r *Redis) SetMeta(ctx context.Context, id string, kv map[string]string) error {
	now := r.now()
	args := make([]any, 0, 4+2*len(kv))
	args = append(args, now.Add(r.ttl).UnixMilli(), now.UnixNano(), now.UnixMilli(), id)
	for k, v := range kv {
		args = append(args, metaField+k, r.codec.sealString(id, "meta:"+k, v))
	}
	n, err := setMetaScript.Run(ctx, r.c, r.keys(id), args...).Int()
	if err != nil {
		return unavailable("set meta", err)
	}
	if n < 0 {
		return ErrNotFound
	}
	return nil
}

// listBatch bounds one ZRANGE of List.
const listBatch = 256

// List implements Store. The cursor is the (score, id) of the last session
// returned; the next page starts strictly after it in index order (score
// descending, then id descending), so a static set is paged without
// duplicates or gaps.
func (r *Redis) List(ctx context.Context, opt ListOptions) (Page, error) {
	limit := pageLimit(opt.Limit)
	var (
		hasCur   bool
		curScore int64
		curID    string
	)
	if opt.Cursor != "" {
		var err error
		curScore, curID, err = decodeRedisCursor(opt.Cursor)
		if err != nil {
			return Page{}, err
		}
		hasCur = true
	}
	now := r.now()
	cutoff := now.Add(-r.ttl).UnixMilli()
	idx := r.idxKey()
	if err := r.c.ZRemRangeByScore(ctx, idx, "-inf", "("+strconv.FormatInt(cutoff, 10)).Err(); err != nil {
		return Page{}, mapRedisErr("list", err)
	}
	maxScore := "+inf"
	if hasCur {
		maxScore = strconv.FormatInt(curScore, 10)
	}
	page := Page{Sessions: []Session{}}
	var lastScore int64
	batch := int64(min(limit+1, listBatch))
	for offset := int64(0); ; {
		zs, err := r.c.ZRevRangeByScoreWithScores(ctx, idx, &redis.ZRangeBy{
			Min: "(" + strconv.FormatInt(cutoff, 10), Max: maxScore, Offset: offset, Count: batch,
		}).Result()
		if err != nil {
			return Page{}, mapRedisErr("list", err)
		}
		offset += int64(len(zs))
		cand := zs[:0]
		for _, z := range zs {
			id, _ := z.Member.(string)
			if hasCur && int64(z.Score) == curScore && id >= curID {
				continue // returned on an earlier page
			}
			cand = append(cand, z)
		}
		if len(cand) > 0 {
			cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, z := range cand {
					p.HGetAll(ctx, r.sessKey(z.Member.(string)))
				}
				return nil
			})
			if err != nil {
				return Page{}, mapRedisErr("list", err)
			}
			for i, c := range cmds {
				s, err := r.decodeSession(cand[i].Member.(string), c.(*redis.MapStringStringCmd).Val())
				if errors.Is(err, ErrNotFound) {
					continue // expired between ZRANGE and HGETALL
				}
				if err != nil {
					return Page{}, err
				}
				if len(page.Sessions) == limit {
					page.Next = encodeRedisCursor(lastScore, page.Sessions[limit-1].ID)
					return page, nil
				}
				page.Sessions = append(page.Sessions, s)
				lastScore = int64(cand[i].Score)
			}
		}
		if int64(len(zs)) < batch {
			return page, nil
		}
	}
}

// newNonce identifies one write call, so that its retries are recognised.
func newNonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func encodeRedisCursor(score int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(score, 10) + "|" + id))
}

func decodeRedisCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, id, ok := strings.Cut(string(b), "|"); ok {
			if score, err := strconv.ParseInt(s, 10, 64); err == nil {
				return score, id, nil
			}
		}
	}
	return 0, "", fmt.Errorf("%w: bad cursor", ErrInvalid)
}

func mapRedisErr(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	return unavailable(op, err)
}

// deleteUserScript: KEYS user index, idx, then s and t of each candidate;
// ARGV candidate count N, N pairs (id, stored user_id value as read), then
// ids of stale index members. A candidate is deleted only if its stored
// user_id is still the value read (else the id was reused meanwhile);
// deleted and stale ids leave the index, which goes when nothing is left.
// Returns the deleted ids.
var deleteUserScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local id = ARGV[2 * i]
  if redis.call('HGET', KEYS[1 + 2 * i], 'user_id') == ARGV[2 * i + 1] then
    redis.call('DEL', KEYS[1 + 2 * i], KEYS[2 + 2 * i])
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[1], id)
    out[#out + 1] = id
  end
end
for j = 2 * n + 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[j]) end
if redis.call('HLEN', KEYS[1]) <= 1 then redis.call('DEL', KEYS[1]) end
return out
`)

// deleteUserAttempts bounds the passes of Redis.DeleteUser over sessions
// whose stored user id changed while it ran.
const deleteUserAttempts = 3

// DeleteUser implements Store: HKEYS of the user's index, one pipelined
// HGET per indexed session to check its owner, then one script that
// deletes the owner's sessions. A session whose stored user id changed
// between the HGET and the script (re-sealed by a concurrent Rotate, or
// the id reused by another user) is checked again in another pass, up to
// deleteUserAttempts; if one still changes then, the error wraps
// ErrUnavailable (retry). With an error, the ids that earlier passes
// deleted are returned with it.
func (r *Redis) DeleteUser(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, fmt.Errorf("%w: empty user id", ErrInvalid)
	}
	deleted := []string{}
	for range deleteUserAttempts {
		ids, changed, err := r.deleteUserOnce(ctx, userID)
		deleted = append(deleted, ids...)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return deleted, err // what earlier passes deleted is gone
		}
		if changed == 0 {
			return deleted, err
		}
	}
	return deleted, unavailable("delete user", errors.New("sessions of the user kept changing while being erased"))
}

// deleteUserOnce is one pass of DeleteUser; changed counts the sessions
// kept because their stored user id changed meanwhile.
func (r *Redis) deleteUserOnce(ctx context.Context, userID string) (deleted []string, changed int, err error) {
	uk := r.userIdxKey(userID)
	members, err := r.c.HKeys(ctx, uk).Result()
	if err != nil {
		return nil, 0, unavailable("delete user", err)
	}
	ids := slices.DeleteFunc(members, func(id string) bool { return id == "" })
	if len(ids) == 0 {
		return nil, 0, nil
	}
	cmds, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.HGet(ctx, r.sessKey(id), "user_id")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, unavailable("delete user", err)
	}
	keys := []string{uk, r.idxKey()}
	args := []any{0}
	var stale []any
	unreadable := 0
	for i, id := range ids {
		stored, err := cmds[i].(*redis.StringCmd).Result()
		if errors.Is(err, redis.Nil) {
			stale = append(stale, id) // expired
			continue
		}
		owner, err := r.codec.openString(id, "user_id", stored)
		switch {
		case err != nil:
			unreadable++ // kept in the index for a retry with the right key
		case owner != userID:
			stale = append(stale, id) // the id was reused by another user
		default:
			keys = append(keys, r.sessKey(id), r.turnsKey(id))
			args = append(args, id, stored)
		}
	}
	candidates := (len(args) - 1) / 2
	args[0] = candidates
	args = append(args, stale...)
	deleted, err = deleteUserScript.Run(ctx, r.c, keys, args...).StringSlice()
	if err != nil {
		return nil, 0, unavailable("delete user", err)
	}
	changed = candidates - len(deleted)
	if unreadable > 0 {
		return deleted, changed, fmt.Errorf("%w: %d indexed sessions kept: their user id cannot be decrypted", ErrCorrupt, unreadable)
	}
	return deleted, changed, nil
}

// indexScript: KEYS pairs (s, user index); ARGV pairs (id, expire-at ms).
// Indexes each session that still exists.
var indexScript = redis.NewScript(luaIndex + `
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HSET', KEYS[i], 'uk', KEYS[i + 1])
    index(KEYS[i + 1], ARGV[i], ARGV[i + 1])
  end
end
return 0
`)

// scanBatch is the COUNT of each SCAN and the most sessions indexed by one
// script while rebuilding the user index.
const scanBatch = 500

// checkUserIndex rebuilds the user index unless P usidx says it was built
// with the store's key function.
func (r *Redis) checkUserIndex(ctx context.Context) error {
	marker, probe := r.prefix+"usidx", r.userKey(userKeyProbe)
	got, err := r.c.Get(ctx, marker).Result()
	if err == nil && got == probe {
		return nil
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("check user index", err)
	}
	old := r.c.Scan(ctx, 0, redisopt.GlobEscape(r.prefix+"us:")+"*", scanBatch).Iterator()
	var batch []string
	for old.Next(ctx) {
		if batch = append(batch, old.Val()); len(batch) == scanBatch {
			if err := r.c.Unlink(ctx, batch...).Err(); err != nil {
				return unavailable("rebuild user index", err)
			}
			batch = batch[:0]
		}
	}
	if err := old.Err(); err != nil {
		return unavailable("rebuild user index", err)
	}
	if len(batch) > 0 {
		if err := r.c.Unlink(ctx, batch...).Err(); err != nil {
			return unavailable("rebuild user index", err)
		}
	}
	sess := r.c.Scan(ctx, 0, redisopt.GlobEscape(r.prefix+"s:")+"*", scanBatch).Iterator()
	batch = batch[:0]
	for sess.Next(ctx) {
		if batch = append(batch, sess.Val()); len(batch) == scanBatch {
			if err := r.indexSessions(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := sess.Err(); err != nil {
		return unavailable("rebuild user index", err)
	}
	if err := r.indexSessions(ctx, batch); err != nil {
		return err
	}
	if err := r.c.Set(ctx, marker, probe, 0).Err(); err != nil {
		return unavailable("rebuild user index", err)
	}
	return nil
}

// indexSessions adds the sessions stored under keys (P s:ID) to the user
// index; sessions without a user id, or whose user id does not open, are
// skipped.
func (r *Redis) indexSessions(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	users := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			users[i] = p.HGet(ctx, k, "user_id")
			ttls[i] = p.PTTL(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("rebuild user index", err)
	}
	now := r.now()
	var skeys []string
	var args []any
	for i, k := range keys {
		id := strings.TrimPrefix(k, r.prefix+"s:")
		user, err := r.codec.openString(id, "user_id", users[i].Val())
		if err != nil || user == "" {
			continue
		}
		at := now.Add(r.ttl) // no expiry: as if written now
		if d := ttls[i].Val(); d > 0 {
			at = now.Add(d + time.Second) // PTTL is rounded down; outlive the session
		}
		skeys = append(skeys, k, r.userIdxKey(user))
		args = append(args, id, at.UnixMilli())
	}
	if len(skeys) == 0 {
		return nil
	}
	if err := indexScript.Run(ctx, r.c, skeys, args...).Err(); err != nil {
		return unavailable("rebuild user index", err)
	}
	return nil
}
