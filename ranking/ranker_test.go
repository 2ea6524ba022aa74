package ranking

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/retrieval"
)

var _ Personalizer = events.Profile{}

// fakeReranker scores with fn; it records the texts it was asked about.
type fakeReranker struct {
	fn    func(ctx context.Context, query string, texts []string) ([]float32, error)
	texts []string
}

func (f *fakeReranker) Score(ctx context.Context, query string, texts []string) ([]float32, error) {
	f.texts = slices.Clone(texts)
	return f.fn(ctx, query, texts)
}

func (f *fakeReranker) Close() error { return nil }

// scoresByID returns a reranker giving the product whose text has the word
// "id=<id>" the score in m, 0 otherwise.
func scoresByID(m map[string]float32) *fakeReranker {
	return &fakeReranker{fn: func(_ context.Context, _ string, texts []string) ([]float32, error) {
		out := make([]float32, len(texts))
		for i, t := range texts {
			for _, w := range strings.Fields(t) {
				if id, ok := strings.CutPrefix(w, "id="); ok {
					out[i] = m[id]
				}
			}
		}
		return out, nil
	}}
}

func failing(err error) *fakeReranker {
	return &fakeReranker{fn: func(context.Context, string, []string) ([]float32, error) { return nil, err }}
}

// testHits returns products p0..p(n-1) with retrieval scores 10, 9, …,
// brand "Brand<i>", category ["Cat", "Sub<i%2>"], in stock.
func testHits(n int) []retrieval.Hit {
	hits := make([]retrieval.Hit, n)
	for i := range hits {
		id := fmt.Sprintf("p%d", i)
		hits[i] = retrieval.Hit{Product: &catalog.Product{
			ID: id, Title: "title id=" + id, Brand: fmt.Sprintf("Brand%d", i),
			Category: []string{"Cat", fmt.Sprintf("Sub%d", i%2)}, Availability: catalog.AvailabilityInStock,
		}, Score: 10 - float64(i)}
	}
	return hits
}

func ids(res Result) []string {
	out := make([]string, len(res.Items))
	for i, it := range res.Items {
		out[i] = it.Hit.Product.ID
	}
	return out
}

