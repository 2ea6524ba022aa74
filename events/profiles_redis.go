package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
//	P u:S       JSON {"ep": decay epoch (unix ms), "last": last event ts,
//	            "n": {TYPE: events applied}, "a": {"b:BRAND"|"c:CATEGORY"|
//	            "p:BAND": Σ weight · 2^((ts−ep)/half-life)}}, the 200
//	            strongest affinities kept; read and rewritten once per batch
//	            (one GET and one SET instead of a dozen hash commands)
//	P rv:S      sorted set: recently viewed or clicked product → ts
//	P pu:S      sorted set: purchased product → ts
//	P q:S       list of recent search queries, newest first
//	P tm:N, P th:N   sorted sets: product → weighted count in minute /
//	            hour bucket N (unix ms / 60,000 or / 3,600,000). An event
//	            counts in its minute bucket; a background roll-up (every
//	            30 s, once per minute thanks to the marker P rl:N) adds each
//	            finished minute into its hour, and events for a minute
//	            already rolled (or older than the 2 h of minute buckets) go
//	            to the hour bucket directly, so each event counts once in
//	            each window
//
// Apply is one EVALSHA per batch: the script looks the batch's ids up in
// the seen hashes (HMGET), records the new ones (HSET) and applies only
// those, so a batch is atomic and re-applying it changes nothing. Profile keys expire ProfileTTL after the
// shopper's last applied event; buckets after they leave their window. The
// script builds key names itself, so Redis Cluster is not supported.
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

