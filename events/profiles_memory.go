package events

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"
)

// MemoryProfiles is the embedded Profiles: everything in process memory,
// lost on restart (the in-process stream is not durable either). One mutex
// guards all state; Apply holds it for the whole batch, so a batch is
// atomic.
type MemoryProfiles struct {
	cfg ProfileConfig

	mu     sync.Mutex
	users  map[string]*memProfile
	seen   map[string]int64 // event id → expiry (unix ms)
	seenQ  []seenEntry      // insertion order, for expiry
	minute map[int64]map[string]float64
	hour   map[int64]map[string]float64
	sweeps int
}

type seenEntry struct {
	id     string
	expiry int64
}

type memProfile struct {
	epoch      int64 // unix ms
	brands     map[string]float64
	cats       map[string]float64
	bands      map[string]float64
	recent     []string // most recent first
	purchased  map[string]int64
	queries    []string
	counts     map[Type]int64
	lastEvent  int64
	lastUpdate int64
}

var _ Profiles = (*MemoryProfiles)(nil)

// NewMemoryProfiles returns an empty in-memory profile store.
func NewMemoryProfiles(cfg ProfileConfig) *MemoryProfiles {
	return &MemoryProfiles{
		cfg:    cfg.withDefaults(),
		users:  map[string]*memProfile{},
		seen:   map[string]int64{},
		minute: map[int64]map[string]float64{},
		hour:   map[int64]map[string]float64{},
	}
}

// Apply implements Profiles. Cost: one lock per batch, a product lookup and
// a few map updates per event.
func (m *MemoryProfiles) Apply(ctx context.Context, evs []Event) error {
	if err := ctx.Err(); err != nil {
		return unavailable("apply", err)
	}
	feats := make([]features, len(evs))
	for i := range evs {
		feats[i] = featuresOf(&evs[i], m.cfg.Lookup)
	}
	now := m.cfg.Now().UnixMilli()
	hl := m.cfg.HalfLife.Milliseconds()
	seenTTL := m.cfg.SeenTTL.Milliseconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now)
	for i := range evs {
		e := &evs[i]
		if exp, ok := m.seen[e.ID]; ok && exp > now {
			continue
		}
		m.seen[e.ID] = now + seenTTL
		m.seenQ = append(m.seenQ, seenEntry{e.ID, now + seenTTL})
		ts := e.TS.UnixMilli()
		sh := e.Shopper()
		p := m.users[sh]
		if p == nil {
			p = &memProfile{epoch: ts, brands: map[string]float64{}, cats: map[string]float64{},
				bands: map[string]float64{}, purchased: map[string]int64{}, counts: map[Type]int64{}}
			m.users[sh] = p
		}
		p.counts[e.Type]++
		p.lastEvent = max(p.lastEvent, ts)
		p.lastUpdate = now
		if x := float64(ts-p.epoch) / float64(hl); x > rescaleAfter {
			f := math.Exp2(-x)
			for _, aff := range []map[string]float64{p.brands, p.cats, p.bands} {
				for k, v := range aff {
					aff[k] = v * f
				}
			}
			p.epoch = ts
		}
		if w := TypeWeights[e.Type]; w > 0 {
			sw := w * math.Exp2(float64(ts-p.epoch)/float64(hl))
			f := feats[i]
			if f.brand != "" {
				p.brands[f.brand] += sw
			}
			for _, c := range f.cats {
				p.cats[c] += sw
			}
			if f.band != "" {
				p.bands[f.band] += sw
			}
			m.addTrending(e.ProductID, ts, now, w)
		}
		switch e.Type {
		case View, Click:
			p.recent = pushFront(p.recent, e.ProductID, m.cfg.RecentViews)
		case Purchase:
			p.purchased[e.ProductID] = ts
			if len(p.purchased) > m.cfg.MaxPurchased {
				oldest, ot := "", int64(math.MaxInt64)
				for id, t := range p.purchased {
					if t < ot {
						oldest, ot = id, t
					}
				}
				delete(p.purchased, oldest)
			}
		case Search:
			if e.Query != "" {
				p.queries = pushFront(p.queries, e.Query, 20)
			}
		}
	}
	return nil
}

