package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisProfiles keeps profiles and trending counts in Redis, shared by every
// replica and consumer. Keys, with P the prefix and S the shopper:
//
//	P seen:M:R  hash: ids of applied events whose ts falls in minute M
//	            (unix ms / 60,000) and whose last byte is R modulo 8;
//	            expires SeenTTL after the minute ends or after its last
//	            write, whichever is later (a hash per minute and shard, not
//	            a key per event: ~40 bytes an id; at very high rates set
//	            lazyfree-lazy-expire yes so freeing one does not stall Redis)
//	P u:S       everything kept about the shopper, one string (see
//	            profile_record.go): a 9-byte header (format byte, random
//	            stamp renewed on every write), then in a compact binary
//	            form the affinities with their decay epoch (the 200
//	            strongest), counts by type, last event ts, recently viewed
//	            (with ts), purchased (with ts) and recent queries — sealed
//	            with ProfileConfig.Sealer when one is set (AES-256-GCM, the
//	            key id inside, bound to the key name)
//	P rv:S, P pu:S, P q:S   only in data written before the single record
//	            (then P u:S was JSON): read as part of the profile, folded
//	            into P u:S at its next write (Apply, Rotate) and deleted
//	P tm:N, P th:N   sorted sets: product → weighted count in minute /
//	            hour bucket N (unix ms / 60,000 or / 3,600,000). An event
//	            counts in its minute bucket; a background roll-up (every
//	            30 s, once per minute thanks to the marker P rl:N) adds each
//	            finished minute into its hour, and events for a minute
//	            already rolled (or older than the 2 h of minute buckets) go
//	            to the hour bucket directly, so each event counts once in
//	            each window
//	P lock      the apply lock (a token, PX 2 s; see Apply)
//
// Apply computes profiles in Go (Lua cannot decrypt), optimistically: (a)
// one pipelined round trip reads the batch's ids in the seen hashes
// (HMGET) and each shopper's record (GET); (b) Go drops seen and repeated
// ids, opens the records, applies the new events and seals them; (c) one
// EVALSHA commits atomically if every record is unchanged since (a) (its
// header compared with GETRANGE) and every new id still unseen: it records
// the ids (HSET), writes the records (SET PX ProfileTTL) and adds the
// trending counts. When another writer came in between, it writes nothing
// and Apply re-reads and recomputes the changed records (or, when an id
// was applied meanwhile, starts again from (a)); after 3 such commits it
// takes the apply lock, which holds other Apply calls' commits back until
// it is done, so that every batch gets through. So a batch is atomic, and
// re-applying it changes nothing. Profile keys expire ProfileTTL after the
// shopper's last applied event; buckets after they leave their window. The
// scripts build key names themselves, so Redis Cluster is not supported.
type RedisProfiles struct {
	c   *redis.Client
	cfg ProfileConfig

	mu    sync.Mutex
	cache map[string]trendCache // "window/k" → result

	stop      chan struct{}
	closeOnce sync.Once
}

type trendCache struct {
	at    time.Time
	items []TrendingItem
}

// trendingCacheFor is how long a Trending result is reused: the union of up
// to 60 buckets is O(products in the window).
const trendingCacheFor = 2 * time.Second

var _ Profiles = (*RedisProfiles)(nil)

// NewRedisProfiles returns profiles stored through c and starts the
// goroutine that rolls minute trending buckets up into hour buckets every
// 30 s. Close stops it and closes c.
func NewRedisProfiles(c *redis.Client, cfg ProfileConfig) *RedisProfiles {
	r := &RedisProfiles{c: c, cfg: cfg.withDefaults(), cache: map[string]trendCache{}, stop: make(chan struct{})}
	go r.rollUpLoop()
	return r
}

// luaUnchanged is a Lua function of the commit and rotate scripts: whether
// the record at key still is the one read, given its check value ("": no
// record; a 9-byte header starting with the format byte recordPlain or
// recordSealed; else the whole value of a legacy record).
const luaUnchanged = `
local function unchanged(key, chk)
  if chk == '' then return redis.call('EXISTS', key) == 0 end
  local f = string.byte(chk, 1)
  if #chk == 9 and (f == 2 or f == 3) then return redis.call('GETRANGE', key, 0, 8) == chk end
  return redis.call('GET', key) == chk
end
`