// applyScript: ARGV 1 prefix, 2 half-life ms, 3 profile TTL ms, 4 recent
// max, 5 purchased max, 6 event count E, 7 seen-key count S; then S pairs
// (seen key, expire-at ms); then per event: seen key, id, shopper, type, ts
// ms, weight, product, minute-bucket key or "", hour-bucket key or "",
// query, affinity field count A, A affinity fields (b:BRAND, c:CAT,
// p:BAND). Key names and buckets are computed by Apply, so the script only
// deduplicates and aggregates. Returns the number of events applied.
var applyScript = redis.NewScript(`
local P, hl, ttl, amax = ARGV[1], tonumber(ARGV[2]), ARGV[3], 200
local rmax, pmax, n, ns = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local users, order, tm, th, rolled = {}, {}, {}, {}, {}
local applied = 0
-- Pass 1: find each event's offset and group events by seen key.
local offs, groups, gorder = {}, {}, {}
local i = 8 + 2 * ns
for e = 1, n do
  offs[e] = i
  local g = groups[ARGV[i]]
  if not g then g = {}; groups[ARGV[i]] = g; gorder[#gorder + 1] = ARGV[i] end
  g[#g + 1] = e
  i = i + 11 + tonumber(ARGV[i + 10])
end
-- Pass 2: one HMGET and one HSET per seen key (in chunks of 500 ids)
-- instead of an HSETNX per event; an id twice in the batch counts once.
local fresh, taken = {}, {}
for _, sk in ipairs(gorder) do
  local g = groups[sk]
  for c = 1, #g, 500 do
    local ids = {}
    for j = c, math.min(c + 499, #g) do ids[#ids + 1] = ARGV[offs[g[j]] + 1] end
    local got = redis.call('HMGET', sk, unpack(ids))
    local hs = {}
    for j = 1, #ids do
      local id = ids[j]
      if not got[j] and not taken[id] then
        taken[id] = true
        fresh[g[c + j - 1]] = true
        hs[#hs + 1] = id
        hs[#hs + 1] = ''
      end
    end
    if #hs > 0 then redis.call('HSET', sk, unpack(hs)) end
  end
end
-- Pass 3: apply the new events.
for e = 1, n do
  local i = offs[e]
  local na = tonumber(ARGV[i + 10])
  if fresh[e] then
    applied = applied + 1
    local sh, typ, ts, w, pid = ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), ARGV[i + 6]
    local u = users[sh]
    if not u then
      local raw = redis.call('GET', P .. 'u:' .. sh)
      local d
      if raw then d = cjson.decode(raw) else d = {ep = ts, last = 0, n = {}, a = {}} end
      u = {d = d, views = {}, purch = {}, q = {}}
      users[sh] = u
      order[#order + 1] = sh
    end
    local d = u.d
    if (ts - d.ep) / hl > 64 then
      local f = 2 ^ (-(ts - d.ep) / hl)
      for k, v in pairs(d.a) do
        local s = v * f
        if s > 1e-12 then d.a[k] = s else d.a[k] = nil end
      end
      d.ep = ts
    end
    d.n[typ] = (d.n[typ] or 0) + 1
    if ts > d.last then d.last = ts end
    if w > 0 then
      if na > 0 then
        local sw = w * 2 ^ ((ts - d.ep) / hl)
        for j = i + 11, i + 10 + na do d.a[ARGV[j]] = (d.a[ARGV[j]] or 0) + sw end
      end
      -- A live minute bucket takes the count; its hour bucket only once
      -- the minute has been rolled up into it (rollUpScript), else the
      -- roll-up carries it. Too old for minute buckets: the hour directly.
      local mk, hk = ARGV[i + 7], ARGV[i + 8]
      local toHour = hk ~= ''
      if mk ~= '' then
        local t = tm[mk]
        if not t then t = {}; tm[mk] = t end
        t[pid] = (t[pid] or 0) + w
        local r = rolled[mk]
        if r == nil then
          r = redis.call('EXISTS', P .. 'rl:' .. string.match(mk, '(%d+)$')) == 1
          rolled[mk] = r
        end
        toHour = toHour and r
      end
      if toHour then
        local t = th[hk]
        if not t then t = {}; th[hk] = t end
        t[pid] = (t[pid] or 0) + w
      end
    end
    if typ == 'view' or typ == 'click' then
      u.views[#u.views + 1] = ts
      u.views[#u.views + 1] = pid
    elseif typ == 'purchase' then
      u.purch[#u.purch + 1] = ts
      u.purch[#u.purch + 1] = pid
    elseif typ == 'search' and ARGV[i + 9] ~= '' then
      u.q[#u.q + 1] = ARGV[i + 9]
    end
  end
end
for j = 8, 7 + 2 * ns, 2 do redis.call('PEXPIREAT', ARGV[j], ARGV[j + 1]) end
for _, sh in ipairs(order) do
  local u = users[sh]
  local d = u.d
  local keys = {}
  for k in pairs(d.a) do keys[#keys + 1] = k end
  if #keys > amax then
    table.sort(keys, function(x, y) return d.a[x] > d.a[y] end)
    for j = amax + 1, #keys do d.a[keys[j]] = nil end
  end
  redis.call('SET', P .. 'u:' .. sh, cjson.encode(d), 'PX', ttl)
  if #u.views > 0 then
    local key = P .. 'rv:' .. sh
    redis.call('ZADD', key, 'GT', unpack(u.views))
    redis.call('ZREMRANGEBYRANK', key, 0, -(rmax + 1))
    redis.call('PEXPIRE', key, ttl)
  end
  if #u.purch > 0 then
    local key = P .. 'pu:' .. sh
    redis.call('ZADD', key, 'GT', unpack(u.purch))
    redis.call('ZREMRANGEBYRANK', key, 0, -(pmax + 1))
    redis.call('PEXPIRE', key, ttl)
  end
  if #u.q > 0 then
    local key = P .. 'q:' .. sh
    redis.call('LPUSH', key, unpack(u.q))
    redis.call('LTRIM', key, 0, 19)
    redis.call('PEXPIRE', key, ttl)
  end
end
for key, t in pairs(tm) do
  for pid, v in pairs(t) do redis.call('ZINCRBY', key, v, pid) end
  redis.call('PEXPIREAT', key, string.format('%d', (tonumber(string.match(key, '(%d+)$')) + 1) * 60000 + 7200000))
end
for key, t in pairs(th) do
  for pid, v in pairs(t) do redis.call('ZINCRBY', key, v, pid) end
  redis.call('PEXPIREAT', key, string.format('%d', (tonumber(string.match(key, '(%d+)$')) + 1) * 3600000 + 172800000))
end
return applied
`)

// Trending and seen-id bucket sizes and retention.
const (
	minuteMs     = 60_000
	hourMs       = 3_600_000
	minuteKeepMs = 2 * hourMs  // minute buckets live 2 h after they end
	hourKeepMs   = 48 * hourMs // hour buckets live 48 h after they end
	seenShards   = 8           // seen hashes per minute
)

