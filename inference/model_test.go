package inference_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/inference/inferencetest"
)

func TestInitMissingLibrary(t *testing.T) {
	err := inference.Init(inference.RuntimeConfig{LibPath: "/nonexistent/libonnxruntime.so.1"})
	if !errors.Is(err, inference.ErrNoRuntime) {
		t.Fatalf("Init(missing) = %v, want ErrNoRuntime", err)
	}
	for _, want := range []string{"/nonexistent/libonnxruntime.so.1", `make ort`, "--ort-lib", inference.EnvORTLib} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := inference.Init(inference.RuntimeConfig{Device: "tpu"}); err == nil {
		t.Error("Init(device tpu): no error")
	}
}

// TestInitWrongLibrary loads a file that is not a shared library, in a child
// process (a process can initialise onnxruntime only once).
func TestInitWrongLibrary(t *testing.T) {
	if p := os.Getenv("INFERENCE_WRONG_LIB"); p != "" {
		err := inference.Init(inference.RuntimeConfig{LibPath: p})
		if !errors.Is(err, inference.ErrNoRuntime) || !strings.Contains(err.Error(), "make ort") {
			t.Fatalf("Init(wrong library) = %v, want ErrNoRuntime naming make ort", err)
		}
		return
	}
	bogus := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(bogus, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitWrongLibrary$", "-test.v")
	cmd.Env = append(os.Environ(), "INFERENCE_WRONG_LIB="+bogus)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestInitIdempotent(t *testing.T) {
	inferencetest.RequireRuntime(t)
	if err := inference.Init(inference.RuntimeConfig{}); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	path, version, ok := inference.RuntimeInfo()
	if !ok || path == "" || version == "" {
		t.Fatalf("RuntimeInfo = %q %q %v", path, version, ok)
	}
	t.Logf("onnxruntime %s from %s", version, path)
}

type goldenLogits struct {
	Text         string    `json:"text"`
	InputIDs     []int64   `json:"input_ids"`
	TokenTypeIDs []int64   `json:"token_type_ids"`
	Logits       []float64 `json:"logits"`
}

func readGolden(t testing.TB, path string) []goldenLogits {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenLogits
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var g goldenLogits
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

// checkLogits compares the model's logits with the golden ones, one
// sequence per call and then all of them in one padded batch.
func checkLogits(t *testing.T, m *inference.Model, golden []goldenLogits, encs []inference.Encoding) {
	t.Helper()
	ctx := context.Background()
	const tol = 1e-4
	worst := 0.0
	cmp := func(path string, i int, got []float32) {
		if len(got) != len(golden[i].Logits) {
			t.Fatalf("%s line %d: %d logits, want %d", path, i+1, len(got), len(golden[i].Logits))
		}
		for j, w := range golden[i].Logits {
			d := math.Abs(float64(got[j]) - w)
			worst = max(worst, d)
			if d > tol {
				t.Errorf("%s line %d (%q) logit %d: %v, want %v", path, i+1, golden[i].Text, j, got[j], w)
				return
			}
		}
	}
	for i, e := range encs {
		out, err := m.Logits(ctx, []inference.Encoding{e})
		if err != nil {
			t.Fatal(err)
		}
		cmp("single", i, out[0])
	}
	for start := 0; start < len(encs); start += 32 {
		end := min(start+32, len(encs))
		out, err := m.Logits(ctx, encs[start:end])
		if err != nil {
			t.Fatal(err)
		}
		for i := range out {
			cmp("batched", start+i, out[i])
		}
	}
	t.Logf("%d sequences, max abs diff %.2g", len(encs), worst)
}

func fixtureEncodings(golden []goldenLogits) []inference.Encoding {
	encs := make([]inference.Encoding, len(golden))
	for i, g := range golden {
		mask := make([]int64, len(g.InputIDs))
		for j := range mask {
			mask[j] = 1
		}
		types := g.TokenTypeIDs
		if types == nil {
			types = make([]int64, len(g.InputIDs))
		}
		encs[i] = inference.Encoding{IDs: g.InputIDs, TypeIDs: types, Mask: mask}
	}
	return encs
}

func TestTinyModelParity(t *testing.T) {
	inferencetest.RequireRuntime(t)
	for _, c := range []struct {
		dir   string
		types bool
	}{{"tiny", true}, {"tiny_notype", false}} {
		t.Run(c.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", c.dir)
			m, err := inference.LoadModel(dir, inference.ModelOptions{Sessions: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.HasTokenTypes() != c.types {
				t.Fatalf("HasTokenTypes = %v, want %v", m.HasTokenTypes(), c.types)
			}
			cfg := m.Config()
			if len(cfg.Labels) != 5 || cfg.Labels[4] != "out_of_scope" || cfg.OOSLabel != "out_of_scope" || !cfg.HasThreshold || cfg.MaxLength != 32 {
				t.Fatalf("Config = %+v", cfg)
			}
			golden := readGolden(t, filepath.Join(dir, "golden", "logits.jsonl"))
			checkLogits(t, m, golden, fixtureEncodings(golden))
			long := m.Tokenizer().Encode(strings.Repeat("hi ", 40), 33)
			if _, err := m.Logits(context.Background(), []inference.Encoding{long}); err == nil || !strings.Contains(err.Error(), "max length 32") {
				t.Errorf("33 tokens into a 32-token model: %v", err)
			}
		})
	}
}

// TestIntentModelParity runs the trained intent model on the training
// pipeline's golden texts through the Go tokenizer: end-to-end parity.
func TestIntentModelParity(t *testing.T) {
	dir := filepath.Join("..", "models", "intent")
	if _, err := os.Stat(filepath.Join(dir, "golden", "logits.jsonl")); os.IsNotExist(err) {
		t.Skip("models/intent/golden/logits.jsonl not written yet by training/")
	}
	inferencetest.RequireRuntime(t)
	m, err := inference.LoadModel(dir, inference.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	golden := readGolden(t, filepath.Join(dir, "golden", "logits.jsonl"))
	if len(golden) < 200 {
		t.Errorf("golden logits has %d lines, want >= 200", len(golden))
	}
	encs := make([]inference.Encoding, len(golden))
	for i, g := range golden {
		encs[i] = m.Encode(g.Text)
	}
	checkLogits(t, m, golden, encs)
}

func TestLoadModelErrors(t *testing.T) {
	inferencetest.RequireRuntime(t)
	src := filepath.Join("testdata", "tiny")
	copyDir := func(t *testing.T, edit func(dir string)) string {
		dir := t.TempDir()
		for _, f := range []string{"vocab.txt", "tokenizer_config.json", "config.json", "model.onnx"} {
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		edit(dir)
		return dir
	}
	for _, c := range []struct {
		name, config, want string
	}{
		{"label count", `{"id2label": {"0": "a", "1": "b"}}`, "2 labels"},
		{"gap in ids", `{"id2label": {"0": "a", "2": "b"}}`, "missing 1"},
		{"oos label unknown", `{"id2label": {"0":"a","1":"b","2":"c","3":"d","4":"e"}, "oos_label": "zzz"}`, "oos_label"},
		{"no labels", `{}`, "no id2label"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, func(dir string) {
				os.WriteFile(filepath.Join(dir, "config.json"), []byte(c.config), 0o644)
			})
			_, err := inference.LoadModel(dir, inference.ModelOptions{Sessions: 1})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadModel = %v, want error containing %q", err, c.want)
			}
		})
	}
}

// BenchmarkLogitsBatch runs one padded batch of b sequences on one session,
// reporting sequences per second: what batching buys per ONNX Runtime call.
// $SHOPASSIST_BENCH_MODEL picks the model (default models/intent, else the
// tiny fixture).
func BenchmarkLogitsBatch(b *testing.B) {
	inferencetest.RequireRuntime(b)
	dir := filepath.Join("..", "models", "intent")
	if d := os.Getenv("SHOPASSIST_BENCH_MODEL"); d != "" {
		dir = d
	}
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		dir = filepath.Join("testdata", "tiny")
	}
	m, err := inference.LoadModel(dir, inference.ModelOptions{Sessions: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	texts := []string{"do you have the LC51C ink cartridge under $49.95?", "where is my order", "i want to return these headphones", "hi"}
	for _, n := range []int{1, 4, 16, 32} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			encs := make([]inference.Encoding, n)
			for i := range encs {
				encs[i] = m.Encode(texts[i%len(texts)])
			}
			for b.Loop() {
				if _, err := m.Logits(context.Background(), encs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "seq/s")
		})
	}
}

// TestCUDAUnavailable: asking for CUDA from a CPU-only library (the one
// "make ort" fetches) is one clear error, not a silent CPU fallback.
func TestCUDAUnavailable(t *testing.T) {
	inferencetest.RequireRuntime(t)
	m, err := inference.LoadModel(filepath.Join("testdata", "tiny"), inference.ModelOptions{Sessions: 1, Device: "cuda"})
	if err == nil {
		m.Close()
		t.Skip("this onnxruntime library has the CUDA provider")
	}
	if !strings.Contains(err.Error(), "CUDA provider unavailable") || !strings.Contains(err.Error(), "--ort-lib") {
		t.Fatalf("LoadModel(cuda) = %v, want a CUDA error naming --ort-lib", err)
	}
	t.Log(err)
}