// commitScript: ARGV 1 profile TTL ms, 2 number G of seen groups, 3 number
// U of records, 4 prefix P, 5 the apply lock's token or ""; then G groups (seen key, expire-at ms, count K,
// K new ids); then U records (shopper, check value, new value, "1" when
// the legacy keys rv, pu, q are to be deleted, else ""); then trending
// groups up to the end (minute key or "", its expire-at, hour key or "",
// its expire-at, minute number, count N, N pairs product, weight). A live
// minute bucket takes the count; its hour bucket only once the minute has
// been rolled up into it (P rl:M exists, see rollUpScript), else the
// roll-up carries it; too old for minute buckets, the hour directly.
// Writes nothing and returns -1 when another Apply holds the apply lock
// (P lock), 0 when an id was recorded since Apply read the seen hashes, or
// the list of the (1-based) records that changed since Apply read them;
// else writes everything and returns 1.
var commitScript = redis.NewScript(luaUnchanged + `
local ttl, ng, nu, P = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local held = redis.call('GET', P .. 'lock')
if held and held ~= ARGV[5] then return -1 end
local i = 6
for _ = 1, ng do
  local k, last = ARGV[i], i + 2 + tonumber(ARGV[i + 2])
  for c = i + 3, last, 500 do
    local got = redis.call('HMGET', k, unpack(ARGV, c, math.min(c + 499, last)))
    for j = 1, #got do if got[j] then return 0 end end
  end
  i = last + 1
end
local changed = {}
for u = 1, nu do
  if not unchanged(P .. 'u:' .. ARGV[i], ARGV[i + 1]) then changed[#changed + 1] = u end
  i = i + 4
end
if #changed > 0 then return changed end
i = 6
for _ = 1, ng do
  local k, last = ARGV[i], i + 2 + tonumber(ARGV[i + 2])
  for c = i + 3, last, 500 do
    local hs = {}
    for j = c, math.min(c + 499, last) do hs[#hs + 1] = ARGV[j]; hs[#hs + 1] = '' end
    redis.call('HSET', k, unpack(hs))
  end
  redis.call('PEXPIREAT', k, ARGV[i + 1])
  i = last + 1
end
for _ = 1, nu do
  local sh = ARGV[i]
  redis.call('SET', P .. 'u:' .. sh, ARGV[i + 2], 'PX', ttl)
  if ARGV[i + 3] == '1' then redis.call('DEL', P .. 'rv:' .. sh, P .. 'pu:' .. sh, P .. 'q:' .. sh) end
  i = i + 4
end
while i <= #ARGV do
  local mk, hk, last = ARGV[i], ARGV[i + 2], i + 5 + 2 * tonumber(ARGV[i + 5])
  local toHour = hk ~= ''
  if mk ~= '' then
    for j = i + 6, last, 2 do redis.call('ZINCRBY', mk, ARGV[j + 1], ARGV[j]) end
    redis.call('PEXPIREAT', mk, ARGV[i + 1])
    toHour = toHour and redis.call('EXISTS', P .. 'rl:' .. ARGV[i + 4]) == 1
  end
  if toHour then
    for j = i + 6, last, 2 do redis.call('ZINCRBY', hk, ARGV[j + 1], ARGV[j]) end
    redis.call('PEXPIREAT', hk, ARGV[i + 3])
  end
  i = last + 1
end
return 1
`)

// Trending and seen-id bucket sizes and retention.
const (
	minuteMs     = 60_000
	hourMs       = 3_600_000
	minuteKeepMs = 2 * hourMs  // minute buckets live 2 h after they end
	hourKeepMs   = 48 * hourMs // hour buckets live 48 h after they end
	seenShards   = 8           // seen hashes per minute
)

// Apply's optimistic commits: after lockAfterConflicts commits that found
// a record or an id changed since it read them, Apply takes the apply lock
// (P lock, a token with the TTL applyLockTTL) during which other Apply
// calls' commits wait, so that a batch always gets through; after
// maxApplyConflicts it gives up. A commit waits at most applyWaitMax for
// another's lock.
const (
	lockAfterConflicts = 3
	maxApplyConflicts  = 10
	applyLockTTL       = 2 * time.Second
	applyWaitMax       = 2 * applyLockTTL
	applyLockPoll      = time.Millisecond
)

