//go:build ignore

// Command dump_rank_features writes, for every query of a judgments CSV,
// the features the ranking stage can draw on, one CSV row per candidate
// product: its rank and score in the lexical (BM25F, 200 deep), dense
// (bi-encoder, 200 deep) and hybrid (the serving default, 100 deep)
// rankings (rank 0 = not in that list), and the cross-encoder's raw logit
// (ranking.KindONNX, the CPU default graph). Candidates are the hybrid
// list plus the top 100 of each half. shopassist_training.blend_sweep
// replays blends and learned combinations on this file without re-running
// Go.
//
//	go run training/tools/dump_rank_features.go training/data/icecat_judgments_dev.csv > artifacts/rank_features.csv
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/ranking"
	"github.com/shopassist/shopassist/retrieval"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run training/tools/dump_rank_features.go JUDGMENTS.csv > features.csv")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "dump_rank_features:", err)
		os.Exit(1)
	}
}

// candidate is one product's place in each list (rank 0: absent).
type candidate struct {
	p                  *catalog.Product
	lexRank, denseRank int
	hybRank            int
	lex, dense, hybrid float64
}

func run(judgments string) error {
	ctx := context.Background()
	queries, err := readQueries(judgments)
	if err != nil {
		return err
	}
	if err := inference.Init(inference.RuntimeConfig{}); err != nil {
		return err
	}
	enc, err := retrieval.NewONNXEncoder("models/biencoder", retrieval.ONNXEncoderOptions{})
	if err != nil {
		return err
	}
	defer enc.Close()
	idx, err := retrieval.New(retrieval.Config{Encoder: enc})
	if err != nil {
		return err
	}
	defer idx.Close()
	ps, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		return err
	}
	if err := idx.Upsert(ctx, ps); err != nil {
		return err
	}
	rr, err := ranking.New(ranking.Config{Kind: ranking.KindONNX, ModelDir: "models/reranker"})
	if err != nil {
		return err
	}
	defer rr.Close()

	out := bufio.NewWriter(os.Stdout)
	w := csv.NewWriter(out)
	w.Write([]string{"query", "docid", "lexrank", "lexscore", "denserank", "densescore", "hybrank", "hybscore", "ce"})
	lists := []struct {
		mode  string
		depth int
	}{{retrieval.ModeLexical, 200}, {retrieval.ModeDense, 200}, {retrieval.ModeHybrid, 100}}
	for _, q := range queries {
		byID := map[string]*candidate{}
		var order []string
		for _, l := range lists {
			hits, err := idx.Search(ctx, retrieval.Query{Text: q, K: l.depth, Mode: l.mode})
			if err != nil {
				return fmt.Errorf("query %q: %w", q, err)
			}
			for i, h := range hits {
				c := byID[h.Product.ID]
				if c == nil {
					c = &candidate{p: h.Product}
					byID[h.Product.ID] = c
					order = append(order, h.Product.ID)
				}
				switch l.mode {
				case retrieval.ModeLexical:
					c.lexRank, c.lex = i+1, h.Score
				case retrieval.ModeDense:
					c.denseRank, c.dense = i+1, h.Score
				default:
					c.hybRank, c.hybrid = i+1, h.Score
				}
			}
		}
		order = slices.DeleteFunc(order, func(id string) bool {
			c := byID[id]
			return c.hybRank == 0 && (c.lexRank == 0 || c.lexRank > 100) && (c.denseRank == 0 || c.denseRank > 100)
		})
		texts := make([]string, len(order))
		for i, id := range order {
			texts[i] = retrieval.ProductText(byID[id].p)
		}
		scores, err := rr.Score(ctx, q, texts)
		if err != nil {
			return fmt.Errorf("query %q: rerank: %w", q, err)
		}
		for i, id := range order {
			c := byID[id]
			w.Write([]string{q, id, strconv.Itoa(c.lexRank), ftoa(c.lex), strconv.Itoa(c.denseRank), ftoa(c.dense),
				strconv.Itoa(c.hybRank), ftoa(c.hybrid), ftoa(float64(scores[i]))})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return out.Flush()
}

func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', 7, 64) }

// readQueries returns the distinct queries of a query,docid,rating CSV in
// file order.
func readQueries(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 || len(rows[0]) < 1 || rows[0][0] != "query" {
		return nil, fmt.Errorf("%s: want a header query,docid,rating and rows", path)
	}
	var qs []string
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if !seen[r[0]] {
			seen[r[0]] = true
			qs = append(qs, r[0])
		}
	}
	return qs, nil
}
