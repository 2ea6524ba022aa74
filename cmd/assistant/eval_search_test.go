package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/retrieval"
)

const devJudgments = "../../../shared/data/relevance/icecat_judgments_dev.csv"

// TestEvalSearchLexicalMatchesQualityRecord runs "eval search" on the dev
// judgments in lexical mode and checks that its ndcg@10 is the BM25 figure
// retrieval's quality test records in retrieval/testdata/quality.json
// (rounded there to 4 decimals).
func TestEvalSearchLexicalMatchesQualityRecord(t *testing.T) {
	if _, err := os.Stat(devJudgments); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("dev judgments not found at %s", devJudgments)
	}
	data, err := os.ReadFile("../../retrieval/testdata/quality.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		NDCG10    float64 `json:"ndcg@10"`
		Recall100 float64 `json:"recall@100"`
	}
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	runFile := filepath.Join(t.TempDir(), "run.csv")
	var stdout, stderr bytes.Buffer
	err = runEvalSearch(context.Background(), []string{"--judgments", devJudgments, "--mode", "lexical", "--run-out", runFile}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("eval search: %v\n%s", err, stderr.String())
	}
	var got map[string]float64
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output %q is not one JSON object: %v", stdout.String(), err)
	}
	keys := []string{"ndcg@10", "ndcg'@10", "p@10", "recall@100", "queries"}
	if len(got) != len(keys) {
		t.Errorf("output has keys %v, want exactly %v", got, keys)
	}
	for _, key := range keys {
		if _, ok := got[key]; !ok {
			t.Errorf("output lacks %q: %s", key, stdout.String())
		}
	}
	t.Logf("eval search --mode lexical: %s", strings.TrimSpace(stdout.String()))
	round4 := func(v float64) float64 { return math.Round(v*1e4) / 1e4 }
	if g := round4(got["ndcg@10"]); math.Abs(g-want.NDCG10) > 1e-6 {
		t.Errorf("ndcg@10 = %.6f (%.4f rounded), quality.json records %.4f", got["ndcg@10"], g, want.NDCG10)
	}
	if g := round4(got["recall@100"]); math.Abs(g-want.Recall100) > 1e-6 {
		t.Errorf("recall@100 = %.6f, quality.json records %.4f", got["recall@100"], want.Recall100)
	}
	if got["queries"] != 69 {
		t.Errorf("queries = %v, want 69", got["queries"])
	}
	if got["ndcg'@10"] < got["ndcg@10"] {
		t.Errorf("ndcg'@10 %.4f < ndcg@10 %.4f: removing unjudged products cannot lower it here", got["ndcg'@10"], got["ndcg@10"])
	}

	f, err := os.Open(runFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != "query,docid,rank" || rows[1][2] != "1" {
		t.Errorf("run file starts %v, want header query,docid,rank then rank 1", rows[:min(2, len(rows))])
	}
}

func TestEvalSearchFlags(t *testing.T) {
	ctx := context.Background()
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{}, // --judgments missing
		{"--judgments", "x.csv", "--stage", "rerank"},
		{"--judgments", "x.csv", "--mode", "fuzzy"},
		{"--judgments", "x.csv", "--k", "0"},
	} {
		if err := runEvalSearch(ctx, args, &out, &errb); err == nil {
			t.Errorf("args %v accepted", args)
		}
	}
	dir := t.TempDir()
	j := filepath.Join(dir, "j.csv")
	os.WriteFile(j, []byte("query,docid,rating\nink,1,3\n"), 0o644)
	err := runEvalSearch(ctx, []string{"--judgments", j, "--mode", "dense", "--model-dir", dir}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "model.onnx") {
		t.Errorf("dense without a model: err = %v, want one naming model.onnx", err)
	}
}

