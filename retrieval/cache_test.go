package retrieval

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/catalog"
)

func TestCachedIndexServesRepeatsAndInvalidatesOnChange(t *testing.T) {
	ctx := context.Background()
	base, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCachedIndex(base, 100)
	if err := c.Upsert(ctx, []catalog.Product{{ID: "1", Title: "Blue wireless mouse", Brand: "Logi", Price: 2000}, {ID: "2", Title: "Red wired mouse", Brand: "Acme", Price: 900}}); err != nil {
		t.Fatal(err)
	}
	search := func(q Query) []string {
		t.Helper()
		hits, err := c.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(hits))
		for i, h := range hits {
			ids[i] = h.Product.ID
		}
		return ids
	}
	first := search(Query{Text: "mouse", K: 10})
	if got := search(Query{Text: "  MOUSE ", K: 10}); strings.Join(got, ",") != strings.Join(first, ",") {
		t.Fatalf("normalised repeat gave %v, first %v", got, first)
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 1 {
		t.Fatalf("after a repeat: %+v, want 1 hit 1 miss", s)
	}
	// A different filter or K is a different entry.
	if got := search(Query{Text: "mouse", K: 10, Filter: Filter{Brands: []string{"acme"}}}); len(got) != 1 || got[0] != "2" {
		t.Fatalf("filtered search %v", got)
	}
	search(Query{Text: "mouse", K: 1})
	if s := c.Stats(); s.Misses != 3 {
		t.Fatalf("filter and K changes should miss: %+v", s)
	}
	// A catalogue change invalidates: the new product appears at once.
	if err := c.Upsert(ctx, []catalog.Product{{ID: "3", Title: "Gaming mouse", Brand: "Zed"}}); err != nil {
		t.Fatal(err)
	}
	if got := search(Query{Text: "mouse", K: 10}); len(got) != 3 {
		t.Fatalf("after upsert the cached answer was served: %v", got)
	}
	if err := c.Delete(ctx, []string{"1"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range search(Query{Text: "mouse", K: 10}) {
		if id == "1" {
			t.Fatal("deleted product served from the cache")
		}
	}
	// Callers may reorder what they get without touching the cache.
	hits, _ := c.Search(ctx, Query{Text: "mouse", K: 10})
	hits[0], hits[1] = hits[1], hits[0]
	again, _ := c.Search(ctx, Query{Text: "mouse", K: 10})
	if again[0].Product.ID == hits[0].Product.ID {
		t.Fatal("a caller's reordering leaked into the cache")
	}

	cc := NewCacheCollector()
	cc.Add("search", c.Stats)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(cc)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "assistant_cache_lookups_total" || len(mfs[0].Metric) != 2 {
		t.Fatalf("collector gathered %v, %v; want hit and miss series", mfs, err)
	}
}

type countingEncoder struct {
	*hashEncoder
	queries atomic.Int64
}

func (c *countingEncoder) EncodeQuery(ctx context.Context, text string) ([]float32, error) {
	c.queries.Add(1)
	return c.hashEncoder.EncodeQuery(ctx, text)
}

func TestCachedEncoderEncodesAQueryOnce(t *testing.T) {
	enc := &countingEncoder{hashEncoder: &hashEncoder{dim: 16}}
	c := NewCachedEncoder(enc, 2)
	for _, q := range []string{"a", "a", "b", "a", "c", "b"} {
		if _, err := c.EncodeQuery(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	// a, b, (a hit), c evicts b (LRU of 2: a was used more recently), b again.
	if got := enc.queries.Load(); got != 4 {
		t.Fatalf("encoded %d times, want 4 (a, b, c, b after eviction)", got)
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 4 {
		t.Fatalf("stats %+v", s)
	}
}