// applyPlan is what Apply derives from a batch once, whatever Redis holds.
type applyPlan struct {
	evs      []*Event   // the batch without repeated ids, in order
	affs     [][]string // per evs entry: its affinity fields (b:BRAND, c:CAT, p:BAND)
	groups   []seenGroup
	shoppers []string // distinct shoppers of evs, in order
}

// seenGroup is the batch's events whose ids go to one seen hash.
type seenGroup struct {
	key string
	at  int64 // expire-at, unix ms
	idx []int // into applyPlan.evs
}

// shopperUpdate is one shopper's part of an attempt: the record read, its
// new value and the new events applied to it.
type shopperUpdate struct {
	sh  string
	evs []int // into applyPlan.evs
	st  storedRecord
	val []byte
}

// trendKey identifies a trending group: a minute (with its hour), or an
// hour alone when the minute is too old for minute buckets.
type trendKey struct {
	n      int64
	minute bool
}

// Apply implements Profiles: two round trips per call (a pipelined read,
// then one EVALSHA), and one more the first time a legacy record is read.
// When the commit finds records changed since the read, only those are
// read and recomputed again; when it finds an id applied meanwhile (the
// same event applied by another consumer), Apply starts again from the
// read. After lockAfterConflicts such commits it takes the apply lock;
// after maxApplyConflicts it gives up with an error wrapping
// ErrUnavailable (the stream redelivers the batch).
func (r *RedisProfiles) Apply(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	plan := r.plan(evs)
	var lock string // the apply lock's token while this call holds it
	defer func() {
		if lock != "" {
			r.unlock(ctx, lock)
		}
	}()
	conflicts := 0
	waitUntil := time.Now().Add(applyWaitMax)
	for {
		fresh, ups, err := r.read(ctx, plan)
		if err != nil || len(ups) == 0 {
			return err // or nothing new
		}
		trend := r.trendArgs(plan, fresh)
	commit:
		for {
			res, err := r.commit(ctx, plan, fresh, ups, trend, lock)
			switch {
			case err != nil:
				return err
			case res.done:
				return nil
			case res.locked:
				if time.Now().After(waitUntil) {
					return fmt.Errorf("events: apply: %w: another consumer held the apply lock for over %v", ErrUnavailable, applyWaitMax)
				}
				select {
				case <-ctx.Done():
					return unavailable("apply", ctx.Err())
				case <-time.After(applyLockPoll):
				}
				continue // records may have changed meanwhile: the commit says
			}
			if conflicts++; conflicts == maxApplyConflicts {
				return fmt.Errorf("events: apply: %w: the batch's profiles kept changing under concurrent writers (%d attempts)", ErrUnavailable, conflicts)
			}
			if conflicts >= lockAfterConflicts && lock == "" {
				if lock, err = r.tryLock(ctx); err != nil {
					return err
				}
			}
			if res.seen {
				break commit
			}
			if err := r.reread(ctx, plan, res.changed); err != nil {
				return err
			}
		}
	}
}

// tryLock takes the apply lock and returns its token, or "" when another
// Apply holds it.
func (r *RedisProfiles) tryLock(ctx context.Context) (string, error) {
	tok := NewID()
	ok, err := r.c.SetNX(ctx, r.cfg.KeyPrefix+"lock", tok, applyLockTTL).Result()
	if err != nil {
		return "", unavailable("apply lock", err)
	}
	if !ok {
		return "", nil
	}
	return tok, nil
}

// unlockScript: KEYS[1] the lock; ARGV[1] the token. Deletes the lock if
// it still holds the token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// unlock releases the apply lock held with tok; if that fails, the lock
// expires after applyLockTTL.
func (r *RedisProfiles) unlock(ctx context.Context, tok string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = unlockScript.Run(ctx, r.c, []string{r.cfg.KeyPrefix + "lock"}, tok).Err()
}