// TestEvalSearchDenseAndHybrid runs the dense and hybrid paths end to end
// with the tiny random bi-encoder committed under
// retrieval/testdata/tiny_biencoder (the figures are meaningless;
// the test checks the wiring: model loading, pooling, fusion, output).
func TestEvalSearchDenseAndHybrid(t *testing.T) {
	if _, err := os.Stat(devJudgments); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("dev judgments not found at %s", devJudgments)
	}
	inferencetest.RequireRuntime(t)
	dir := "../../retrieval/testdata/tiny_biencoder/mean_last_hidden_state"
	for _, mode := range []string{"dense", "hybrid", ""} {
		var stdout, stderr bytes.Buffer
		err := runEvalSearch(context.Background(), []string{"--judgments", devJudgments, "--mode", mode, "--model-dir", dir}, &stdout, &stderr)
		if err != nil {
			t.Fatalf("mode %q: %v\n%s", mode, err, stderr.String())
		}
		var got map[string]float64
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got["queries"] != 69 {
			t.Fatalf("mode %q: output %q (%v)", mode, stdout.String(), err)
		}
		wantMode := mode
		if mode == "" {
			wantMode = "hybrid" // a model is present
		}
		if !strings.Contains(stderr.String(), "mode "+wantMode+",") {
			t.Errorf("mode %q: stderr %q does not report mode %s", mode, stderr.String(), wantMode)
		}
		t.Logf("mode %q: %s", mode, strings.TrimSpace(stdout.String()))
	}
}

// TestSearchReport renders a report from two stages and checks what a
// reader relies on: worst query (at the last stage) first, every stage's
// figures, grades beside the results, unjudged results marked as such.
func TestSearchReport(t *testing.T) {
	p := func(id, title string) *catalog.Product {
		return &catalog.Product{ID: id, Title: title, Price: 4995, Currency: "EUR"}
	}
	judged := retrieval.Judgments{"a": 3, "b": 0}
	stage := func(name string, good, bad float64) stageEval {
		return stageEval{Name: name, NDCG: (good + bad) / 2, Recall: 0.5, Queries: []queryEval{
			{Text: "good query", NDCG: good, Hits: []retrieval.Hit{{Product: p("a", "Alpha speaker")}}, Judged: judged},
			{Text: "bad query", NDCG: bad, Hits: []retrieval.Hit{{Product: p("b", "Beta cable")}, {Product: p("c", "Gamma lamp")}}, Judged: judged},
		}}
	}
	var buf bytes.Buffer
	if err := writeSearchReport(&buf, 10, "judgments.csv", []stageEval{stage("BM25", 0.9, 0.4), stage("reranked", 0.95, 0.1)}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if i, j := strings.Index(html, "bad query"), strings.Index(html, "good query"); i < 0 || j < 0 || i > j {
		t.Errorf("queries not listed worst first (bad at %d, good at %d)", i, j)
	}
	for _, want := range []string{"<th>nDCG@10 BM25</th>", "<th>nDCG@10 reranked</th>", "0.100", "0.950", ">unjudged<", `class="grade g3">3<`, `class="grade g0">0<`, "Gamma lamp", "49.95 EUR", "<svg"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestEvalSearchFinalStage runs --stage final through the ranking stage
// with the tiny cross-encoder fixture. Weighted to the retrieval score
// alone, the final order must reproduce the retrieval figures exactly;
// weighted to the (random) cross-encoder, it must differ — so the stage is
// really in the path.
func TestEvalSearchFinalStage(t *testing.T) {
	inferencetest.RequireRuntime(t)
	if _, err := os.Stat(devJudgments); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("dev judgments not found at %s", devJudgments)
	}
	run := func(args ...string) map[string]float64 {
		t.Helper()
		var stdout, stderr bytes.Buffer
		base := []string{"--judgments", devJudgments, "--mode", "lexical", "--rerank-model", "../../ranking/testdata/tiny_crossencoder"}
		if err := runEvalSearch(context.Background(), append(base, args...), &stdout, &stderr); err != nil {
			t.Fatalf("eval search %v: %v\n%s", args, err, stderr.String())
		}
		var got map[string]float64
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	retrieval := run("--stage", "retrieval")
	sameOrder := run("--stage", "final", "--rank-weights", "rerank=0,retrieval=1,personal=0,availability=0")
	if sameOrder["ndcg@10"] != retrieval["ndcg@10"] || sameOrder["recall@100"] != retrieval["recall@100"] {
		t.Errorf("final stage weighted to retrieval only: %v, retrieval stage %v", sameOrder, retrieval)
	}
	reranked := run("--stage", "final", "--rank-weights", "rerank=1,retrieval=0")
	if reranked["ndcg@10"] == retrieval["ndcg@10"] {
		t.Errorf("final stage weighted to the cross-encoder scored exactly like retrieval (%v): the reranker is not in the path", reranked)
	}
}
