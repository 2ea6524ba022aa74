package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/ranking"
	"github.com/shopassist/shopassist/retrieval"
)

var updateQuality = flag.Bool("update-quality", false, "rewrite testdata/search_quality.json with the figures measured now")

const (
	qualityFile      = "testdata/search_quality.json"
	qualityTolerance = 0.02
	// The dev judgments as copied into the repo (training/data), so the
	// test does not depend on the shared folder.
	repoJudgments = "../../training/data/icecat_judgments_dev.csv"
)

// stageQuality is what search_quality.json records per stage.
type stageQuality struct {
	NDCG      float64 `json:"ndcg@10"`
	NDCGJ     float64 `json:"ndcg_judged@10"`
	P10       float64 `json:"p@10"`
	Recall100 float64 `json:"recall@100"`
}

// TestSearchQualityRecorded runs the committed models over the dev
// judgments — hybrid retrieval (models/biencoder with the serve defaults)
// and the final stage (models/reranker, default blend) — and fails when
// nDCG@10 or recall@100 of either drops more than 0.02 below the figures
// recorded in testdata/search_quality.json (go test -run
// TestSearchQualityRecorded -update-quality rewrites them).
func TestSearchQualityRecorded(t *testing.T) {
	inferencetest.RequireRuntime(t)
	ctx := context.Background()
	qs, err := readSearchJudgments(repoJudgments)
	if err != nil {
		t.Fatal(err)
	}
	products, _, err := evalProducts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := inference.Init(inference.RuntimeConfig{}); err != nil {
		t.Fatal(err)
	}
	enc, err := retrieval.NewONNXEncoder("../../models/biencoder", retrieval.ONNXEncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	idx, err := retrieval.New(retrieval.Config{Encoder: enc, DenseWeight: retrieval.DefaultDenseWeight})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if err := idx.Upsert(ctx, products); err != nil {
		t.Fatal(err)
	}
	retrieve := func(ctx context.Context, text string, depth int) ([]retrieval.Hit, error) {
		return idx.Search(ctx, retrieval.Query{Text: text, K: depth})
	}
	rr, err := ranking.New(ranking.Config{Kind: ranking.KindONNX, ModelDir: "../../models/reranker"})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	rk, err := ranking.NewRanker(rr, ranking.RankerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]stageQuality{}
	for name, search := range map[string]func(context.Context, string, int) ([]retrieval.Hit, error){
		"retrieval": retrieve,
		"final": func(ctx context.Context, text string, depth int) ([]retrieval.Hit, error) {
			return finalRanking(ctx, rk, retrieve, text, depth)
		},
	} {
		res, err := evalStage(ctx, name, qs, 10, search)
		if err != nil {
			t.Fatal(err)
		}
		got[name] = stageQuality{NDCG: res.NDCG, NDCGJ: res.NDCGJudged, P10: res.Precision, Recall100: res.Recall}
		t.Logf("%s: ndcg@10 %.4f, ndcg'@10 %.4f, p@10 %.4f, recall@100 %.4f", name, res.NDCG, res.NDCGJudged, res.Precision, res.Recall)
	}
	if *updateQuality {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(qualityFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(qualityFile)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]stageQuality
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"retrieval", "final"} {
		w, g := want[stage], got[stage]
		for _, m := range []struct {
			name      string
			got, want float64
		}{{"ndcg@10", g.NDCG, w.NDCG}, {"recall@100", g.Recall100, w.Recall100}} {
			if m.got < m.want-qualityTolerance {
				t.Errorf("%s %s = %.4f, more than %.2f below the recorded %.4f", stage, m.name, m.got, qualityTolerance, m.want)
			}
		}
	}
}