func (r *RedisProfiles) plan(evs []Event) *applyPlan {
	P := r.cfg.KeyPrefix
	now := r.cfg.Now().UnixMilli()
	seenTTL := r.cfg.SeenTTL.Milliseconds()
	p := &applyPlan{evs: make([]*Event, 0, len(evs))}
	ids := make(map[string]bool, len(evs))
	groupOf := map[string]int{}
	shoppers := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		if ids[e.ID] {
			continue
		}
		ids[e.ID] = true
		// Seen hash: one per (minute of ts, last byte of id mod 8).
		ts := e.TS.UnixMilli()
		m := floorDiv(ts, minuteMs)
		var last byte
		if e.ID != "" {
			last = e.ID[len(e.ID)-1]
		}
		k := P + "seen:" + strconv.FormatInt(m, 10) + ":" + strconv.Itoa(int(last)%seenShards)
		g, ok := groupOf[k]
		if !ok {
			g = len(p.groups)
			groupOf[k] = g
			p.groups = append(p.groups, seenGroup{key: k, at: max((m+1)*minuteMs, now) + seenTTL})
		}
		p.groups[g].idx = append(p.groups[g].idx, len(p.evs))
		var affs []string
		if TypeWeights[e.Type] > 0 {
			f := featuresOf(e, r.cfg.Lookup)
			affs = make([]string, 0, len(f.cats)+2)
			if f.brand != "" {
				affs = append(affs, "b:"+f.brand)
			}
			for _, c := range f.cats {
				affs = append(affs, "c:"+c)
			}
			if f.band != "" {
				affs = append(affs, "p:"+f.band)
			}
		}
		p.evs = append(p.evs, e)
		p.affs = append(p.affs, affs)
		if sh := e.Shopper(); !shoppers[sh] {
			shoppers[sh] = true
			p.shoppers = append(p.shoppers, sh)
		}
	}
	return p
}

// read is step (a) and (b) of Apply: one pipelined round trip reads the
// batch's ids in the seen hashes and the shoppers' records; it returns
// which events are new and, per shopper with new events, the record with
// them applied.
func (r *RedisProfiles) read(ctx context.Context, plan *applyPlan) ([]bool, []*shopperUpdate, error) {
	pipe := r.c.Pipeline()
	seen := make([]*redis.SliceCmd, len(plan.groups))
	for g, grp := range plan.groups {
		ids := make([]string, len(grp.idx))
		for j, i := range grp.idx {
			ids[j] = plan.evs[i].ID
		}
		seen[g] = pipe.HMGet(ctx, grp.key, ids...)
	}
	gets := make(map[string]*redis.StringCmd, len(plan.shoppers))
	for _, sh := range plan.shoppers {
		gets[sh] = pipe.Get(ctx, r.recordKey(sh))
	}
	if err := execPipe(ctx, pipe); err != nil {
		return nil, nil, unavailable("apply", err)
	}
	fresh := make([]bool, len(plan.evs))
	for g, grp := range plan.groups {
		for j, x := range seen[g].Val() {
			fresh[grp.idx[j]] = x == nil
		}
	}
	var ups []*shopperUpdate
	byShopper := map[string]*shopperUpdate{}
	for i, e := range plan.evs {
		if !fresh[i] {
			continue
		}
		sh := e.Shopper()
		u := byShopper[sh]
		if u == nil {
			u = &shopperUpdate{sh: sh}
			byShopper[sh] = u
			ups = append(ups, u)
		}
		u.evs = append(u.evs, i)
	}
	raws := make([]string, len(ups))
	for i, u := range ups {
		raws[i] = gets[u.sh].Val()
	}
	if err := r.update(ctx, plan, ups, raws); err != nil {
		return nil, nil, err
	}
	return fresh, ups, nil
}

// reread reads the records of ups again (one pipelined round trip) and
// recomputes them.
func (r *RedisProfiles) reread(ctx context.Context, plan *applyPlan, ups []*shopperUpdate) error {
	pipe := r.c.Pipeline()
	gets := make([]*redis.StringCmd, len(ups))
	for i, u := range ups {
		gets[i] = pipe.Get(ctx, r.recordKey(u.sh))
	}
	if err := execPipe(ctx, pipe); err != nil {
		return unavailable("apply", err)
	}
	raws := make([]string, len(ups))
	for i, g := range gets {
		raws[i] = g.Val()
	}
	return r.update(ctx, plan, ups, raws)
}

