package retrieval

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/catalog"
)

// DefaultCacheEntries is the default size of the query caches.
const DefaultCacheEntries = 10000

// CacheStats counts lookups of a cache.
type CacheStats struct {
	Hits, Misses int64
}

// CachedIndex is an Index that remembers the results of recent searches in
// a bounded LRU keyed by the normalised query (text lower-cased with spaces
// collapsed, K, mode and filter). Every Upsert or Delete through it
// invalidates the cache at once (a generation counter: entries of an older
// catalogue are never served), so catalogue changes must go through the
// CachedIndex, not around it. Search results are shared between callers:
// they must not be modified (copy before re-ranking). Safe for concurrent
// use; a hit costs one map lookup under the LRU's lock and a slice copy.
type CachedIndex struct {
	Index
	cache  *lru.Cache[string, cachedResult]
	gen    atomic.Uint64
	hits   atomic.Int64
	misses atomic.Int64
}

type cachedResult struct {
	gen  uint64
	hits []Hit
}

// NewCachedIndex wraps idx with a search cache of entries entries
// (DefaultCacheEntries when <= 0).
func NewCachedIndex(idx Index, entries int) *CachedIndex {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	c, _ := lru.New[string, cachedResult](entries) // only fails for size <= 0
	return &CachedIndex{Index: idx, cache: c}
}

// Search implements Index, answering repeated queries from the cache.
func (c *CachedIndex) Search(ctx context.Context, q Query) ([]Hit, error) {
	key := queryKey(q)
	gen := c.gen.Load()
	if r, ok := c.cache.Get(key); ok && r.gen == gen {
		c.hits.Add(1)
		return slices.Clone(r.hits), nil
	}
	c.misses.Add(1)
	hits, err := c.Index.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.gen.Load() == gen { // no catalogue change while searching
		c.cache.Add(key, cachedResult{gen: gen, hits: slices.Clone(hits)})
	}
	return hits, nil
}

// Upsert implements Index and invalidates the cache.
func (c *CachedIndex) Upsert(ctx context.Context, products []catalog.Product) error {
	defer c.invalidate()
	return c.Index.Upsert(ctx, products)
}

// Delete implements Index and invalidates the cache.
func (c *CachedIndex) Delete(ctx context.Context, ids []string) error {
	defer c.invalidate()
	return c.Index.Delete(ctx, ids)
}

// invalidate drops every cached result. The generation bump alone makes
// them unservable; purging frees their memory.
func (c *CachedIndex) invalidate() {
	c.gen.Add(1)
	c.cache.Purge()
}

// Stats returns the cache's hit and miss counts.
func (c *CachedIndex) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// Unwrap returns the wrapped index.
func (c *CachedIndex) Unwrap() Index { return c.Index }

// queryKey normalises q into a cache key.
func queryKey(q Query) string {
	var b strings.Builder
	b.WriteString(strings.Join(strings.Fields(strings.ToLower(q.Text)), " "))
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(q.K))
	b.WriteByte(0)
	b.WriteString(q.Mode)
	f := q.Filter
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(f.MinPrice, 10))
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(f.MaxPrice, 10))
	b.WriteByte(0)
	brands := make([]string, len(f.Brands))
	for i, br := range f.Brands {
		brands[i] = strings.ToLower(br)
	}
	slices.Sort(brands)
	b.WriteString(strings.Join(brands, "\x01"))
	b.WriteByte(0)
	b.WriteString(strings.ToLower(f.Category))
	if f.InStockOnly {
		b.WriteString("\x00in")
	}
	return b.String()
}

// CachedEncoder is an Encoder that remembers the vectors of recent queries
// in a bounded LRU (documents are not cached: they are embedded once at
// Upsert and kept in the vector index). Concurrent misses of one query may
// each encode it. Safe for concurrent use. The returned vectors are shared
// and must not be modified.
type CachedEncoder struct {
	Encoder
	cache  *lru.Cache[string, []float32]
	hits   atomic.Int64
	misses atomic.Int64
}

// NewCachedEncoder wraps enc with a query-vector cache of entries entries
// (DefaultCacheEntries when <= 0).
func NewCachedEncoder(enc Encoder, entries int) *CachedEncoder {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	c, _ := lru.New[string, []float32](entries)
	return &CachedEncoder{Encoder: enc, cache: c}
}

// EncodeQuery implements Encoder from the cache when it can.
func (c *CachedEncoder) EncodeQuery(ctx context.Context, text string) ([]float32, error) {
	if v, ok := c.cache.Get(text); ok {
		c.hits.Add(1)
		return v, nil
	}
	c.misses.Add(1)
	v, err := c.Encoder.EncodeQuery(ctx, text)
	if err != nil {
		return nil, err
	}
	c.cache.Add(text, v)
	return v, nil
}

// Stats returns the cache's hit and miss counts.
func (c *CachedEncoder) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// CacheCollector exports caches' hit and miss counts as the Prometheus
// counter assistant_cache_lookups_total{cache,result}. Caches are added
// with Add (nil ones are skipped) before or after registration.
type CacheCollector struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	caches map[string]func() CacheStats
}

// NewCacheCollector returns an empty collector.
func NewCacheCollector() *CacheCollector {
	return &CacheCollector{
		desc:   prometheus.NewDesc("assistant_cache_lookups_total", "Cache lookups by cache and result (hit or miss).", []string{"cache", "result"}, nil),
		caches: map[string]func() CacheStats{},
	}
}

// Add registers a cache under name.
func (cc *CacheCollector) Add(name string, stats func() CacheStats) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.caches[name] = stats
}

// Describe implements prometheus.Collector.
func (cc *CacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cc.desc }

// Collect implements prometheus.Collector.
func (cc *CacheCollector) Collect(ch chan<- prometheus.Metric) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for name, stats := range cc.caches {
		s := stats()
		ch <- prometheus.MustNewConstMetric(cc.desc, prometheus.CounterValue, float64(s.Hits), name, "hit")
		ch <- prometheus.MustNewConstMetric(cc.desc, prometheus.CounterValue, float64(s.Misses), name, "miss")
	}
}
