package retrieval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"

	"github.com/shopassist/shopassist/catalog"
)

// hashEncoder is a deterministic stand-in for a bi-encoder: a hashed bag
// of lower-cased words, plus a small constant component so no text maps to
// the zero vector. Similar texts get similar vectors, so dense retrieval
// behaves predictably in tests.
type hashEncoder struct {
	dim   int
	calls atomic.Int64 // texts encoded by EncodeDocs
}

func (h *hashEncoder) Dim() int { return h.dim }

func (h *hashEncoder) embed(text string) []float32 {
	v := make([]float32, h.dim)
	v[0] = 0.05
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		f := fnv.New32a()
		f.Write([]byte(w))
		x := f.Sum32()
		v[1+int(x%uint32(h.dim-1))] += 1
	}
	l2normalize(v)
	return v
}

func (h *hashEncoder) EncodeQuery(ctx context.Context, text string) ([]float32, error) {
	return h.embed(text), ctx.Err()
}

func (h *hashEncoder) EncodeDocs(ctx context.Context, texts []string) ([][]float32, error) {
	h.calls.Add(int64(len(texts)))
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = h.embed(t)
	}
	return out, ctx.Err()
}

// contractProducts: "target" products the filters must dig out from under
// many better text matches that fail the filter.
func contractProducts() []catalog.Product {
	var ps []catalog.Product
	for i := range 60 {
		ps = append(ps, catalog.Product{
			ID: fmt.Sprintf("decoy%02d", i), Title: "wireless mouse wireless mouse", Brand: "Acme",
			Category: []string{"Computers", "Mice"}, Price: 1000 + int64(i), Availability: catalog.AvailabilityOutOfStock,
		})
	}
	ps = append(ps,
		catalog.Product{ID: "logi", Title: "wireless mouse with a long title about ergonomic grips and batteries", Brand: "Logi",
			Category: []string{"Computers", "Mice"}, Price: 2500, Availability: catalog.AvailabilityInStock},
		catalog.Product{ID: "pricey", Title: "wireless mouse gold plated edition with many extra words in it", Brand: "Acme",
			Category: []string{"Computers", "Mice"}, Price: 90000},
		catalog.Product{ID: "pad", Title: "wireless mouse pad cloth surface and more filler words", Brand: "Acme",
			Category: []string{"Accessories"}, Price: 1500},
		catalog.Product{ID: "noprice", Title: "wireless mouse without price and filler words", Brand: "Acme",
			Category: []string{"Computers", "Mice"}, Price: -1},
		catalog.Product{ID: "ink", Title: "HP 61 black ink cartridge", Brand: "HP", Category: []string{"Printers", "Ink"}, Price: 1999},
	)
	return ps
}

