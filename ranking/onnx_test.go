package ranking

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/retrieval"
)

const tinyDir = "testdata/tiny_crossencoder"

type goldenRow struct {
	Query    string  `json:"query"`
	Text     string  `json:"text"`
	InputIDs []int64 `json:"input_ids"` // optional: the fixture has them, models/reranker may not
	Score    float64 `json:"score"`
}

func readGolden(t testing.TB, path string) []goldenRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []goldenRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r goldenRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, len(rows)+1, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

func newTiny(t testing.TB, cfg Config) *ONNX {
	t.Helper()
	inferencetest.RequireRuntime(t)
	cfg.ModelDir = tinyDir
	o, err := NewONNX(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// checkGolden scores the golden rows query by query, all texts of a query
// in one call (so in batches), and compares with PyTorch's scores.
func checkGolden(t *testing.T, o *ONNX, rows []goldenRow, tol float64) {
	t.Helper()
	byQuery := map[string][]goldenRow{}
	var queries []string
	for _, r := range rows {
		if byQuery[r.Query] == nil {
			queries = append(queries, r.Query)
		}
		byQuery[r.Query] = append(byQuery[r.Query], r)
	}
	worst := 0.0
	for _, q := range queries {
		rs := byQuery[q]
		texts := make([]string, len(rs))
		for i, r := range rs {
			texts[i] = r.Text
			if r.InputIDs != nil {
				if got := o.tok.EncodePair(q, r.Text, o.maxLen).IDs; !slices.Equal(got, r.InputIDs) {
					t.Errorf("EncodePair(%q, %q) = %v, PyTorch pipeline %v", q, r.Text, got, r.InputIDs)
				}
			}
		}
		got, err := o.Score(context.Background(), q, texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			d := math.Abs(float64(got[i]) - r.Score)
			worst = max(worst, d)
			if d > tol {
				t.Errorf("score(%q, %q) = %v, PyTorch %v (|diff| %.2g > %g)", q, r.Text, got[i], r.Score, d, tol)
			}
		}
	}
	t.Logf("%d golden pairs, %d queries, max |diff| %.2g", len(rows), len(queries), worst)
}

func TestONNXGoldenParity(t *testing.T) {
	o := newTiny(t, Config{})
	rows := readGolden(t, filepath.Join(tinyDir, "golden.jsonl"))
	truncated := 0
	for _, r := range rows {
		if len(r.InputIDs) == o.MaxLength() {
			truncated++
		}
	}
	if truncated == 0 {
		t.Fatal("fixture has no pair truncated to max length; regenerate with make_tiny.py")
	}
	checkGolden(t, o, rows, 1e-4)
}

// fixtureTexts returns the longest fixture query and every fixture text.
func fixtureTexts(t testing.TB) (query string, texts []string) {
	rows := readGolden(t, filepath.Join(tinyDir, "golden.jsonl"))
	seen := map[string]bool{}
	for _, r := range rows {
		if len(r.Query) > len(query) {
			query = r.Query
		}
		if !seen[r.Text] {
			seen[r.Text] = true
			texts = append(texts, r.Text)
		}
	}
	return query, texts
}

func TestONNXBatchingMatchesOneByOne(t *testing.T) {
	ctx := context.Background()
	query, texts := fixtureTexts(t)
	// Repeat the texts so that several batches of mixed lengths run.
	var many []string
	for i := range 7 {
		for _, s := range texts {
			many = append(many, fmt.Sprintf("%s %d", s, i))
		}
	}
	single := newTiny(t, Config{BatchSize: 1})
	want := make([]float32, len(many))
	for i, s := range many {
		got, err := single.Score(ctx, query, []string{s})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = got[0]
	}
	for _, bs := range []int{3, 16, 64} {
		o := newTiny(t, Config{BatchSize: bs, Sessions: 2})
		got, err := o.Score(ctx, query, many)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
				t.Errorf("batch %d: text %d %q: %v, one by one %v", bs, i, many[i], got[i], want[i])
			}
		}
	}
}