// update opens each shopper's stored record raws[i] (loading the lists
// of legacy records), applies the shopper's new events and encodes the
// result.
func (r *RedisProfiles) update(ctx context.Context, plan *applyPlan, ups []*shopperUpdate, raws []string) error {
	var legacy []*storedRecord
	var legacyOf []string
	for i, u := range ups {
		st, err := r.decodeRecord(r.recordKey(u.sh), raws[i])
		if err != nil {
			return err
		}
		u.st = st
		if st.legacy {
			legacy = append(legacy, &u.st)
			legacyOf = append(legacyOf, u.sh)
		}
	}
	if len(legacy) > 0 {
		if err := r.loadLegacy(ctx, legacyOf, legacy); err != nil {
			return err
		}
	}
	hl := float64(r.cfg.HalfLife.Milliseconds())
	for _, u := range ups {
		rec := u.st.rec
		if rec == nil {
			rec = newRecord(plan.evs[u.evs[0]].TS.UnixMilli())
		}
		for _, i := range u.evs {
			rec.apply(plan.evs[i], plan.affs[i], hl, r.cfg.RecentViews, r.cfg.MaxPurchased)
		}
		rec.capAffinities()
		u.val = r.encodeRecord(r.recordKey(u.sh), rec)
	}
	return nil
}

// trendArgs are the commit script's trending groups for the new events.
func (r *RedisProfiles) trendArgs(plan *applyPlan, fresh []bool) []any {
	now := r.cfg.Now().UnixMilli()
	trend := map[trendKey]map[string]float64{}
	var order []trendKey
	for i, e := range plan.evs {
		w := TypeWeights[e.Type]
		if !fresh[i] || w <= 0 || e.ProductID == "" {
			continue
		}
		ts := e.TS.UnixMilli()
		var k trendKey
		if m := floorDiv(ts, minuteMs); (m+1)*minuteMs+minuteKeepMs > now {
			k = trendKey{m, true}
		} else if h := floorDiv(ts, hourMs); (h+1)*hourMs+hourKeepMs > now {
			k = trendKey{h, false}
		} else {
			continue
		}
		t := trend[k]
		if t == nil {
			t = map[string]float64{}
			trend[k] = t
			order = append(order, k)
		}
		t[e.ProductID] += w
	}
	P := r.cfg.KeyPrefix
	var args []any
	for _, k := range order {
		var mk, hk string
		var mAt, hAt int64
		h := k.n
		if k.minute {
			mk, mAt = P+"tm:"+strconv.FormatInt(k.n, 10), (k.n+1)*minuteMs+minuteKeepMs
			h = floorDiv(k.n*minuteMs, hourMs)
		}
		if (h+1)*hourMs+hourKeepMs > now {
			hk, hAt = P+"th:"+strconv.FormatInt(h, 10), (h+1)*hourMs+hourKeepMs
		}
		t := trend[k]
		args = append(args, mk, mAt, hk, hAt, k.n, len(t))
		for pid, w := range t {
			args = append(args, pid, w)
		}
	}
	return args
}

// commitResult is what a commit did.
type commitResult struct {
	done    bool             // everything written
	locked  bool             // nothing written: another Apply holds the apply lock
	seen    bool             // nothing written: an id was applied since read
	changed []*shopperUpdate // nothing written: these records changed since read
}

// commit is step (c) of Apply, one EVALSHA: it writes everything, or
// nothing and says why. lock is the apply lock's token when this Apply
// holds it, else "".
func (r *RedisProfiles) commit(ctx context.Context, plan *applyPlan, fresh []bool, ups []*shopperUpdate, trend []any, lock string) (commitResult, error) {
	args := make([]any, 0, 5+3*len(plan.groups)+len(plan.evs)+4*len(ups)+len(trend))
	args = append(args, r.cfg.ProfileTTL.Milliseconds(), 0, len(ups), r.cfg.KeyPrefix, lock)
	ngroups := 0
	for _, grp := range plan.groups {
		at := len(args)
		args = append(args, grp.key, grp.at, 0)
		n := 0
		for _, i := range grp.idx {
			if fresh[i] {
				args = append(args, plan.evs[i].ID)
				n++
			}
		}
		if n == 0 {
			args = args[:at]
			continue
		}
		args[at+2] = n
		ngroups++
	}
	args[1] = ngroups
	for _, u := range ups {
		del := ""
		if u.st.legacy {
			del = "1"
		}
		args = append(args, u.sh, u.st.check, u.val, del)
	}
	args = append(args, trend...)
	res, err := commitScript.Run(ctx, r.c, nil, args...).Result()
	if err != nil {
		return commitResult{}, unavailable("apply", err)
	}
	var out commitResult
	switch v := res.(type) {
	case int64:
		out.done, out.seen, out.locked = v == 1, v == 0, v == -1
		return out, nil
	case []any:
		for _, x := range v {
			if n, ok := x.(int64); ok && n >= 1 && int(n) <= len(ups) {
				out.changed = append(out.changed, ups[n-1])
			}
		}
		if len(out.changed) > 0 {
			return out, nil
		}
	}
	return out, fmt.Errorf("events: apply: unexpected commit reply %v", res)
}