// runIndexContract checks the behaviour every Index backend promises.
// modes lists the query modes the backend under test serves.
func runIndexContract(t *testing.T, newIndex func(t *testing.T) Index, modes []string) {
	ctx := context.Background()
	idx := newIndex(t)
	products := contractProducts()
	if err := idx.Upsert(ctx, products); err != nil {
		t.Fatal(err)
	}
	if idx.Len() != len(products) {
		t.Fatalf("Len = %d, want %d", idx.Len(), len(products))
	}
	if p, ok := idx.Get(ctx, "ink"); !ok || p.Title != "HP 61 black ink cartridge" {
		t.Fatalf("Get(ink) = %v, %v", p, ok)
	}
	if _, ok := idx.Get(ctx, "nope"); ok {
		t.Fatal("Get(nope) found something")
	}
	if err := idx.Upsert(ctx, []catalog.Product{{Title: "no id"}}); err == nil {
		t.Error("Upsert accepted a product without an ID")
	}
	if _, err := idx.Search(ctx, Query{Text: "mouse", Mode: "fuzzy"}); err == nil {
		t.Error("unknown mode accepted")
	}

	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			s := func(q Query) []string {
				t.Helper()
				q.Mode = mode
				hits, err := idx.Search(ctx, q)
				if err != nil {
					t.Fatalf("Search(%+v): %v", q, err)
				}
				return ids(hits)
			}
			if got := s(Query{Text: "hp 61 ink cartridge", K: 3}); len(got) == 0 || got[0] != "ink" {
				t.Errorf("hp 61 ink: %v, want ink first", got)
			}
			if got := s(Query{Text: "wireless mouse", K: 5}); len(got) != 5 {
				t.Errorf("K=5 returned %d hits", len(got))
			}
			// Each filter must find its one match although 60 better text
			// matches fail it: filters apply inside the search.
			for _, tc := range []struct {
				name string
				f    Filter
				want []string
			}{
				{"brand", Filter{Brands: []string{" LOGI "}}, []string{"logi"}},
				{"min price", Filter{MinPrice: 50000}, []string{"pricey"}},
				{"price range", Filter{MinPrice: 2000, MaxPrice: 3000}, []string{"logi"}},
				{"category", Filter{Category: "accessories"}, []string{"pad"}},
				{"in stock + brand", Filter{InStockOnly: true, Brands: []string{"acme"}, Category: "Mice"}, []string{"pricey", "noprice"}},
				{"impossible price", Filter{MinPrice: 10, MaxPrice: 5}, nil},
				{"blank brand", Filter{Brands: []string{" "}}, nil},
			} {
				got := s(Query{Text: "wireless mouse", K: 2, Filter: tc.f})
				if !sameSet(got, tc.want) {
					t.Errorf("filter %s: %v, want %v", tc.name, got, tc.want)
				}
			}
		})
	}

	// Replace and delete, seen by every mode.
	if err := idx.Upsert(ctx, []catalog.Product{{ID: "ink", Title: "Canon PG-540 toner", Brand: "Canon", Price: 1999}}); err != nil {
		t.Fatal(err)
	}
	if err := idx.Delete(ctx, []string{"logi", "unknown"}); err != nil {
		t.Fatal(err)
	}
	if idx.Len() != len(products)-1 {
		t.Errorf("Len after replace+delete = %d, want %d", idx.Len(), len(products)-1)
	}
	if _, ok := idx.Get(ctx, "logi"); ok {
		t.Error("deleted product still found by Get")
	}
	for _, mode := range modes {
		hits, err := idx.Search(ctx, Query{Text: "canon toner", K: 3, Mode: mode})
		if err != nil || len(hits) == 0 || hits[0].Product.ID != "ink" || hits[0].Product.Brand != "Canon" {
			t.Errorf("%s: after replace, canon toner = %v, %v; want the new ink first", mode, ids(hits), err)
		}
		hits, err = idx.Search(ctx, Query{Text: "wireless mouse", K: 3, Mode: mode, Filter: Filter{Brands: []string{"logi"}}})
		if err != nil || len(hits) != 0 {
			t.Errorf("%s: deleted logi still found: %v, %v", mode, ids(hits), err)
		}
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

var allModes = []string{ModeLexical, ModeDense, ModeHybrid}

func TestContractEmbeddedLexical(t *testing.T) {
	runIndexContract(t, func(t *testing.T) Index {
		idx, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}, []string{"", ModeLexical})
}

func TestContractEmbeddedHybrid(t *testing.T) {
	runIndexContract(t, func(t *testing.T) Index {
		idx, err := New(Config{Encoder: &hashEncoder{dim: 64}})
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}, append([]string{""}, allModes...))
}

// TestContractQdrant runs the contract against a real Qdrant at
// $QDRANT_ADDR (host:6334), in a fresh collection that it drops after.
func TestContractQdrant(t *testing.T) {
	addr := os.Getenv("QDRANT_ADDR")
	if addr == "" {
		t.Skip("QDRANT_ADDR is not set (start one: docker run -p 6334:6334 qdrant/qdrant, then QDRANT_ADDR=localhost:6334)")
	}
	runIndexContract(t, func(t *testing.T) Index {
		coll := fmt.Sprintf("shopassist_test_%d", os.Getpid())
		idx, err := New(Config{Backend: "qdrant", QdrantAddr: addr, QdrantCollection: coll, Encoder: &hashEncoder{dim: 64}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			q := idx.(*Qdrant)
			c, err := NewQdrant(q.cfg) // idx is closed by then
			if err == nil {
				_ = c.client.DeleteCollection(context.Background(), coll)
				c.Close()
			}
		})
		return idx
	}, allModes)
}

func TestModesWithoutEncoder(t *testing.T) {
	idx := newTestIndex(t, contractProducts())
	for _, m := range []string{ModeDense, ModeHybrid} {
		if _, err := idx.Search(context.Background(), Query{Text: "mouse", Mode: m}); !errors.Is(err, ErrNoEncoder) {
			t.Errorf("mode %s without encoder: err = %v, want ErrNoEncoder", m, err)
		}
	}
	if _, err := New(Config{Backend: "qdrant", QdrantAddr: "localhost:6334"}); !errors.Is(err, ErrNoEncoder) {
		t.Errorf("qdrant without encoder: err = %v, want ErrNoEncoder", err)
	}
	if _, err := New(Config{Backend: "milvus"}); err == nil {
		t.Error("unknown backend accepted")
	}
}

func TestHybridVectorFilePersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "vectors.hnsw")
	enc := &hashEncoder{dim: 32}
	products := contractProducts()
	idx, err := NewEmbedded(Config{Encoder: enc, VectorFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Upsert(ctx, products); err != nil {
		t.Fatal(err)
	}
	if got := enc.calls.Load(); got != int64(len(products)) {
		t.Fatalf("encoded %d texts, want %d", got, len(products))
	}
	if err := idx.Close(); err != nil { // saves the vectors
		t.Fatal(err)
	}
	enc.calls.Store(0)
	idx, err = NewEmbedded(Config{Encoder: enc, VectorFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if idx.Vectors().Len() != len(products) {
		t.Fatalf("reloaded %d vectors, want %d", idx.Vectors().Len(), len(products))
	}
	products[0].Title = "changed title entirely"
	if err := idx.Upsert(ctx, products); err != nil {
		t.Fatal(err)
	}
	if got := enc.calls.Load(); got != 1 {
		t.Errorf("re-ingest after reload encoded %d texts, want 1 (only the changed product)", got)
	}
	if nodes := len(idx.Vectors().ids); nodes != len(products)+1 {
		t.Errorf("graph has %d nodes after re-ingest, want %d (unchanged products keep their node)", nodes, len(products)+1)
	}
	hits, err := idx.Search(ctx, Query{Text: "changed title entirely", K: 1, Mode: ModeDense})
	if err != nil || len(hits) != 1 || hits[0].Product.ID != products[0].ID {
		t.Errorf("dense search for the changed text = %v, %v", ids(hits), err)
	}
	if _, err := NewEmbedded(Config{Encoder: &hashEncoder{dim: 16}, VectorFile: path}); err == nil {
		t.Error("a vector file of another dimension was accepted")
	}
}

func TestFuseRRF(t *testing.T) {
	p := func(id string) Hit { return Hit{Product: &catalog.Product{ID: id}} }
	got := Fuse(3, 60, []Hit{p("a"), p("b"), p("c")}, []Hit{p("c"), p("d"), p("a")})
	// a: 1/61+1/63, c: 1/63+1/61 (tie, a first seen), b: 1/62, d: 1/62.
	if want := []string{"a", "c", "b"}; !equalStrings(ids(got), want) {
		t.Errorf("Fuse = %v, want %v", ids(got), want)
	}
	if want := 1.0/61 + 1.0/63; got[0].Score != want {
		t.Errorf("score = %v, want %v", got[0].Score, want)
	}
	// Weighting the second list 3× puts its top hit c first
	// (1/63 + 3/61 > a's 1/61 + 3/63); d (3/62) then beats b (1/62).
	got = FuseWeighted(4, 60, []float64{1, 3}, []Hit{p("a"), p("b"), p("c")}, []Hit{p("c"), p("d"), p("a")})
	if want := []string{"c", "a", "d", "b"}; !equalStrings(ids(got), want) {
		t.Errorf("FuseWeighted = %v, want %v", ids(got), want)
	}
}

func equalStrings(a, b []string) bool {
	return len(a) == len(b) && strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func TestQdrantFilterTranslation(t *testing.T) {
	f, ok := qdrantFilter(Filter{MaxPrice: 3000, Brands: []string{" Logi", ""}, Category: "Mice ", InStockOnly: true})
	if !ok || f == nil {
		t.Fatal("filter not translated")
	}
	if len(f.Must) != 3 || len(f.MustNot) != 1 {
		t.Fatalf("must %d must_not %d, want 3 and 1: %v", len(f.Must), len(f.MustNot), f)
	}
	r := f.Must[0].GetField().GetRange()
	if f.Must[0].GetField().GetKey() != qdrantFieldPrice || r.GetGte() != 0 || r.GetLte() != 3000 {
		t.Errorf("price condition = %v, want 0 <= price <= 3000 (no price = -1 fails)", f.Must[0])
	}
	if kw := f.Must[1].GetField().GetMatch().GetKeywords().GetStrings(); len(kw) != 1 || kw[0] != "logi" {
		t.Errorf("brand keywords = %v, want [logi]", kw)
	}
	if c := f.Must[2].GetField().GetMatch().GetKeyword(); c != "mice" {
		t.Errorf("category = %q, want mice", c)
	}
	if a := f.MustNot[0].GetField().GetMatch().GetKeyword(); a != string(catalog.AvailabilityOutOfStock) {
		t.Errorf("must_not availability = %q", a)
	}
	if f, ok := qdrantFilter(Filter{}); !ok || f != nil {
		t.Errorf("empty filter = %v, %v; want nil, true", f, ok)
	}
	if _, ok := qdrantFilter(Filter{MinPrice: 5, MaxPrice: 4}); ok {
		t.Error("impossible price range reported as satisfiable")
	}
}

// TestHybridFilterOnGraphPath forces the graph walk (ExactBelow tiny) so
// the filter runs inside HNSW search, not the exact fallback.
func TestHybridFilterOnGraphPath(t *testing.T) {
	ctx := context.Background()
	idx, err := NewEmbedded(Config{Encoder: &hashEncoder{dim: 32}, Vector: VectorConfig{ExactBelow: 8}})
	if err != nil {
		t.Fatal(err)
	}
	var ps []catalog.Product
	words := []string{"mouse", "keyboard", "cable", "printer", "toner", "monitor", "laptop", "charger"}
	for i := range 3000 {
		ps = append(ps, catalog.Product{
			ID:    fmt.Sprint("p", i),
			Title: words[i%8] + " " + words[(i/8)%8] + " " + words[(i/64)%8] + fmt.Sprint(" model", i),
			Brand: []string{"Acme", "Zeta"}[i%2], Price: int64(100 + i),
		})
	}
	if err := idx.Upsert(ctx, ps); err != nil {
		t.Fatal(err)
	}
	for _, q := range words {
		hits, err := idx.Search(ctx, Query{Text: q + " cable", K: 20, Mode: ModeDense, Filter: Filter{Brands: []string{"zeta"}, MaxPrice: 2500}})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 20 {
			t.Errorf("%s: %d hits, want 20", q, len(hits))
		}
		for _, h := range hits {
			if h.Product.Brand != "Zeta" || h.Product.Price > 2500 {
				t.Errorf("%s: hit %s (%s, %d) fails the filter", q, h.Product.ID, h.Product.Brand, h.Product.Price)
			}
		}
	}
}

// TestHybridConcurrentSearchAndUpsert is for the race detector.
func TestHybridConcurrentSearchAndUpsert(t *testing.T) {
	ctx := context.Background()
	idx, err := NewEmbedded(Config{Encoder: &hashEncoder{dim: 16}})
	if err != nil {
		t.Fatal(err)
	}
	ps := contractProducts()
	if err := idx.Upsert(ctx, ps); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			p := ps[i%len(ps)]
			p.Title += fmt.Sprint(" v", i)
			if err := idx.Upsert(ctx, []catalog.Product{p}); err != nil {
				t.Error(err)
			}
			if err := idx.Delete(ctx, []string{fmt.Sprint("decoy", i)}); err != nil {
				t.Error(err)
			}
		}
	}()
	for range 50 {
		for _, m := range allModes {
			if _, err := idx.Search(ctx, Query{Text: "wireless mouse", K: 5, Mode: m, Filter: Filter{Brands: []string{"acme"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-done
}