func assertOrder(t *testing.T, res Result, want ...string) {
	t.Helper()
	if got := ids(res); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func rank(t *testing.T, rr Reranker, cfg RankerConfig, req Request) Result {
	t.Helper()
	rk, err := NewRanker(rr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if req.Query == "" {
		req.Query = "q"
	}
	res, err := rk.Rank(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRerankerMovesItemUp(t *testing.T) {
	rr := scoresByID(map[string]float32{"p3": 5, "p0": 1})
	res := rank(t, rr, RankerConfig{Weights: rerankLed}, Request{Hits: testHits(5)})
	assertOrder(t, res, "p3", "p0", "p1", "p2", "p4")
	if res.Fallback {
		t.Fatal("unexpected fallback")
	}
	top := res.Items[0]
	if top.Features.RerankRaw != 5 || top.Features.Rerank != 1 || top.Features.Retrieval != 0.25 || !top.Blended {
		t.Errorf("features of p3 = %+v", top.Features)
	}
	want := rerankLed.Rerank*1 + rerankLed.Retrieval*0.25
	if math.Abs(top.Score-want) > 1e-12 {
		t.Errorf("score %v, want %v", top.Score, want)
	}
	// The reranker saw the documents as retrieval.ProductText builds them.
	if rr.texts[0] != retrieval.ProductText(testHits(1)[0].Product) {
		t.Errorf("text %q", rr.texts[0])
	}
}

func TestZeroRerankWeightKeepsRetrievalOrder(t *testing.T) {
	rr := scoresByID(map[string]float32{"p4": 9, "p3": 8, "p2": 7})
	res := rank(t, rr, RankerConfig{Weights: Weights{Retrieval: 1}}, Request{Hits: testHits(5)})
	assertOrder(t, res, "p0", "p1", "p2", "p3", "p4")
	// Every weight effectively zero: ties keep the retrieval order.
	res = rank(t, rr, RankerConfig{Weights: Weights{Availability: 1}}, Request{Hits: testHits(5)})
	assertOrder(t, res, "p0", "p1", "p2", "p3", "p4")
	// No reranker at all: retrieval order, and not a fallback.
	res = rank(t, nil, RankerConfig{}, Request{Hits: testHits(5)})
	assertOrder(t, res, "p0", "p1", "p2", "p3", "p4")
	if res.Fallback {
		t.Error("nil reranker reported as fallback")
	}
}

func TestPersonalBoostMovesBrandUp(t *testing.T) {
	hits := testHits(5)
	profile := events.Profile{Brands: map[string]float64{"brand3": 20}}
	// Boost(p3) = 0.5 × 20/22 ≈ 0.45 beats p0's retrieval lead of 0.75 × 0.3.
	res := rank(t, nil, RankerConfig{Weights: Weights{Retrieval: 0.3, Personal: 1}}, Request{Hits: hits, Personal: profile})
	assertOrder(t, res, "p3", "p0", "p1", "p2", "p4")
	if p := res.Items[0].Features.Personal; math.Abs(p-profile.Boost(hits[3].Product)) > 1e-12 || p == 0 {
		t.Errorf("personal feature %v", p)
	}
	// Without a profile nothing moves.
	res = rank(t, nil, RankerConfig{Weights: Weights{Retrieval: 0.3, Personal: 1}}, Request{Hits: hits})
	assertOrder(t, res, "p0", "p1", "p2", "p3", "p4")
}

func TestAvailabilityDemotesWithoutFiltering(t *testing.T) {
	hits := testHits(4)
	hits[0].Product.Availability = catalog.AvailabilityOutOfStock
	hits[1].Product.Availability = catalog.AvailabilityPreorder
	hits[2].Product.Availability = catalog.AvailabilityUnknown
	// Equal reranker scores: only retrieval and availability differ.
	res := rank(t, scoresByID(nil), RankerConfig{Weights: Weights{Retrieval: 0.3, Availability: 1}}, Request{Hits: hits})
	assertOrder(t, res, "p2", "p3", "p1", "p0")
	if f := res.Items[3].Features.Availability; f != -1 {
		t.Errorf("out of stock feature %v", f)
	}
}

func TestTopKTailKeepsRetrievalOrder(t *testing.T) {
	rr := scoresByID(map[string]float32{"p2": 3, "p1": 2, "p6": 100})
	res := rank(t, rr, RankerConfig{TopK: 3, Weights: rerankLed}, Request{Hits: testHits(7)})
	assertOrder(t, res, "p2", "p1", "p0", "p3", "p4", "p5", "p6")
	if len(rr.texts) != 3 {
		t.Fatalf("reranker got %d texts, want TopK=3", len(rr.texts))
	}
	for i, it := range res.Items {
		if it.Blended != (i < 3) {
			t.Errorf("item %d Blended=%v", i, it.Blended)
		}
	}
	res = rank(t, rr, RankerConfig{TopK: 3, Weights: rerankLed}, Request{Hits: testHits(7), K: 4})
	assertOrder(t, res, "p2", "p1", "p0", "p3")
	res = rank(t, rr, RankerConfig{TopK: 3}, Request{Hits: nil})
	if len(res.Items) != 0 || res.Fallback {
		t.Fatalf("no hits: %+v", res)
	}
}

func TestFallbackOnRerankerError(t *testing.T) {
	hits := testHits(4)
	rules := Rules{Boosts: []BoostRule{{Brand: "brand2", Weight: 1}}}
	for _, c := range []struct {
		rr     *fakeReranker
		reason string
	}{
		{failing(fmt.Errorf("wrapped: %w", inference.ErrBusy)), "busy"},
		{failing(fmt.Errorf("%w: down", ErrUnavailable)), "unavailable"},
		{failing(fmt.Errorf("x: %w", context.DeadlineExceeded)), "timeout"},
		{failing(errors.New("boom")), "error"},
		{&fakeReranker{fn: func(context.Context, string, []string) ([]float32, error) { return []float32{1}, nil }}, "error"},
		{&fakeReranker{fn: func(context.Context, string, []string) ([]float32, error) {
			return []float32{1, float32(math.NaN()), 0, 0}, nil
		}}, "error"},
	} {
		res := rank(t, c.rr, RankerConfig{Rules: rules}, Request{Hits: hits})
		if !res.Fallback || Reason(res.Cause) != c.reason {
			t.Errorf("fallback=%v cause=%v reason=%q, want %q", res.Fallback, res.Cause, Reason(res.Cause), c.reason)
		}
		// Rules still apply; otherwise retrieval order.
		assertOrder(t, res, "p2", "p0", "p1", "p3")
		if res.Items[0].Features.Rerank != 0 || res.Items[0].Features.RerankRaw != 0 {
			t.Errorf("rerank features set in fallback: %+v", res.Items[0].Features)
		}
	}
}

func TestRankContextEndedIsAnError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	rr := &fakeReranker{fn: func(ctx context.Context, _ string, _ []string) ([]float32, error) {
		cancel()
		return nil, ctx.Err()
	}}
	rk, _ := NewRanker(rr, RankerConfig{})
	if _, err := rk.Rank(ctx, Request{Query: "q", Hits: testHits(3)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := rk.Rank(ctx, Request{Query: "q", Hits: testHits(3)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("already canceled: err = %v", err)
	}
	if _, err := rk.Rank(context.Background(), Request{Hits: []retrieval.Hit{{}}}); err == nil {
		t.Fatal("hit without product accepted")
	}
}

func TestBoostRules(t *testing.T) {
	rules := Rules{Boosts: []BoostRule{
		{Category: "SUB1", Weight: 0.2},  // p1, p3, p5 (any path level, any case)
		{ProductID: "p4", Weight: 0.6},   // p4
		{Brand: "brand0", Weight: -0.25}, // p0 demoted
	}}
	res := rank(t, nil, RankerConfig{Weights: Weights{Retrieval: 0.5}, Rules: rules}, Request{Hits: testHits(6)})
	// Retrieval feature × 0.5: .5, .4, .3, .2, .1, 0; plus rules: p0 .25,
	// p1 .6, p2 .3, p3 .4, p4 .7, p5 .2.
	assertOrder(t, res, "p4", "p1", "p3", "p2", "p0", "p5")
	for _, it := range res.Items {
		want := map[string]float64{"p0": -0.25, "p1": 0.2, "p3": 0.2, "p4": 0.6, "p5": 0.2}[it.Hit.Product.ID]
		if math.Abs(it.Features.Rules-want) > 1e-12 {
			t.Errorf("%s rules feature %v, want %v", it.Hit.Product.ID, it.Features.Rules, want)
		}
	}
}

func TestSponsoredMarksAndCap(t *testing.T) {
	hits := testHits(8)
	rules := Rules{Sponsored: []SponsoredRule{
		{Brand: "BRAND5", Boost: 0.5},
		{ProductID: "p3", Boost: 0.5},
		{ProductID: "p7", Boost: 5}, // beyond TopK: never boosted
	}}
	cfg := RankerConfig{TopK: 6, Weights: Weights{Retrieval: 1}, Rules: rules}
	res := rank(t, nil, cfg, Request{Hits: hits})
	// Default cap 1: p3 (0.4 + 0.5) beats p5 (0 + 0.5) for the slot; p5
	// keeps its organic place, unmarked.
	assertOrder(t, res, "p0", "p3", "p1", "p2", "p4", "p5", "p6", "p7")
	var marked []string
	for _, it := range res.Items {
		if it.Sponsored {
			marked = append(marked, it.Hit.Product.ID)
			if it.Features.Sponsor != 0.5 {
				t.Errorf("%s sponsor feature %v", it.Hit.Product.ID, it.Features.Sponsor)
			}
		} else if it.Features.Sponsor != 0 {
			t.Errorf("%s unmarked but boosted %v", it.Hit.Product.ID, it.Features.Sponsor)
		}
	}
	if !slices.Equal(marked, []string{"p3"}) {
		t.Fatalf("sponsored %v, want [p3]", marked)
	}
	cfg.Rules.MaxSponsored = 2
	res = rank(t, nil, cfg, Request{Hits: hits})
	assertOrder(t, res, "p0", "p3", "p1", "p2", "p5", "p4", "p6", "p7")
	if !res.Items[1].Sponsored || !res.Items[4].Sponsored || res.Items[7].Sponsored {
		t.Fatalf("cap 2: %+v", res.Items)
	}
	// Sponsorship is kept in fallback too.
	res = rank(t, failing(ErrUnavailable), cfg, Request{Hits: hits})
	if !res.Fallback || !res.Items[1].Sponsored {
		t.Fatalf("fallback lost the sponsored mark: %+v", res)
	}
}

func TestNewRankerValidates(t *testing.T) {
	for _, cfg := range []RankerConfig{
		{TopK: -1},
		{Weights: Weights{Rerank: -1}},
		{Weights: Weights{Personal: math.NaN()}},
		{Rules: Rules{Boosts: []BoostRule{{Brand: "x"}}}},
	} {
		if _, err := NewRanker(nil, cfg); err == nil {
			t.Errorf("NewRanker(%+v) accepted", cfg)
		}
	}
	rk, err := NewRanker(nil, RankerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if c := rk.Config(); c.TopK != DefaultTopK || c.Weights != DefaultWeights {
		t.Errorf("defaults %+v", c)
	}
}

func TestMinMax(t *testing.T) {
	for _, c := range []struct{ in, want []float64 }{
		{[]float64{2, 4, 3}, []float64{0, 1, 0.5}},
		{[]float64{-7, -7}, []float64{0, 0}},
		{[]float64{5}, []float64{0}},
		{[]float64{0, math.Inf(1)}, []float64{0, 0}},
		{nil, nil},
	} {
		got := slices.Clone(c.in)
		minMax(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("minMax(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// rerankLed weighs the cross-encoder over retrieval, so the tests of the
// blend's mechanics do not depend on the tuned defaults.
var rerankLed = Weights{Rerank: 1, Retrieval: 0.3, Personal: 0.3, Availability: 0.3}
