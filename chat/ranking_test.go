package chat

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/ranking"
	"github.com/shopassist/shopassist/retrieval"
)

// failingReranker fails every call, as a remote rerank server that is down.
type failingReranker struct{}

func (failingReranker) Score(context.Context, string, []string) ([]float32, error) {
	return nil, ranking.ErrUnavailable
}
func (failingReranker) Close() error { return nil }

// TestRankerInTheSearchPath: with a Ranker, a sponsored rule puts its
// product first and marks it sponsored in the products frame (and only
// it); when the reranker fails, the shopper still gets products, the
// failure is counted by reason, and the sponsored rule still applies.
func TestRankerInTheSearchPath(t *testing.T) {
	idx := testIndex(t)
	ctx := context.Background()
	hits, err := idx.Search(ctx, retrieval.Query{Text: "bluetooth speaker", K: 8})
	if err != nil || len(hits) < 4 {
		t.Fatalf("precondition: %d hits, %v", len(hits), err)
	}
	sponsored := hits[3].Product.ID // a product below the top
	rules := ranking.Rules{Sponsored: []ranking.SponsoredRule{{ProductID: sponsored, Boost: 5}}}
	for _, tc := range []struct {
		name     string
		rr       ranking.Reranker
		fallback bool
	}{
		{"cross-encoder", tinyCrossEncoder(t), false},
		{"reranker down", failingReranker{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rk, err := ranking.NewRanker(tc.rr, ranking.RankerConfig{Rules: rules})
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, Config{ProductsPerAnswer: 5}, embeddedStore(t, t.TempDir()), func(d *Deps) {
				d.Index = idx
				d.Ranker = rk
			})
			c := h.dial(t)
			c.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
			var items []Item
			for _, f := range c.until(TypeDone) {
				if f.Type == TypeProducts {
					items = f.Items
				}
			}
			if len(items) < 4 {
				t.Fatalf("products frame with %d items", len(items))
			}
			if items[0].ID != sponsored || !items[0].Sponsored {
				t.Errorf("first item %+v, want the sponsored product %s marked sponsored", items[0], sponsored)
			}
			for _, it := range items[1:] {
				if it.Sponsored {
					t.Errorf("%s marked sponsored without a rule", it.ID)
				}
			}
			got := testutil.ToFloat64(h.srv.metrics.rankFallbacks.WithLabelValues("unavailable"))
			if (got > 0) != tc.fallback {
				t.Errorf("rerank fallbacks counted: %v, want fallback %v", got, tc.fallback)
			}
		})
	}
}

func tinyCrossEncoder(t *testing.T) ranking.Reranker {
	t.Helper()
	inferencetest.RequireRuntime(t)
	rr, err := ranking.New(ranking.Config{Kind: ranking.KindONNX, ModelDir: "../ranking/testdata/tiny_crossencoder"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rr.Close(); err != nil && !errors.Is(err, ranking.ErrUnavailable) {
			t.Error(err)
		}
	})
	return rr
}
