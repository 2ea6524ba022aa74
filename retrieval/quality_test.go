package retrieval

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/shopassist/shopassist/catalog"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/quality.json with the figures measured now")
	tune   = flag.Bool("tune", false, "TestTuneDev: grid-search scoring parameters on the dev judgments and log the best")
)

const (
	judgmentsPath = "../../shared/data/relevance/icecat_judgments_dev.csv"
	qualityPath   = "testdata/quality.json"
	// qualityTolerance is how far a figure may drop below the recorded one.
	qualityTolerance = 0.02
	ndcgK            = 10
	recallK          = 100
	recallMinRating  = 2
)

// judgedQuery is one query of the judgments file.
type judgedQuery struct {
	Text   string
	Judged Judgments
}

// loadJudgments reads query,docid,rating rows, queries in file order.
func loadJudgments(tb testing.TB) []judgedQuery {
	tb.Helper()
	f, err := os.Open(judgmentsPath)
	if errors.Is(err, fs.ErrNotExist) {
		tb.Skipf("dev judgments not found at %s (the shared data folder sits beside the checkout)", judgmentsPath)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var qs []judgedQuery
	index := map[string]int{}
	for i, row := range rows {
		if i == 0 || len(row) != 3 {
			continue
		}
		rating, err := strconv.Atoi(row[2])
		if err != nil {
			tb.Fatalf("%s:%d: rating %q: %v", judgmentsPath, i+1, row[2], err)
		}
		j, ok := index[row[0]]
		if !ok {
			j = len(qs)
			index[row[0]] = j
			qs = append(qs, judgedQuery{Text: row[0], Judged: Judgments{}})
		}
		qs[j].Judged[row[1]] = rating
	}
	if len(qs) == 0 {
		tb.Fatalf("%s: no judgments", judgmentsPath)
	}
	return qs
}

// qualityFigures are the mean metrics over the judged queries.
type qualityFigures struct {
	NDCG10    float64 `json:"ndcg@10"`
	Recall100 float64 `json:"recall@100"`
}

// searcher returns the ranked product IDs for a query, at least recallK deep.
type searcher func(query string) []string

func evaluate(qs []judgedQuery, search searcher) qualityFigures {
	var ndcg, recall float64
	var nRecall int
	for _, q := range qs {
		ids := search(q.Text)
		ndcg += NDCG(ids, q.Judged, ndcgK)
		if r, ok := Recall(ids, q.Judged, recallK, recallMinRating); ok {
			recall += r
			nRecall++
		}
	}
	f := qualityFigures{NDCG10: ndcg / float64(len(qs))}
	if nRecall > 0 {
		f.Recall100 = recall / float64(nRecall)
	}
	return f
}

func indexSearcher(tb testing.TB, idx Index) searcher {
	return func(query string) []string {
		hits, err := idx.Search(context.Background(), Query{Text: query, K: recallK})
		if err != nil {
			tb.Fatal(err)
		}
		ids := make([]string, len(hits))
		for i, h := range hits {
			ids[i] = h.Product.ID
		}
		return ids
	}
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func TestDevJudgmentsQuality(t *testing.T) {
	qs := loadJudgments(t)
	products := demoProducts(t)

	base := evaluate(qs, newBaselineBM25(products).search)
	t.Logf("baseline plain BM25 (k1=1.2 b=0.75, concatenated fields, alphanumeric tokens): nDCG@10 = %.4f, recall@100 = %.4f", base.NDCG10, base.Recall100)

	idx, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Upsert(context.Background(), products); err != nil {
		t.Fatal(err)
	}
	got := evaluate(qs, indexSearcher(t, idx))
	got = qualityFigures{NDCG10: round4(got.NDCG10), Recall100: round4(got.Recall100)}
	t.Logf("embedded index (defaults): nDCG@10 = %.4f, recall@100 = %.4f over %d queries", got.NDCG10, got.Recall100, len(qs))

	if *update {
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(qualityPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", qualityPath)
		return
	}
	data, err := os.ReadFile(qualityPath)
	if err != nil {
		t.Fatalf("read recorded figures (run with -update to create them): %v", err)
	}
	var want qualityFigures
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: %v", qualityPath, err)
	}
	if got.NDCG10 < want.NDCG10-qualityTolerance {
		t.Errorf("nDCG@10 = %.4f, dropped more than %.2f below the recorded %.4f", got.NDCG10, qualityTolerance, want.NDCG10)
	}
	if got.Recall100 < want.Recall100-qualityTolerance {
		t.Errorf("recall@100 = %.4f, dropped more than %.2f below the recorded %.4f", got.Recall100, qualityTolerance, want.Recall100)
	}
	if got.NDCG10 > want.NDCG10+qualityTolerance || got.Recall100 > want.Recall100+qualityTolerance {
		t.Logf("figures improved on %s; consider -update", qualityPath)
	}
}

// baselineBM25 is the reference the issue measures against, written
// independently of the index: plain BM25 (k1=1.2, b=0.75) over title, name,
// short description and brand concatenated, lower-cased alphanumeric tokens.
type baselineBM25 struct {
	ids      []string
	postings map[string]map[int]int
	lens     []float64
	avg      float64
}

func baselineTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func newBaselineBM25(products []catalog.Product) *baselineBM25 {
	b := &baselineBM25{postings: map[string]map[int]int{}}
	var total float64
	for i, p := range products {
		toks := baselineTokens(strings.Join([]string{p.Title, p.Name, p.Description, p.Brand}, " "))
		for _, tok := range toks {
			m := b.postings[tok]
			if m == nil {
				m = map[int]int{}
				b.postings[tok] = m
			}
			m[i]++
		}
		b.ids = append(b.ids, p.ID)
		b.lens = append(b.lens, float64(len(toks)))
		total += float64(len(toks))
	}
	b.avg = total / float64(len(products))
	return b
}

func (b *baselineBM25) search(query string) []string {
	const k1, bb = 1.2, 0.75
	n := float64(len(b.ids))
	scores := map[int]float64{}
	for _, tok := range baselineTokens(query) {
		m := b.postings[tok]
		df := float64(len(m))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for d, tf := range m {
			ftf := float64(tf)
			scores[d] += idf * ftf * (k1 + 1) / (ftf + k1*(1-bb+bb*b.lens[d]/b.avg))
		}
	}
	docs := make([]int, 0, len(scores))
	for d := range scores {
		docs = append(docs, d)
	}
	slices.SortFunc(docs, func(x, y int) int {
		if scores[x] != scores[y] {
			if scores[x] > scores[y] {
				return -1
			}
			return 1
		}
		return x - y
	})
	ids := make([]string, 0, recallK)
	for _, d := range docs[:min(recallK, len(docs))] {
		ids = append(ids, b.ids[d])
	}
	return ids
}

// TestTuneDev grid-searches the scoring parameters (run with -tune; it
// only logs). Kept coarse on purpose: 69 queries tune a handful of knobs,
// not a curve fit.
func TestTuneDev(t *testing.T) {
	if !*tune {
		t.Skip("run with -tune")
	}
	qs := loadJudgments(t)
	products := demoProducts(t)
	variants := []struct {
		name string
		opts tokenOptions
	}{
		{"plain", plainTokenOptions},
		{"stem", tokenOptions{stem: true}},
		{"stem+join", tokenOptions{stem: true, maxJoin: 4}},
		{"stem+split2", tokenOptions{stem: true, maxSplit: 2}},
		{"stem+split3", tokenOptions{stem: true, maxSplit: 3}},
		{"stem+join+split2", tokenOptions{stem: true, maxJoin: 4, maxSplit: 2}},
		{"default", defaultTokenOptions},
	}
	type result struct {
		desc string
		f    qualityFigures
	}
	for _, v := range variants {
		e, err := newEmbedded(Config{}, v.opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Upsert(context.Background(), products); err != nil {
			t.Fatal(err)
		}
		var best []result
		for _, scoring := range []string{ScoringBM25F, ScoringSum} {
			for _, k1 := range []float64{0.6, 0.8, 1.0, 1.3} {
				for _, b := range []float64{0.75, 0.9, 1.0} {
					for _, wn := range []float64{1, 2, 3} {
						for _, wd := range []float64{1, 2, 3} {
							for _, wb := range []float64{1} {
								for _, wp := range []float64{0.25, 0.5, 1} {
									for _, pq := range []float32{0.5, 1} {
										e.cfg = Config{K1: k1, B: b, Scoring: scoring, Weights: FieldWeights{1, wn, wd, wb, DefaultWeights.Attributes, wp}}
										e.partsQueryWeight = pq
										f := evaluate(qs, indexSearcher(t, e))
										best = append(best, result{fmt.Sprintf("%s k1=%.2f b=%.2f w=%v pq=%v", scoring, k1, b, e.cfg.Weights, pq), f})
									}
								}
							}
						}
					}
				}
			}
		}
		e.partsQueryWeight = defaultPartsQueryWeight
		e.cfg, _ = Config{}.withDefaults()
		def := evaluate(qs, indexSearcher(t, e))
		slices.SortFunc(best, func(a, b result) int {
			switch {
			case a.f.NDCG10 > b.f.NDCG10:
				return -1
			case a.f.NDCG10 < b.f.NDCG10:
				return 1
			}
			return 0
		})
		t.Logf("tokens=%s defaults: nDCG@10=%.4f recall@100=%.4f", v.name, def.NDCG10, def.Recall100)
		for _, r := range best[:5] {
			t.Logf("tokens=%s %s: nDCG@10=%.4f recall@100=%.4f", v.name, r.desc, r.f.NDCG10, r.f.Recall100)
		}
		if i := slices.IndexFunc(best, func(r result) bool { return strings.HasPrefix(r.desc, ScoringSum) }); i >= 0 {
			t.Logf("tokens=%s best of %s: %s: nDCG@10=%.4f recall@100=%.4f", v.name, ScoringSum, best[i].desc, best[i].f.NDCG10, best[i].f.Recall100)
		}
	}
}