// execPipe runs pipe and returns the first error of a command other than
// redis.Nil (a missing key).
func execPipe(ctx context.Context, pipe redis.Pipeliner) error {
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return e
		}
	}
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// loadLegacy reads the lists of legacy records (P rv:S, P pu:S, P q:S of
// shoppers[i]) into recs[i]: one pipelined round trip.
func (r *RedisProfiles) loadLegacy(ctx context.Context, shoppers []string, recs []*storedRecord) error {
	P := r.cfg.KeyPrefix
	pipe := r.c.Pipeline()
	type lists struct {
		rv, pu *redis.ZSliceCmd
		q      *redis.StringSliceCmd
	}
	got := make([]lists, len(shoppers))
	for i, sh := range shoppers {
		got[i] = lists{pipe.ZRevRangeWithScores(ctx, P+"rv:"+sh, 0, -1), pipe.ZRevRangeWithScores(ctx, P+"pu:"+sh, 0, -1), pipe.LRange(ctx, P+"q:"+sh, 0, maxRecentQueries-1)}
	}
	if err := execPipe(ctx, pipe); err != nil {
		return unavailable("read profile", err)
	}
	for i := range shoppers {
		rec := recs[i].rec
		for _, z := range got[i].rv.Val() {
			id, _ := z.Member.(string)
			rec.RV, rec.RVT = append(rec.RV, id), append(rec.RVT, int64(z.Score))
		}
		for _, z := range got[i].pu.Val() {
			id, _ := z.Member.(string)
			rec.PU, rec.PUT = append(rec.PU, id), append(rec.PUT, int64(z.Score))
		}
		rec.Q = got[i].q.Val()
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Get implements Profiles: one GET (and, for a legacy record, one more
// pipelined round trip for its lists), then opening the record. A record
// that does not open (sealed with a key the Sealer lacks, or none
// configured) is an error wrapping the privacy error.
func (r *RedisProfiles) Get(ctx context.Context, shopper string) (Profile, error) {
	out := Profile{Shopper: shopper, AsOf: r.cfg.Now()}
	key := r.recordKey(shopper)
	raw, err := r.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return out, nil
	}
	if err != nil {
		return Profile{}, unavailable("get", err)
	}
	st, err := r.decodeRecord(key, raw)
	if err != nil {
		return Profile{}, err
	}
	if st.legacy {
		if err := r.loadLegacy(ctx, []string{shopper}, []*storedRecord{&st}); err != nil {
			return Profile{}, err
		}
	}
	st.rec.profile(&out, float64(r.cfg.HalfLife.Milliseconds()))
	return out, nil
}

// Delete implements Profiles: one DEL of the shopper's record (and of the
// lists of a legacy record).
func (r *RedisProfiles) Delete(ctx context.Context, shopper string) (bool, error) {
	P := r.cfg.KeyPrefix
	n, err := r.c.Del(ctx, P+"u:"+shopper, P+"rv:"+shopper, P+"pu:"+shopper, P+"q:"+shopper).Result()
	if err != nil {
		return false, unavailable("delete", err)
	}
	return n > 0, nil
}

// trendingScript: KEYS[1] temporary destination, KEYS[2..] buckets; ARGV
// 1 k, 2 prefix, 3.. minute numbers whose buckets count too unless already
// rolled up into their hour (P rl:M exists). Returns the top k with scores.
var trendingScript = redis.NewScript(`
local src = {}
for j = 2, #KEYS do src[#src + 1] = KEYS[j] end
for j = 3, #ARGV do
  if redis.call('EXISTS', ARGV[2] .. 'rl:' .. ARGV[j]) == 0 then src[#src + 1] = ARGV[2] .. 'tm:' .. ARGV[j] end
end
redis.call('ZUNIONSTORE', KEYS[1], #src, unpack(src))
local r = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
redis.call('DEL', KEYS[1])
return r
`)

// rollUpScript: ARGV 1 prefix, 2 first minute, 3 last minute. Adds each
// minute bucket in that range not rolled up yet into its hour bucket and
// marks it rolled (P rl:M, kept 3 h: longer than the minute bucket).
var rollUpScript = redis.NewScript(`
local P = ARGV[1]
local n = 0
for m = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local ms = string.format('%d', m)
  if redis.call('SET', P .. 'rl:' .. ms, '1', 'NX', 'PX', 10800000) then
    local src = P .. 'tm:' .. ms
    if redis.call('EXISTS', src) == 1 then
      local h = math.floor(m / 60)
      local dst = P .. 'th:' .. string.format('%d', h)
      redis.call('ZUNIONSTORE', dst, 2, dst, src)
      redis.call('PEXPIREAT', dst, string.format('%d', (h + 1) * 3600000 + 172800000))
      n = n + 1
    end
  end
end
return n
`)

// rollUpEvery is how often RedisProfiles rolls finished minute buckets up
// into hour buckets; it must be well under the minute buckets' 2 h life.
const rollUpEvery = 30 * time.Second

// rollUp rolls every minute bucket that ended at least a minute before now
// and is still kept up into its hour bucket, once: one script.
func (r *RedisProfiles) rollUp(ctx context.Context, now time.Time) error {
	cur := floorDiv(now.UnixMilli(), minuteMs)
	first := cur - minuteKeepMs/minuteMs + 1
	if err := rollUpScript.Run(ctx, r.c, nil, r.cfg.KeyPrefix, first, cur-2).Err(); err != nil {
		return unavailable("trending roll-up", err)
	}
	return nil
}

func (r *RedisProfiles) rollUpLoop() {
	t := time.NewTicker(rollUpEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = r.rollUp(ctx, r.cfg.Now()) // retried at the next tick
			cancel()
		}
	}
}

// Trending implements Profiles: one script (ZUNIONSTORE of the window's
// buckets, then ZREVRANGE), its result cached for 2 s per window and k.
func (r *RedisProfiles) Trending(ctx context.Context, window time.Duration, k int) ([]TrendingItem, error) {
	if k <= 0 {
		k = 10
	}
	now := r.cfg.Now()
	ck := strconv.FormatInt(int64(window), 10) + "/" + strconv.Itoa(k)
	r.mu.Lock()
	if c, ok := r.cache[ck]; ok && now.Sub(c.at) < trendingCacheFor && !now.Before(c.at) {
		r.mu.Unlock()
		return c.items, nil
	}
	r.mu.Unlock()
	buckets, minutes := trendingBuckets(window, now.UnixMilli())
	kind := "th:"
	if minutes {
		kind = "tm:"
	}
	keys := make([]string, 0, len(buckets)+1)
	keys = append(keys, r.cfg.KeyPrefix+"tmp:"+NewID())
	for _, b := range buckets {
		keys = append(keys, r.cfg.KeyPrefix+kind+strconv.FormatInt(b, 10))
	}
	args := []any{k, r.cfg.KeyPrefix}
	if !minutes { // hour buckets miss the minutes not rolled up yet
		cur := floorDiv(now.UnixMilli(), minuteMs)
		for m := cur - minuteKeepMs/minuteMs + 1; m <= cur; m++ {
			args = append(args, m)
		}
	}
	res, err := trendingScript.Run(ctx, r.c, keys, args...).Slice()
	if err != nil {
		return nil, unavailable("trending", err)
	}
	items := make([]TrendingItem, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		id, _ := res[i].(string)
		s, _ := res[i+1].(string)
		v, _ := strconv.ParseFloat(s, 64)
		items = append(items, TrendingItem{id, v})
	}
	r.mu.Lock()
	r.cache[ck] = trendCache{now, items}
	r.mu.Unlock()
	return items, nil
}

// Close implements Profiles; it stops the roll-up and closes the client.
func (r *RedisProfiles) Close() error {
	var err error
	r.closeOnce.Do(func() {
		close(r.stop)
		if e := r.c.Close(); e != nil && !errors.Is(e, redis.ErrClosed) {
			err = e
		}
	})
	return err
}
