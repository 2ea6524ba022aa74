package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/ranking"
	"github.com/shopassist/shopassist/retrieval"
)

// evalRecallK and evalMinRating fix recall@100 and the relevance cut of
// p@k and recall (rating >= 2), as issue 5 defines them.
const (
	evalRecallK   = 100
	evalMinRating = 2
)

const evalSearchUsage = `usage: assistant eval search --judgments FILE.csv [flags]

Runs every judged query of FILE.csv (header query,docid,rating; rating 0-3)
through product search and prints one JSON object:
  ndcg@K      nDCG@K, gain 2^rating-1, unjudged products gain 0
  ndcg'@K     nDCG@K with unjudged products removed before the cut
  p@K         precision@K, relevant = rating >= 2
  recall@100  recall@100, relevant = rating >= 2 (queries without any left out)
  queries     number of queries
Products come from --data-dir's catalogue store when it holds any, else the
embedded Icecat demo catalogue.

flags:
`

// evalStages are the pipeline points --stage may name. "final" is what a
// chat turn serves for a shopper without a profile: retrieval, then the
// ranking stage.
var evalStages = []string{"retrieval", "final"}

// runEvalSearch is "assistant eval search".
func runEvalSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, evalSearchUsage)
		fs.PrintDefaults()
	}
	judgments := fs.String("judgments", "", "judgments CSV: query,docid,rating (required)")
	k := fs.Int("k", 10, "cut-off for ndcg@K, ndcg'@K and p@K")
	stage := fs.String("stage", "retrieval", "retrieval: the index's ranking; final: what chat serves (retrieval, then the cross-encoder and the blend of --rank-weights and --rules; no shopper profile)")
	mode := fs.String("mode", "", "lexical (BM25), dense (bi-encoder + HNSW) or hybrid (both, reciprocal rank fusion); default hybrid when --model-dir holds a model, else lexical")
	modelDir := fs.String("model-dir", "models/biencoder", "bi-encoder directory (config.json with pooling, vocab.txt, model.onnx)")
	ortLib := fs.String("ort-lib", "", "ONNX Runtime shared library (default: third_party/onnxruntime/libonnxruntime.so.1, filled by \"make ort\")")
	dataDir := fs.String("data-dir", "", "data directory whose catalog.db to search (default: the embedded demo catalogue)")
	denseWeight := fs.Float64("dense-weight", retrieval.DefaultDenseWeight, "hybrid: weight of the vector list in reciprocal rank fusion (BM25 weighs 1)")
	runOut := fs.String("run-out", "", "write the ranking to this CSV file: query,docid,rank (rank from 1, max(K,100) deep)")
	var rf rankFlags
	rf.register(fs)
	report := fs.String("report", "", "also write an HTML report to this file: every stage's figures (BM25, dense and hybrid when a bi-encoder is loaded), per-query nDCG, and each query's top results with their grades, worst queries first")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *judgments == "" {
		fs.Usage()
		return errors.New("eval search: --judgments is required")
	}
	if *k <= 0 {
		return fmt.Errorf("eval search: --k %d must be > 0", *k)
	}
	if *stage != evalStages[0] && *stage != evalStages[1] {
		return fmt.Errorf("eval search: unknown --stage %q (want retrieval or final)", *stage)
	}
	if err := rf.validate(); err != nil {
		return fmt.Errorf("eval search: %w", err)
	}
	rf.ortLib = *ortLib
	qs, err := readSearchJudgments(*judgments)
	if err != nil {
		return fmt.Errorf("eval search: %w", err)
	}
	hasModel := fileExistsAt(filepath.Join(*modelDir, "model.onnx"))
	switch *mode {
	case "":
		*mode = retrieval.ModeLexical
		if hasModel {
			*mode = retrieval.ModeHybrid
		}
	case retrieval.ModeLexical:
	case retrieval.ModeDense, retrieval.ModeHybrid:
		if !hasModel {
			return fmt.Errorf("eval search: --mode %s needs a bi-encoder, but %s has no model.onnx (train one with training/, or use --mode lexical)", *mode, *modelDir)
		}
	default:
		return fmt.Errorf("eval search: unknown --mode %q (want lexical, dense or hybrid)", *mode)
	}

	products, source, err := evalProducts(ctx, *dataDir)
	if err != nil {
		return fmt.Errorf("eval search: %w", err)
	}
	if *denseWeight <= 0 {
		return fmt.Errorf("eval search: --dense-weight %v must be > 0", *denseWeight)
	}
	cfg := retrieval.Config{DenseWeight: *denseWeight}
	if *mode != retrieval.ModeLexical {
		if err := inference.Init(inference.RuntimeConfig{LibPath: *ortLib}); err != nil {
			return fmt.Errorf("eval search: %w", err)
		}
		enc, err := retrieval.NewONNXEncoder(*modelDir, retrieval.ONNXEncoderOptions{})
		if err != nil {
			return fmt.Errorf("eval search: %w", err)
		}
		defer enc.Close()
		cfg.Encoder = enc
	}
	idx, err := retrieval.New(cfg)
	if err != nil {
		return fmt.Errorf("eval search: %w", err)
	}
	defer idx.Close()
	start := time.Now()
	if err := idx.Upsert(ctx, products); err != nil {
		return fmt.Errorf("eval search: index: %w", err)
	}
	fmt.Fprintf(stderr, "eval search: %d products from %s indexed in %v; mode %s, stage %s, %d queries\n",
		len(products), source, time.Since(start).Round(time.Millisecond), *mode, *stage, len(qs))

	search := func(ctx context.Context, text string, depth int) ([]retrieval.Hit, error) {
		return idx.Search(ctx, retrieval.Query{Text: text, K: depth, Mode: *mode})
	}
	stageName := "retrieval"
	if *stage == "final" {
		rr, err := rf.reranker(slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return fmt.Errorf("eval search: reranker: %w", err)
		}
		if rr != nil {
			defer rr.Close()
		}
		rk, err := rf.ranker(rr)
		if err != nil {
			return fmt.Errorf("eval search: %w", err)
		}
		stageName = "final"
		if rr != nil {
			stageName = "reranked"
		}
		retrieve := search
		search = func(ctx context.Context, text string, depth int) ([]retrieval.Hit, error) {
			return finalRanking(ctx, rk, retrieve, text, depth)
		}
	}
	res, err := evalStage(ctx, stageName, qs, *k, search)
	if err != nil {
		return fmt.Errorf("eval search: %w", err)
	}
	if *runOut != "" {
		if err := writeRunFile(*runOut, res); err != nil {
			return fmt.Errorf("eval search: %w", err)
		}
	}
	if *report != "" {
		stages, err := reportStages(ctx, idx, qs, *k, res)
		if err != nil {
			return fmt.Errorf("eval search: report: %w", err)
		}
		if err := writeSearchReportFile(*report, *k, *judgments, stages); err != nil {
			return fmt.Errorf("eval search: report: %w", err)
		}
		fmt.Fprintf(stderr, "eval search: report written to %s\n", *report)
	}
	// Keys in a fixed order: a map would sort ndcg' before ndcg.
	var b strings.Builder
	fmt.Fprintf(&b, "{%q: %.6f, %q: %.6f, %q: %.6f, %q: %.6f, %q: %d}\n",
		fmt.Sprintf("ndcg@%d", *k), res.NDCG,
		fmt.Sprintf("ndcg'@%d", *k), res.NDCGJudged,
		fmt.Sprintf("p@%d", *k), res.Precision,
		fmt.Sprintf("recall@%d", evalRecallK), res.Recall,
		"queries", len(qs))
	if !json.Valid([]byte(b.String())) {
		return errors.New("eval search: internal error: invalid JSON")
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// finalRanking retrieves max(depth, top-k) candidates and orders them with
// the ranking stage, as chat does; depth results are returned.
func finalRanking(ctx context.Context, rk *ranking.Ranker, retrieve func(context.Context, string, int) ([]retrieval.Hit, error), text string, depth int) ([]retrieval.Hit, error) {
	hits, err := retrieve(ctx, text, max(depth, rk.Config().TopK))
	if err != nil {
		return nil, err
	}
	res, err := rk.Rank(ctx, ranking.Request{Query: text, Hits: hits, K: depth})
	if err != nil {
		return nil, err
	}
	if res.Fallback {
		return nil, fmt.Errorf("reranker failed: %w", res.Cause)
	}
	out := make([]retrieval.Hit, len(res.Items))
	for i, it := range res.Items {
		out[i] = retrieval.Hit{Product: it.Hit.Product, Score: it.Score}
	}
	return out, nil
}

// stageEval is one pipeline stage's figures over the judged queries.
type stageEval struct {
	Name                                string
	NDCG, NDCGJudged, Precision, Recall float64
	Queries                             []queryEval // in judgments order
}

// queryEval is one query's figures and ranking at a stage.
type queryEval struct {
	Text                        string
	NDCG, NDCGJudged, Precision float64
	Recall                      float64
	HasRecall                   bool // false when no product is rated >= 2
	Hits                        []retrieval.Hit
	Judged                      retrieval.Judgments
}

// evalStage runs every query through search, max(k, 100) deep, and
// averages the figures (recall over the queries that have a relevant
// product).
func evalStage(ctx context.Context, name string, qs []searchJudgedQuery, k int, search func(context.Context, string, int) ([]retrieval.Hit, error)) (stageEval, error) {
	out := stageEval{Name: name, Queries: make([]queryEval, 0, len(qs))}
	depth := max(k, evalRecallK)
	var nRecall int
	for _, q := range qs {
		hits, err := search(ctx, q.text, depth)
		if err != nil {
			return out, fmt.Errorf("%s: query %q: %w", name, q.text, err)
		}
		ids := make([]string, len(hits))
		for i, h := range hits {
			ids[i] = h.Product.ID
		}
		qe := queryEval{
			Text:       q.text,
			NDCG:       retrieval.NDCG(ids, q.judged, k),
			NDCGJudged: retrieval.NDCGJudged(ids, q.judged, k),
			Precision:  retrieval.Precision(ids, q.judged, k, evalMinRating),
			Hits:       hits,
			Judged:     q.judged,
		}
		qe.Recall, qe.HasRecall = retrieval.Recall(ids, q.judged, evalRecallK, evalMinRating)
		out.NDCG += qe.NDCG
		out.NDCGJudged += qe.NDCGJudged
		out.Precision += qe.Precision
		if qe.HasRecall {
			out.Recall += qe.Recall
			nRecall++
		}
		out.Queries = append(out.Queries, qe)
	}
	n := float64(len(qs))
	out.NDCG /= n
	out.NDCGJudged /= n
	out.Precision /= n
	if nRecall > 0 {
		out.Recall /= float64(nRecall)
	}
	return out, nil
}

// writeRunFile writes a stage's rankings as CSV query,docid,rank.
func writeRunFile(path string, res stageEval) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"query", "docid", "rank"})
	for _, q := range res.Queries {
		for i, h := range q.Hits {
			w.Write([]string{q.Text, h.Product.ID, strconv.Itoa(i + 1)})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

type searchJudgedQuery struct {
	text   string
	judged retrieval.Judgments
}

// readSearchJudgments reads a query,docid,rating CSV (columns found by
// header name), queries in file order.
func readSearchJudgments(path string) ([]searchJudgedQuery, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	qc, okQ := col["query"]
	dc, okD := col["docid"]
	rc, okR := col["rating"]
	if !okQ || !okD || !okR {
		return nil, fmt.Errorf("%s: header %v lacks query, docid and rating", path, header)
	}
	var qs []searchJudgedQuery
	index := map[string]int{}
	for line := 2; ; line++ {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rating, err := strconv.Atoi(strings.TrimSpace(row[rc]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: rating %q: %w", path, line, row[rc], err)
		}
		i, ok := index[row[qc]]
		if !ok {
			i = len(qs)
			index[row[qc]] = i
			qs = append(qs, searchJudgedQuery{text: row[qc], judged: retrieval.Judgments{}})
		}
		qs[i].judged[strings.TrimSpace(row[dc])] = rating
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no judgments", path)
	}
	return qs, nil
}

// evalProducts returns dataDir's stored catalogue when it has products,
// else the embedded demo catalogue, and names the source.
func evalProducts(ctx context.Context, dataDir string) ([]catalog.Product, string, error) {
	if dataDir != "" && fileExistsAt(filepath.Join(dataDir, catalog.StoreFile)) {
		store, err := catalog.OpenStore(dataDir)
		if err != nil {
			return nil, "", err
		}
		defer store.Close()
		ps, err := store.All()
		if err != nil {
			return nil, "", err
		}
		if len(ps) > 0 {
			return ps, filepath.Join(dataDir, catalog.StoreFile), nil
		}
	}
	ps, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("demo catalogue: %w", err)
	}
	return ps, "the demo catalogue", nil
}

func fileExistsAt(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