// Apply implements Profiles: one EVALSHA round trip per call.
func (r *RedisProfiles) Apply(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	P := r.cfg.KeyPrefix
	now := r.cfg.Now().UnixMilli()
	seenTTL := r.cfg.SeenTTL.Milliseconds()
	// Seen keys first: one per (minute of ts, last byte of id mod 8).
	seenAt := map[string]int64{}
	seenKeys := make([]string, len(evs))
	for i := range evs {
		ts := evs[i].TS.UnixMilli()
		m := floorDiv(ts, minuteMs)
		var last byte
		if id := evs[i].ID; id != "" {
			last = id[len(id)-1]
		}
		k := P + "seen:" + strconv.FormatInt(m, 10) + ":" + strconv.Itoa(int(last)%seenShards)
		seenKeys[i] = k
		if _, ok := seenAt[k]; !ok {
			seenAt[k] = max((m+1)*minuteMs, now) + seenTTL
		}
	}
	args := make([]any, 0, 7+2*len(seenAt)+15*len(evs))
	args = append(args, P, r.cfg.HalfLife.Milliseconds(), r.cfg.ProfileTTL.Milliseconds(),
		r.cfg.RecentViews, r.cfg.MaxPurchased, len(evs), len(seenAt))
	for k, at := range seenAt {
		args = append(args, k, at)
	}
	for i := range evs {
		e := &evs[i]
		ts := e.TS.UnixMilli()
		w := TypeWeights[e.Type]
		var mk, hk string
		if w > 0 && e.ProductID != "" {
			if m := floorDiv(ts, minuteMs); (m+1)*minuteMs+minuteKeepMs > now {
				mk = P + "tm:" + strconv.FormatInt(m, 10)
			}
			if h := floorDiv(ts, hourMs); (h+1)*hourMs+hourKeepMs > now {
				hk = P + "th:" + strconv.FormatInt(h, 10)
			}
		}
		var f features
		if w > 0 {
			f = featuresOf(e, r.cfg.Lookup)
		}
		na := len(f.cats)
		if f.brand != "" {
			na++
		}
		if f.band != "" {
			na++
		}
		args = append(args, seenKeys[i], e.ID, e.Shopper(), string(e.Type), ts, w, e.ProductID, mk, hk, e.Query, na)
		if f.brand != "" {
			args = append(args, "b:"+f.brand)
		}
		for _, c := range f.cats {
			args = append(args, "c:"+c)
		}
		if f.band != "" {
			args = append(args, "p:"+f.band)
		}
	}
	if err := applyScript.Run(ctx, r.c, nil, args...).Err(); err != nil {
		return unavailable("apply", err)
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

// Get implements Profiles: one pipelined round trip of 4 reads.
func (r *RedisProfiles) Get(ctx context.Context, shopper string) (Profile, error) {
	now := r.cfg.Now()
	out := Profile{Shopper: shopper, AsOf: now}
	P := r.cfg.KeyPrefix
	pipe := r.c.Pipeline()
	u := pipe.Get(ctx, P+"u:"+shopper)
	rv := pipe.ZRevRange(ctx, P+"rv:"+shopper, 0, -1)
	pu := pipe.ZRevRange(ctx, P+"pu:"+shopper, 0, -1)
	q := pipe.LRange(ctx, P+"q:"+shopper, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Profile{}, unavailable("get", err)
	}
	raw := u.Val()
	if raw == "" {
		return out, nil
	}
	var blob struct {
		Ep   float64            `json:"ep"`
		Last float64            `json:"last"`
		N    map[Type]float64   `json:"n"`
		A    map[string]float64 `json:"a"`
	}
	if err := json.Unmarshal([]byte(raw), &blob); err != nil {
		return Profile{}, fmt.Errorf("events: profile of %q: %w", shopper, err)
	}
	f := math.Exp2(-float64(now.UnixMilli()-int64(blob.Ep)) / float64(r.cfg.HalfLife.Milliseconds()))
	out.Brands, out.Categories, out.PriceBands = map[string]float64{}, map[string]float64{}, map[string]float64{}
	for k, x := range blob.A {
		if len(k) < 3 {
			continue
		}
		switch k[:2] {
		case "b:":
			out.Brands[k[2:]] = x * f
		case "c:":
			out.Categories[k[2:]] = x * f
		case "p:":
			out.PriceBands[k[2:]] = x * f
		}
	}
	out.Counts = make(map[Type]int64, len(blob.N))
	for t, n := range blob.N {
		out.Counts[t] = int64(n)
	}
	if blob.Last > 0 {
		out.LastEvent = time.UnixMilli(int64(blob.Last))
	}
	out.RecentViews, out.Purchased, out.RecentQueries = rv.Val(), pu.Val(), q.Val()
	return out, nil
}

// Delete implements Profiles: one DEL of the shopper's four keys (u, rv,
// pu, q).
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