func TestONNXConcurrent(t *testing.T) {
	ctx := context.Background()
	o := newTiny(t, Config{Sessions: 2, BatchSize: 4, MaxInflight: 64})
	rows := readGolden(t, filepath.Join(tinyDir, "golden.jsonl"))
	_, texts := fixtureTexts(t)
	var queries []string
	for _, r := range rows {
		if !slices.Contains(queries, r.Query) {
			queries = append(queries, r.Query)
		}
	}
	want := map[string][]float32{}
	for _, q := range queries {
		s, err := o.Score(ctx, q, texts)
		if err != nil {
			t.Fatal(err)
		}
		want[q] = s
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				q := queries[(g+i)%len(queries)]
				got, err := o.Score(ctx, q, texts)
				if err != nil {
					t.Error(err)
					return
				}
				for j := range got {
					if math.Abs(float64(got[j]-want[q][j])) > 1e-5 {
						t.Errorf("goroutine %d: %q text %d: %v, alone %v", g, q, j, got[j], want[q][j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestONNXBusyWhenSaturated(t *testing.T) {
	o := newTiny(t, Config{Sessions: 1, MaxInflight: 2})
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	o.testHook = func() {
		entered <- struct{}{}
		<-release
	}
	ctx := context.Background()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := o.Score(ctx, "hp 61 ink", []string{"hp 61 black ink"})
			errs <- err
		}()
	}
	<-entered
	<-entered
	// Both slots are held: the next call must fail at once, not queue.
	_, err := o.Score(ctx, "hp 61 ink", []string{"hp 61 black ink"})
	if !errors.Is(err, inference.ErrBusy) {
		t.Fatalf("third call while 2 in flight: err = %v, want ErrBusy", err)
	}
	if Reason(err) != "busy" {
		t.Errorf("Reason = %q, want busy", Reason(err))
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("held call: %v", err)
		}
	}
	o.testHook = nil
	if _, err := o.Score(ctx, "hp 61 ink", []string{"hp 61 black ink"}); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestONNXContextEnded(t *testing.T) {
	o := newTiny(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Score(ctx, "hp", []string{"ink"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	got, err := o.Score(context.Background(), "hp", nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("no texts: %v, %v", got, err)
	}
}

// The runtime "make ort" fetches is CPU-only, so asking for CUDA must log
// one warning and still score on CPU. Where the runtime has CUDA, the model
// runs there and nothing is logged.
func TestONNXCUDAFallsBackToCPU(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	o := newTiny(t, Config{Device: DeviceCUDA, Logger: log})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	switch o.Device() {
	case DeviceCPU:
		if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "CUDA requested but unavailable, reranking on CPU") {
			t.Fatalf("log = %q, want one warning about the CUDA fallback", buf.String())
		}
		t.Logf("fallback logged: %s", lines[0])
	case DeviceCUDA:
		if buf.Len() != 0 {
			t.Fatalf("CUDA loaded but logged %q", buf.String())
		}
	default:
		t.Fatalf("Device() = %q", o.Device())
	}
	checkGolden(t, o, readGolden(t, filepath.Join(tinyDir, "golden.jsonl")), 1e-4)
}

func TestNewErrors(t *testing.T) {
	inferencetest.RequireRuntime(t)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: "gpu"}, `unknown reranker "gpu"`},
		{Config{}, `unknown reranker ""`},
		{Config{Kind: KindONNX}, "needs a model directory"},
		{Config{Kind: KindONNX, ModelDir: tinyDir, Device: "tpu"}, `unknown rerank device "tpu"`},
		{Config{Kind: KindONNX, ModelDir: "testdata/nope"}, "load reranker testdata/nope"},
		{Config{Kind: KindONNX, ModelDir: "../inference/testdata/tiny"}, "one logit, config.json id2label has 5 labels"},
		{Config{Kind: KindONNX, ModelDir: tinyDir, BatchSize: -1}, "must not be negative"},
		{Config{Kind: KindRemote, URL: "localhost:8081/rerank"}, "want an absolute http(s) URL"},
		{Config{Kind: KindRemote, URL: "ftp://host/rerank"}, "want an absolute http(s) URL"},
		{Config{Kind: KindRemote, URL: "http://host/rerank", Timeout: -1}, "must not be negative"},
	}
	for _, c := range cases {
		r, err := New(c.cfg)
		if err == nil {
			r.Close()
			t.Errorf("New(%+v) succeeded, want error %q", c.cfg, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	for _, kind := range []string{KindONNX, KindRemote} {
		r, err := New(Config{Kind: kind, ModelDir: tinyDir, URL: "http://127.0.0.1:1/rerank"})
		if err != nil {
			t.Fatalf("New(%s): %v", kind, err)
		}
		r.Close()
	}
}

func TestConfigStringMasksToken(t *testing.T) {
	s := Config{Kind: KindRemote, URL: "https://user:pw@gpu:8081/rerank", Token: "s3cret"}.String()
	if strings.Contains(s, "s3cret") || strings.Contains(s, "pw@") || !strings.Contains(s, "token=xxxxx") || !strings.Contains(s, "timeout=300ms") {
		t.Fatalf("String() = %q", s)
	}
	if s := (Config{Kind: KindONNX, ModelDir: "models/reranker"}).String(); !strings.Contains(s, "device=cpu") {
		t.Fatalf("String() = %q", s)
	}
}

// TestRerankerModelParity checks the trained cross-encoder in
// models/reranker against its PyTorch golden scores.
func TestRerankerModelParity(t *testing.T) {
	const dir = "../models/reranker"
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		t.Skipf("no trained reranker at %s (training/ writes it): %v", dir, err)
	}
	inferencetest.RequireRuntime(t)
	o, err := NewONNX(Config{ModelDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	checkGolden(t, o, readGolden(t, filepath.Join(dir, "golden.jsonl")), 1e-4)
}

// The Ranker over the ONNX backend orders by the PyTorch scores when only
// the reranker weighs.
func TestRankerWithONNX(t *testing.T) {
	o := newTiny(t, Config{})
	rows := readGolden(t, filepath.Join(tinyDir, "golden.jsonl"))
	query := rows[len(rows)-1].Query
	var hits []retrieval.Hit
	var want []goldenRow
	for _, r := range rows {
		if r.Query == query {
			hits = append(hits, retrieval.Hit{Product: &catalog.Product{ID: r.Text, Title: r.Text}, Score: 1})
			want = append(want, r)
		}
	}
	slices.SortStableFunc(want, func(a, b goldenRow) int { return cmpDesc(a.Score, b.Score) })
	rk, err := NewRanker(o, RankerConfig{Weights: Weights{Rerank: 1}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := rk.Rank(context.Background(), Request{Query: query, Hits: hits})
	if err != nil || res.Fallback {
		t.Fatalf("Rank: %v %v", err, res.Cause)
	}
	for i, it := range res.Items {
		if it.Hit.Product.ID != want[i].Text || math.Abs(it.Features.RerankRaw-want[i].Score) > 1e-4 {
			t.Fatalf("item %d: %q (%v), want %q (%v)", i, it.Hit.Product.ID, it.Features.RerankRaw, want[i].Text, want[i].Score)
		}
	}
}
