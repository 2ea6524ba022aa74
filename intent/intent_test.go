package intent_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/intent"
)

var tinyDir = filepath.Join("..", "inference", "testdata", "tiny")

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestScoreConfusion checks every metric on a hand-made confusion case:
//
//	gold a a a b b   oos oos oos
//	pred a a b b oos oos oos a
func TestScoreConfusion(t *testing.T) {
	gold := []string{"a", "a", "a", "b", "b", "oos", "oos", "oos"}
	pred := []string{"a", "a", "b", "b", "oos", "oos", "oos", "a"}
	r := intent.Score(gold, pred, "oos")
	// a: tp 2 fp 1 fn 1 -> 2/3; b: tp 1 fp 1 fn 1 -> 1/2; oos: tp 2 fp 1 fn 1 -> 2/3.
	want := map[string]float64{"a": 2.0 / 3, "b": 0.5, "oos": 2.0 / 3}
	if len(r.PerIntent) != len(want) {
		t.Fatalf("PerIntent = %v, want %v", r.PerIntent, want)
	}
	for l, f := range want {
		if !near(r.PerIntent[l], f) {
			t.Errorf("F1[%s] = %v, want %v", l, r.PerIntent[l], f)
		}
	}
	if r.N != 8 || !near(r.Accuracy, 5.0/8) || !near(r.MacroF1, 11.0/18) || !near(r.MacroF1AllLabels, 11.0/18) {
		t.Errorf("N %d accuracy %v macro F1 %v / %v, want 8, 0.625, 0.6111", r.N, r.Accuracy, r.MacroF1, r.MacroF1AllLabels)
	}
	if r.OOSRecall == nil || !near(*r.OOSRecall, 2.0/3) {
		t.Errorf("OOSRecall = %v, want 2/3", r.OOSRecall)
	}
	if r.InScopeFalseReject == nil || !near(*r.InScopeFalseReject, 0.2) {
		t.Errorf("InScopeFalseReject = %v, want 0.2", r.InScopeFalseReject)
	}
	// A label only ever predicted counts in MacroF1AllLabels, not MacroF1.
	r = intent.Score([]string{"a", "a"}, []string{"a", "c"}, "oos")
	if !near(r.PerIntent["c"], 0) || !near(r.MacroF1, 2.0/3) || !near(r.MacroF1AllLabels, (2.0/3+0)/2) || r.OOSRecall != nil || !near(*r.InScopeFalseReject, 0) {
		t.Errorf("predicted-only label: %+v", r)
	}
}

