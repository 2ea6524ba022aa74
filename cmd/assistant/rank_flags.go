package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/ranking"
)

// rankFlags configure the final ranking stage, shared by serve and
// eval search.
type rankFlags struct {
	model, device, url, token, rules, weights, ortLib string
	topK                                              int
	timeout                                           time.Duration
}

func (r *rankFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.model, "rerank-model", "models/reranker", "cross-encoder directory (config.json, vocab.txt, model.onnx, and model.int8.onnx which CPU uses when present); empty: no cross-encoder, the final order blends retrieval, profile and rules only")
	fs.StringVar(&r.device, "rerank-device", "cpu", "where the in-process cross-encoder runs: cpu, or cuda (ONNX Runtime's CUDA provider when the loaded runtime has it; otherwise a warning and CPU)")
	fs.StringVar(&r.url, "rerank-url", "", "remote rerank server (POST {query,texts} → [{index,score}], e.g. training/rerank_server.py or text-embeddings-inference /rerank) used instead of the in-process model")
	fs.StringVar(&r.token, "rerank-token", "", "bearer token for --rerank-url")
	fs.DurationVar(&r.timeout, "rerank-timeout", ranking.DefaultTimeout, "--rerank-url: give up after this long and keep the retrieval order")
	fs.IntVar(&r.topK, "rerank-topk", ranking.DefaultTopK, "candidates the cross-encoder re-scores per search")
	fs.StringVar(&r.weights, "rank-weights", "", "blend weights as name=value pairs: rerank, retrieval, personal, availability (default "+weightsString(ranking.DefaultWeights)+")")
	fs.StringVar(&r.rules, "rules", "", "business rules JSON file: boosts and sponsored placements (see README)")
}

func weightsString(w ranking.Weights) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return "rerank=" + f(w.Rerank) + ",retrieval=" + f(w.Retrieval) + ",personal=" + f(w.Personal) + ",availability=" + f(w.Availability)
}

// parseWeights reads "rerank=1,retrieval=0.3": names not given keep their
// default.
func parseWeights(s string) (ranking.Weights, error) {
	w := ranking.DefaultWeights
	if strings.TrimSpace(s) == "" {
		return w, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		x, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || x < 0 {
			return w, fmt.Errorf("--rank-weights: %q is not name=number (number >= 0)", kv)
		}
		switch strings.TrimSpace(name) {
		case "rerank":
			w.Rerank = x
		case "retrieval":
			w.Retrieval = x
		case "personal":
			w.Personal = x
		case "availability":
			w.Availability = x
		default:
			return w, fmt.Errorf("--rank-weights: unknown weight %q (want rerank, retrieval, personal or availability)", name)
		}
	}
	return w, nil
}

func (r *rankFlags) validate() error {
	if r.topK < 1 || r.topK > 1000 {
		return fmt.Errorf("--rerank-topk %d is not in 1-1000", r.topK)
	}
	if r.device != "cpu" && r.device != "cuda" {
		return fmt.Errorf("--rerank-device %q: want cpu or cuda", r.device)
	}
	if r.timeout <= 0 {
		return fmt.Errorf("--rerank-timeout must be positive")
	}
	_, err := parseWeights(r.weights)
	return err
}

// reranker builds the cross-encoder backend the flags name: nil when there
// is none (no --rerank-url and an empty --rerank-model).
func (r *rankFlags) reranker(log *slog.Logger) (ranking.Reranker, error) {
	switch {
	case r.url != "":
		return ranking.New(ranking.Config{Kind: ranking.KindRemote, URL: r.url, Token: r.token, Timeout: r.timeout, Logger: log})
	case r.model != "":
		if err := inference.Init(inference.RuntimeConfig{LibPath: r.ortLib}); err != nil {
			return nil, err
		}
		return ranking.New(ranking.Config{Kind: ranking.KindONNX, ModelDir: resolveDir(r.model), Device: r.device, Logger: log})
	}
	return nil, nil
}

// ranker builds the final ranking stage over rr (which may be nil).
func (r *rankFlags) ranker(rr ranking.Reranker) (*ranking.Ranker, error) {
	w, err := parseWeights(r.weights)
	if err != nil {
		return nil, err
	}
	var rules ranking.Rules
	if r.rules != "" {
		if rules, err = ranking.LoadRules(r.rules); err != nil {
			return nil, err
		}
	}
	return ranking.NewRanker(rr, ranking.RankerConfig{TopK: r.topK, Weights: w, Rules: rules})
}