// pushFront moves x to the front of xs, keeping at most n entries.
func pushFront(xs []string, x string, n int) []string {
	out := make([]string, 0, min(len(xs)+1, n))
	out = append(out, x)
	for _, y := range xs {
		if len(out) == n {
			break
		}
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

func (m *MemoryProfiles) addTrending(pid string, ts, now int64, w float64) {
	if pid == "" {
		return
	}
	mb, hb := ts/60_000, ts/3_600_000
	if mb > now/60_000-minuteBuckets {
		if m.minute[mb] == nil {
			m.minute[mb] = map[string]float64{}
		}
		m.minute[mb][pid] += w
	}
	if hb > now/3_600_000-hourBuckets {
		if m.hour[hb] == nil {
			m.hour[hb] = map[string]float64{}
		}
		m.hour[hb][pid] += w
	}
}

// expire drops expired seen ids, old buckets and idle profiles; the caller
// holds mu. Profiles are swept every 1024 calls.
func (m *MemoryProfiles) expire(now int64) {
	i := 0
	for ; i < len(m.seenQ) && m.seenQ[i].expiry <= now; i++ {
		if m.seen[m.seenQ[i].id] == m.seenQ[i].expiry {
			delete(m.seen, m.seenQ[i].id)
		}
	}
	if i > 0 {
		m.seenQ = append([]seenEntry(nil), m.seenQ[i:]...)
	}
	for b := range m.minute {
		if b <= now/60_000-minuteBuckets {
			delete(m.minute, b)
		}
	}
	for b := range m.hour {
		if b <= now/3_600_000-hourBuckets {
			delete(m.hour, b)
		}
	}
	m.sweeps++
	if m.sweeps%1024 == 0 {
		ttl := m.cfg.ProfileTTL.Milliseconds()
		for k, p := range m.users {
			if p.lastUpdate+ttl < now {
				delete(m.users, k)
			}
		}
	}
}

// Get implements Profiles.
func (m *MemoryProfiles) Get(ctx context.Context, shopper string) (Profile, error) {
	if err := ctx.Err(); err != nil {
		return Profile{}, unavailable("get", err)
	}
	now := m.cfg.Now()
	out := Profile{Shopper: shopper, AsOf: now}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.users[shopper]
	if p == nil || p.lastUpdate+m.cfg.ProfileTTL.Milliseconds() < now.UnixMilli() {
		return out, nil
	}
	f := math.Exp2(-float64(now.UnixMilli()-p.epoch) / float64(m.cfg.HalfLife.Milliseconds()))
	scale := func(src map[string]float64) map[string]float64 {
		dst := make(map[string]float64, len(src))
		for k, v := range src {
			dst[k] = v * f
		}
		return dst
	}
	out.Brands, out.Categories, out.PriceBands = scale(p.brands), scale(p.cats), scale(p.bands)
	out.RecentViews = append([]string(nil), p.recent...)
	out.RecentQueries = append([]string(nil), p.queries...)
	for id := range p.purchased {
		out.Purchased = append(out.Purchased, id)
	}
	sort.Slice(out.Purchased, func(i, j int) bool {
		a, b := p.purchased[out.Purchased[i]], p.purchased[out.Purchased[j]]
		if a != b {
			return a > b
		}
		return out.Purchased[i] < out.Purchased[j]
	})
	out.Counts = make(map[Type]int64, len(p.counts))
	for t, c := range p.counts {
		out.Counts[t] = c
	}
	out.LastEvent = time.UnixMilli(p.lastEvent)
	return out, nil
}

// Delete implements Profiles.
func (m *MemoryProfiles) Delete(ctx context.Context, shopper string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, unavailable("delete", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.users[shopper]
	delete(m.users, shopper)
	return ok, nil
}

// Trending implements Profiles.
func (m *MemoryProfiles) Trending(ctx context.Context, window time.Duration, k int) ([]TrendingItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, unavailable("trending", err)
	}
	now := m.cfg.Now().UnixMilli()
	buckets, minutes := trendingBuckets(window, now)
	sum := map[string]float64{}
	m.mu.Lock()
	src := m.hour
	if minutes {
		src = m.minute
	}
	for _, b := range buckets {
		for id, v := range src[b] {
			sum[id] += v
		}
	}
	m.mu.Unlock()
	return topTrending(sum, k), nil
}

// trendingBuckets lists the bucket numbers covering window back from now,
// and whether they are minute buckets (else hour buckets).
func trendingBuckets(window time.Duration, now int64) ([]int64, bool) {
	if window <= 0 {
		window = Hour
	}
	size, n, minutes := int64(3_600_000), int64(math.Ceil(window.Hours())), false
	if window <= 2*time.Hour {
		size, n, minutes = 60_000, int64(math.Ceil(window.Minutes())), true
	}
	n = min(n, int64(hourBuckets))
	cur := now / size
	out := make([]int64, 0, n)
	for b := cur - n + 1; b <= cur; b++ {
		out = append(out, b)
	}
	return out, minutes
}

func topTrending(sum map[string]float64, k int) []TrendingItem {
	if k <= 0 {
		k = 10
	}
	items := make([]TrendingItem, 0, len(sum))
	for id, v := range sum {
		items = append(items, TrendingItem{id, v})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Score != items[j].Score {
			return items[i].Score > items[j].Score
		}
		return items[i].ProductID < items[j].ProductID
	})
	if len(items) > k {
		items = items[:k]
	}
	return items
}

// Close implements Profiles.
func (m *MemoryProfiles) Close() error { return nil }