func loadTiny(t testing.TB, cfg intent.Config) *intent.Classifier {
	t.Helper()
	inferencetest.RequireRuntime(t)
	c, err := intent.Load(tinyDir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ptr(f float64) *float64 { return &f }

var utterances = []string{"show me red shoes under $49.95", "where is my order", "hi", "refund please",
	"LC51C cartridge", "talk to a human!", "cheap running headphones", "blue cafe size 10", "thanks", "cancel the order"}

func TestClassifyThreshold(t *testing.T) {
	ctx := context.Background()
	open := loadTiny(t, intent.Config{Threshold: ptr(0), TopK: -1})
	strict := loadTiny(t, intent.Config{Threshold: ptr(1)})
	if got := open.Labels(); !slices.Equal(got, []string{"search_product", "order_status", "refund", "greeting", "out_of_scope"}) {
		t.Fatalf("Labels = %v", got)
	}
	for _, u := range utterances {
		logits, err := open.Model().Logits(ctx, []inference.Encoding{open.Model().Encode(u)})
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for i, l := range logits[0] {
			if l > logits[0][best] {
				best = i
			}
		}
		r, err := open.Classify(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if r.Best != open.Labels()[best] || r.Top[0].Label != r.Best || len(r.Top) != 5 {
			t.Errorf("%q: Best %q Top %v, want argmax %q", u, r.Best, r.Top, open.Labels()[best])
		}
		sum := 0.0
		for _, s := range r.Top {
			sum += s.Prob
		}
		if !near(sum, 1) || !near(r.Confidence, r.Top[0].Prob) || !sort.SliceIsSorted(r.Top, func(i, j int) bool { return r.Top[i].Prob > r.Top[j].Prob }) {
			t.Errorf("%q: probabilities %v (sum %v), confidence %v", u, r.Top, sum, r.Confidence)
		}
		if r.OutOfScope != (r.Best == "out_of_scope") || (r.Label != r.Best) {
			t.Errorf("threshold 0: %+v", r)
		}
		s, err := strict.Classify(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if s.Label != "out_of_scope" || !s.OutOfScope || s.Best != r.Best || !near(s.Confidence, r.Confidence) {
			t.Errorf("threshold 1: %+v, want out_of_scope with the raw best %q %v", s, r.Best, r.Confidence)
		}
	}
	// The tiny model's config.json threshold (0.3) applies by default.
	if d := loadTiny(t, intent.Config{}); d.Threshold() != 0.3 || d.OOSLabel() != "out_of_scope" {
		t.Errorf("default threshold %v label %q, want 0.3 out_of_scope", d.Threshold(), d.OOSLabel())
	}
}

func TestClassifyConcurrentMatchesBatch(t *testing.T) {
	c := loadTiny(t, intent.Config{Threshold: ptr(0)})
	ctx := context.Background()
	want, err := c.ClassifyBatch(ctx, utterances)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 40 {
				k := (w + i) % len(utterances)
				r, err := c.Classify(ctx, utterances[k])
				if err != nil {
					t.Error(err)
					return
				}
				if r.Label != want[k].Label || math.Abs(r.Confidence-want[k].Confidence) > 1e-5 {
					t.Errorf("%q: %+v, batch gave %+v", utterances[k], r, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestEvalCSV(t *testing.T) {
	c := loadTiny(t, intent.Config{Threshold: ptr(0)})
	ctx := context.Background()
	res, err := c.ClassifyBatch(ctx, utterances)
	if err != nil {
		t.Fatal(err)
	}
	// Gold = the model's own prediction for the first 8 rows, a wrong one
	// for the last 2; plus rows with labels the model does not know.
	var b strings.Builder
	b.WriteString("\ufeffid,utterance,intent\n")
	wrongs := 0
	for i, u := range utterances {
		label := res[i].Label
		if i >= 8 {
			for _, l := range c.Labels() {
				if l != label {
					label = l
					break
				}
			}
			wrongs++
		}
		fmt.Fprintf(&b, "%d,%q,%s\n", i, u, label)
	}
	b.WriteString("98,\"track parcel\",track_package\n99,\"where's my stuff\",track_package\n100,x,\n")
	rep, err := intent.Eval(ctx, c, strings.NewReader(b.String()), "utterance", "intent")
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != 10 || !near(rep.Accuracy, 0.8) || rep.ExcludedN != 3 || rep.Excluded["track_package"] != 2 || rep.Excluded[""] != 1 {
		t.Errorf("Eval = %+v, want n 10, accuracy 0.8, excluded track_package 2 and empty 1", rep)
	}
	if _, err := intent.Eval(ctx, c, strings.NewReader("text,label\nhi,greeting\n"), "utterance", "intent"); err == nil || !strings.Contains(err.Error(), `"utterance"`) {
		t.Errorf("missing columns: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := intent.Eval(cancelled, c, strings.NewReader(b.String()), "utterance", "intent"); !errors.Is(err, context.Canceled) {
		t.Errorf("Eval with a cancelled context = %v, want context.Canceled", err)
	}
}

// classifierForBench loads $SHOPASSIST_BENCH_MODEL, else models/intent when
// present, else the tiny fixture. $SHOPASSIST_BENCH_SESSIONS and
// $SHOPASSIST_BENCH_THREADS set the pool (default: one session per core,
// one intra-op thread each), $SHOPASSIST_BENCH_MAXWAIT the batcher's MaxWait.
func classifierForBench(b *testing.B) *intent.Classifier {
	dir := filepath.Join("..", "models", "intent")
	if d := os.Getenv("SHOPASSIST_BENCH_MODEL"); d != "" {
		dir = d
	}
	var cfg intent.Config
	cfg.Model.Sessions, _ = strconv.Atoi(os.Getenv("SHOPASSIST_BENCH_SESSIONS"))
	cfg.Model.IntraOpThreads, _ = strconv.Atoi(os.Getenv("SHOPASSIST_BENCH_THREADS"))
	cfg.Batch.MaxWait, _ = time.ParseDuration(os.Getenv("SHOPASSIST_BENCH_MAXWAIT"))
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		b.Logf("models/intent/model.onnx absent; benchmarking the tiny fixture")
		dir = tinyDir
	}
	inferencetest.RequireRuntime(b)
	c, err := intent.Load(dir, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	b.Logf("model %s, %d sessions", dir, c.Model().Sessions())
	return c
}

// BenchmarkClassifyOne measures one utterance at a time (no concurrency),
// reporting p50 and p99 latency.
func BenchmarkClassifyOne(b *testing.B) {
	c := classifierForBench(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := c.Classify(ctx, utterances[i%len(utterances)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e6 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkClassifyParallel measures throughput with many concurrent
// callers (use -cpu to set GOMAXPROCS; -benchtime sets the work).
func BenchmarkClassifyParallel(b *testing.B) {
	c := classifierForBench(b)
	ctx := context.Background()
	b.SetParallelism(16) // 16 callers per GOMAXPROCS: enough to fill batches
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Classify(ctx, utterances[i%len(utterances)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "utt/s")
	batches, seqs := c.Batcher().Stats()
	if batches > 0 {
		b.ReportMetric(float64(seqs)/float64(batches), "seq/batch")
	}
}
