package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shopassist/shopassist/catalog"
)

var ctx = context.Background()

func newTestIndex(t testing.TB, products []catalog.Product) *Embedded {
	t.Helper()
	e, err := NewEmbedded(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Upsert(ctx, products); err != nil {
		t.Fatal(err)
	}
	return e
}

var demoIndex struct {
	once sync.Once
	e    *Embedded
}

// sharedDemoIndex is one read-only index over the demo catalogue.
func sharedDemoIndex(t testing.TB) *Embedded {
	t.Helper()
	products := demoProducts(t)
	demoIndex.once.Do(func() { demoIndex.e = newTestIndex(t, products) })
	return demoIndex.e
}

func search(t testing.TB, idx Index, q Query) []Hit {
	t.Helper()
	hits, err := idx.Search(ctx, q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return hits
}

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Product.ID
	}
	return out
}

func TestNew(t *testing.T) {
	for _, backend := range []string{"", "embedded"} {
		idx, err := New(Config{Backend: backend})
		if err != nil {
			t.Fatalf("New(%q): %v", backend, err)
		}
		if _, ok := idx.(*Embedded); !ok {
			t.Errorf("New(%q) = %T, want *Embedded", backend, idx)
		}
	}
	_, err := New(Config{Backend: "elastic"})
	if err == nil || err.Error() != `unknown index backend "elastic"` {
		t.Errorf("New(elastic) error = %v, want unknown index backend", err)
	}
	for _, cfg := range []Config{{K1: -1}, {B: 1.5}, {K1: math.NaN()}, {Weights: FieldWeights{Title: -1}}, {Scoring: "tfidf"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}

// TestSearchDemoRelevant checks that plain shopper queries find the
// obviously right demo products at the top.
func TestSearchDemoRelevant(t *testing.T) {
	e := sharedDemoIndex(t)
	if e.Len() != demoProductCount {
		t.Fatalf("Len = %d, want %d", e.Len(), demoProductCount)
	}
	tests := []struct {
		query string
		top   int
		// each of the top hits' text (title, name and description,
		// lower-cased) must contain one alternative of every group
		must [][]string
		// the first hit's text must contain every word
		first []string
	}{
		{"bluetooth speaker", 5, [][]string{{"speaker"}}, []string{"bluetooth", "speaker"}},
		{"wireless headphones", 5, [][]string{{"headphone", "headset"}}, []string{"wireless", "headphone"}},
		// The demo catalogue has no HP 61 ink cartridge (see
		// TestSearchModelNumber): the best it can do is HP products
		// numbered 61, the first one about ink.
		{"hp 61 ink", 5, [][]string{{"hp"}, {"61"}}, []string{"hp", "61", "ink"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			hits := search(t, e, Query{Text: tc.query, K: tc.top})
			if len(hits) != tc.top {
				t.Fatalf("got %d hits, want %d", len(hits), tc.top)
			}
			text := func(p *catalog.Product) string {
				return strings.ToLower(p.Title + " " + p.Name + " " + p.Description)
			}
			first := text(hits[0].Product)
			for _, w := range tc.first {
				if !strings.Contains(first, w) {
					t.Errorf("first hit %q lacks %q", hits[0].Product.Title, w)
				}
			}
			for i, h := range hits {
				title := text(h.Product)
				for _, alts := range tc.must {
					if !slices.ContainsFunc(alts, func(w string) bool { return strings.Contains(title, w) }) {
						t.Errorf("hit %d %q (score %.3f) lacks any of %q", i, h.Product.Title, h.Score, alts)
					}
				}
				if i > 0 && h.Score > hits[i-1].Score {
					t.Errorf("hit %d scores %.4f above hit %d's %.4f: not best first", i, h.Score, i-1, hits[i-1].Score)
				}
			}
		})
	}
}

// TestSearchModelNumber adds products the demo catalogue lacks (HP 61 ink
// cartridges, a 2 TB drive), written the ways feeds write them, and checks
// that model-number and unit queries find them among 19,406 other products.
func TestSearchModelNumber(t *testing.T) {
	extra := []catalog.Product{
		{ID: "hp61-black", Title: "HP 61 Black Original Ink Cartridge", Name: "CH561WN", Brand: "HP"},
		{ID: "hp61xl-color", Title: "HP 61XL High Yield Tri-color Original Ink Cartridge", Name: "CH564WN", Brand: "HP"},
		{ID: "hp61-combo", Title: "HP-61 ink cartridges, 2-pack (black/colour)", Name: "N9H53FN", Brand: "HP"},
		{ID: "wd-2tb", Title: "WD Elements Portable 2TB External Hard Drive Black", Name: "WDBU6Y0020BBK", Brand: "Western Digital"},
	}
	e := newTestIndex(t, append(slices.Clone(demoProducts(t)), extra...))
	tests := []struct {
		query string
		top   int
		want  []string // all in the top hits
	}{
		{"hp 61 ink", 3, []string{"hp61-black", "hp61xl-color", "hp61-combo"}},
		// "hp61" meets "HP-61" glued and "HP 61" through its parts.
		{"HP61 ink cartridges", 2, []string{"hp61-black", "hp61-combo"}},
		{"HP61 ink cartridges", 5, []string{"hp61xl-color"}},
		{"61xl ink", 1, []string{"hp61xl-color"}},
		{"ch564wn", 1, []string{"hp61xl-color"}},
		// "2tb" is indexed with its parts "2" and "tb".
		{"2 tb external hard drive", 1, []string{"wd-2tb"}},
		{"2TB external hard drive", 1, []string{"wd-2tb"}},
	}
	for _, tc := range tests {
		hits := search(t, e, Query{Text: tc.query, K: tc.top})
		got := ids(hits)
		for _, id := range tc.want {
			if !slices.Contains(got, id) {
				var titles []string
				for _, h := range hits {
					titles = append(titles, h.Product.Title)
				}
				t.Errorf("%q: %s not in the top %d %q", tc.query, id, tc.top, titles)
			}
		}
	}
}

func TestSearchEmptyQueryAndK(t *testing.T) {
	e := sharedDemoIndex(t)
	for _, text := range []string{"", "   ", "?!", "zzqqxxunknownterm"} {
		hits, err := e.Search(ctx, Query{Text: text})
		if err != nil || len(hits) != 0 {
			t.Errorf("Search(%q) = %d hits, %v; want none, nil", text, len(hits), err)
		}
	}
	for _, k := range []int{0, -5} {
		if got := len(search(t, e, Query{Text: "printer", K: k})); got != 10 {
			t.Errorf("K=%d: %d hits, want the default 10", k, got)
		}
	}
	if got := len(search(t, e, Query{Text: "printer", K: 3})); got != 3 {
		t.Errorf("K=3: %d hits, want 3", got)
	}
	// K larger than the matches returns every match.
	small := newTestIndex(t, filterProducts())
	if got := ids(search(t, small, Query{Text: "mouse", K: 1000})); !slices.Equal(got, []string{"nomatch"}) {
		t.Errorf("mouse K=1000: %v, want the one match", got)
	}
}

// filterProducts is a catalogue where the best-scoring products for "usb
// cable" all fail the filters below, so dropping results after the top-k cut
// would return fewer than K.
func filterProducts() []catalog.Product {
	var ps []catalog.Product
	// 20 strong matches: brand Acme, expensive, out of stock, category Cables.
	for i := range 20 {
		ps = append(ps, catalog.Product{
			ID: fmt.Sprintf("strong-%d", i), Title: "USB cable USB cable", Brand: "Acme",
			Price: 5000, Availability: catalog.AvailabilityOutOfStock, Category: []string{"Cables"},
		})
	}
	// 5 weak matches each of which passes exactly one filter.
	ps = append(ps,
		catalog.Product{ID: "cheap", Title: "cable with a long padded title words words words", Brand: "Acme", Price: 500, Availability: catalog.AvailabilityOutOfStock, Category: []string{"Cables"}},
		catalog.Product{ID: "brand", Title: "cable with a long padded title words words words", Brand: "Zeta", Price: 5000, Availability: catalog.AvailabilityOutOfStock, Category: []string{"Cables"}},
		catalog.Product{ID: "instock", Title: "cable with a long padded title words words words", Brand: "Acme", Price: 5000, Availability: catalog.AvailabilityInStock, Category: []string{"Cables"}},
		catalog.Product{ID: "unknownstock", Title: "cable with a long padded title words words words", Brand: "Acme", Price: 5000, Category: []string{"Cables"}},
		catalog.Product{ID: "category", Title: "cable with a long padded title words words words", Brand: "Acme", Price: 5000, Availability: catalog.AvailabilityOutOfStock, Category: []string{"Computing", "Adapters"}},
		catalog.Product{ID: "noprice", Title: "cable", Brand: "Acme", Price: -1, Availability: catalog.AvailabilityOutOfStock, Category: []string{"Cables"}},
		catalog.Product{ID: "nomatch", Title: "mouse", Brand: "Zeta", Price: 500, Availability: catalog.AvailabilityInStock, Category: []string{"Adapters"}},
	)
	return ps
}

func TestSearchFiltersBeforeTopK(t *testing.T) {
	e := newTestIndex(t, filterProducts())
	// Sanity: unfiltered top 5 are all strong matches, so post-filtering
	// them would leave nothing for each filter below.
	for _, h := range search(t, e, Query{Text: "usb cable", K: 5}) {
		if !strings.HasPrefix(h.Product.ID, "strong-") {
			t.Fatalf("unfiltered top 5 contains %s; the test set-up is wrong", h.Product.ID)
		}
	}
	tests := []struct {
		name   string
		filter Filter
		want   []string // as a set
	}{
		{"max price", Filter{MaxPrice: 1000}, []string{"cheap"}},
		{"price range", Filter{MinPrice: 100, MaxPrice: 600}, []string{"cheap"}},
		{"min price excludes no-price", Filter{MinPrice: 1}, nil}, // checked below differently
		{"brand case-insensitive", Filter{Brands: []string{"ZETA"}}, []string{"brand"}},
		{"brands any of", Filter{Brands: []string{"nobody", " zeta "}}, []string{"brand"}},
		{"in stock keeps unknown", Filter{InStockOnly: true}, []string{"instock", "unknownstock"}},
		{"category any level", Filter{Category: "adapters"}, []string{"category"}},
		{"category root", Filter{Category: "COMPUTING"}, []string{"category"}},
		{"combined", Filter{InStockOnly: true, Brands: []string{"acme"}, MaxPrice: 5000}, []string{"instock", "unknownstock"}},
		{"impossible range", Filter{MinPrice: 10, MaxPrice: 5}, []string{}},
		{"unknown brand", Filter{Brands: []string{"nobody"}}, []string{}},
		{"blank brand list", Filter{Brands: []string{" "}}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits := search(t, e, Query{Text: "usb cable", K: 5, Filter: tc.filter})
			got := ids(hits)
			if tc.want == nil { // min price: everything priced, nothing without a price
				if len(got) != 5 || slices.Contains(got, "noprice") {
					t.Errorf("got %v, want 5 priced hits without noprice", got)
				}
				return
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestUpsertReplacesAndDeleteRemoves(t *testing.T) {
	e := newTestIndex(t, []catalog.Product{
		{ID: "a", Title: "red kettle"},
		{ID: "b", Title: "blue kettle"},
	})
	if err := e.Upsert(ctx, []catalog.Product{{ID: "a", Title: "green toaster"}}); err != nil {
		t.Fatal(err)
	}
	if e.Len() != 2 {
		t.Errorf("Len after replace = %d, want 2", e.Len())
	}
	if got := ids(search(t, e, Query{Text: "red"})); len(got) != 0 {
		t.Errorf("old text still found: %v", got)
	}
	if got := ids(search(t, e, Query{Text: "kettle"})); !slices.Equal(got, []string{"b"}) {
		t.Errorf("kettle: %v, want [b]", got)
	}
	if got := ids(search(t, e, Query{Text: "toaster"})); !slices.Equal(got, []string{"a"}) {
		t.Errorf("toaster: %v, want [a]", got)
	}
	if p, ok := e.Get(ctx, "a"); !ok || p.Title != "green toaster" {
		t.Errorf("Get(a) = %v, %v", p, ok)
	}
	if err := e.Delete(ctx, []string{"b", "unknown"}); err != nil {
		t.Fatal(err)
	}
	if e.Len() != 1 {
		t.Errorf("Len after delete = %d, want 1", e.Len())
	}
	if _, ok := e.Get(ctx, "b"); ok {
		t.Error("Get(b) found a deleted product")
	}
	if got := ids(search(t, e, Query{Text: "kettle"})); len(got) != 0 {
		t.Errorf("deleted product found: %v", got)
	}
	// Upsert copies: the caller's slice may be reused.
	in := []catalog.Product{{ID: "c", Title: "yellow lamp"}}
	if err := e.Upsert(ctx, in); err != nil {
		t.Fatal(err)
	}
	in[0].Title = "changed"
	if p, _ := e.Get(ctx, "c"); p == nil || p.Title != "yellow lamp" {
		t.Errorf("index shares the caller's product: %v", p)
	}
	// Empty IDs are rejected before anything changes.
	if err := e.Upsert(ctx, []catalog.Product{{ID: "d", Title: "x"}, {Title: "no id"}}); err == nil {
		t.Error("Upsert accepted an empty ID")
	}
	if _, ok := e.Get(ctx, "d"); ok {
		t.Error("a rejected batch was partly applied")
	}
	// Within one batch the later product wins.
	if err := e.Upsert(ctx, []catalog.Product{{ID: "e", Title: "first"}, {ID: "e", Title: "second"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Get(ctx, "e"); p == nil || p.Title != "second" || e.Len() != 3 {
		t.Errorf("batch duplicate: Get(e) = %v, Len = %d", p, e.Len())
	}
}

// TestScoresConsistentAfterChurn checks that an index that went through
// upserts, replacements and deletes (with and without compaction) scores
// exactly like one built from scratch over the same live products: document
// frequencies and average field lengths must follow the live set.
func TestScoresConsistentAfterChurn(t *testing.T) {
	demo := demoProducts(t)
	for _, tc := range []struct {
		name    string
		n, drop int
		compact bool
	}{
		{"tombstones only", 3000, 200, false},
		{"with compaction", 3000, 1500, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			products := demo[:tc.n]
			churned := newTestIndex(t, products)
			// Replace a few with other products' text, delete some, then
			// put the replaced ones back.
			var swapped []catalog.Product
			for i := 0; i < 50; i++ {
				p := demo[tc.n+i]
				p.ID = products[i].ID
				swapped = append(swapped, p)
			}
			if err := churned.Upsert(ctx, swapped); err != nil {
				t.Fatal(err)
			}
			var del []string
			for i := 0; i < tc.drop; i++ {
				del = append(del, products[100+i].ID)
			}
			if err := churned.Delete(ctx, del); err != nil {
				t.Fatal(err)
			}
			if err := churned.Upsert(ctx, products[:50]); err != nil {
				t.Fatal(err)
			}
			if compacted := churned.compactions > 0; compacted != tc.compact {
				t.Fatalf("compacted = %v, want %v (dead %d of %d slots)", compacted, tc.compact, churned.dead, len(churned.docs))
			}
			live := append(slices.Clone(products[:100]), products[100+tc.drop:]...)
			fresh := newTestIndex(t, live)
			if churned.Len() != fresh.Len() {
				t.Fatalf("Len = %d, fresh index has %d", churned.Len(), fresh.Len())
			}
			for _, q := range []string{"toner cartridge", "black ink", "usb cable 2m", "hp", "laser printer"} {
				a := search(t, churned, Query{Text: q, K: 50})
				b := search(t, fresh, Query{Text: q, K: 50})
				if len(a) != len(b) {
					t.Fatalf("%q: %d hits after churn, %d fresh", q, len(a), len(b))
				}
				scoreOf := map[string]float64{}
				for _, h := range b {
					scoreOf[h.Product.ID] = h.Score
				}
				for i, h := range a {
					want, ok := scoreOf[h.Product.ID]
					if !ok && math.Abs(h.Score-b[len(b)-1].Score) > 1e-4 {
						t.Errorf("%q: hit %d %s (%.5f) not in the fresh top %d", q, i, h.Product.ID, h.Score, len(b))
						continue
					}
					if ok && math.Abs(h.Score-want) > 1e-4 {
						t.Errorf("%q: %s scores %.5f after churn, %.5f fresh", q, h.Product.ID, h.Score, want)
					}
				}
			}
		})
	}
}

func TestConcurrentSearchDuringUpsert(t *testing.T) {
	demo := demoProducts(t)
	e := newTestIndex(t, demo[:2000])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				hits, err := e.Search(ctx, Query{Text: "black toner cartridge", K: 20, Filter: Filter{MaxPrice: 10000}})
				if err != nil {
					errs <- err
					return
				}
				for _, h := range hits {
					if h.Product == nil || h.Product.Price > 10000 {
						errs <- fmt.Errorf("bad hit %+v", h)
						return
					}
				}
			}
		})
	}
	for i := 2000; i < 4000; i += 100 {
		if err := e.Upsert(ctx, demo[i:i+100]); err != nil {
			t.Fatal(err)
		}
		var del []string
		for _, p := range demo[i-2000 : i-1900] {
			del = append(del, p.ID)
		}
		if err := e.Delete(ctx, del); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if e.Len() != 2000 {
		t.Errorf("Len = %d, want 2000", e.Len())
	}
}

func TestContextAndClose(t *testing.T) {
	e := newTestIndex(t, []catalog.Product{{ID: "a", Title: "kettle"}})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Search(cancelled, Query{Text: "kettle"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Search with a cancelled context: %v", err)
	}
	if err := e.Upsert(cancelled, []catalog.Product{{ID: "b"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Upsert with a cancelled context: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Search(ctx, Query{Text: "kettle"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v", err)
	}
	if err := e.Upsert(ctx, []catalog.Product{{ID: "b"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Upsert after Close: %v", err)
	}
	if _, ok := e.Get(ctx, "a"); ok || e.Len() != 0 {
		t.Error("closed index still holds products")
	}
}

// TestSearchAllocations checks the hot path allocates nothing proportional
// to the collection once the pooled buffers are warm.
func TestSearchAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items at random); make test runs this test without -race too")
	}
	e := sharedDemoIndex(t)
	q := Query{Text: "wireless mouse", K: 10}
	search(t, e, q)
	allocs := testing.AllocsPerRun(50, func() { search(t, e, q) })
	// tokens (2 strings + slice growth) and the hits slice; a score buffer
	// per search would show up as one more, a map per doc as thousands.
	if allocs > 6 {
		t.Errorf("Search allocates %.0f times per call, want <= 6", allocs)
	}
}

// TestAttributeWordsSearched: a word found only in an attribute value finds
// the product; measures and yes/no flags are not indexed.
func TestAttributeWordsSearched(t *testing.T) {
	e := newTestIndex(t, []catalog.Product{
		{ID: "tab", Title: "Denver TAQ-10383K 25.6 cm (10.1\") 16 GB Android 8.1", Attributes: map[string]string{
			"device_type": "Full-size tablet", "weight": "1150", "bluetooth": "true", "display_resolution": "1024 x 600"}},
		{ID: "cable", Title: "HDMI cable 2 m", Attributes: map[string]string{"cable_length": "2", "gold_plated": "yes"}},
	})
	if got := ids(search(t, e, Query{Text: "full-size tablet", K: 10})); !slices.Equal(got, []string{"tab"}) {
		t.Errorf(`"full-size tablet" = %v, want [tab] (found through device_type)`, got)
	}
	for _, q := range []string{"1150", "true", "yes", "1024 600"} {
		if got := ids(search(t, e, Query{Text: q, K: 10})); len(got) != 0 {
			t.Errorf("%q = %v, want nothing: measures and flags are not indexed", q, got)
		}
	}
}

// TestSearchPrefersProductsMatchingEveryWord: a product that matches every
// word of the query outranks one that matches a single, rarer word many
// times (the coordination factor).
func TestSearchPrefersProductsMatchingEveryWord(t *testing.T) {
	products := []catalog.Product{
		{ID: "pad", Title: "Mouse mouse mouse pad"},
		{ID: "mouse", Title: "Logitech wireless mouse M185, a mouse for notebooks"},
	}
	for i := range 6 {
		products = append(products, catalog.Product{ID: fmt.Sprint("kb", i), Title: fmt.Sprintf("Wireless keyboard K%d", i)})
	}
	e := newTestIndex(t, products)
	if got := ids(search(t, e, Query{Text: "wireless mouse", K: 2})); !slices.Equal(got, []string{"mouse", "pad"}) {
		t.Errorf(`"wireless mouse" = %v, want [mouse pad]`, got)
	}
	// A one-word query is plain BM25F: the pad says "mouse" more.
	if got := ids(search(t, e, Query{Text: "mouse", K: 2})); !slices.Equal(got, []string{"pad", "mouse"}) {
		t.Errorf(`"mouse" = %v, want [pad mouse]`, got)
	}
}
