package retrieval

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopassist/shopassist/inference/inferencetest"
)

// tinyBiEncoder returns the directory of a committed tiny random
// bi-encoder with golden vectors from PyTorch, made by
// testdata/gen_tiny_biencoder.py (rerun it to regenerate; the tests need no
// PyTorch).
func tinyBiEncoder(t *testing.T, pooling, output string) string {
	t.Helper()
	dir := filepath.Join("testdata", "tiny_biencoder", pooling+"_"+output)
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		t.Fatal(err)
	}
	return dir
}

type goldenVector struct {
	Text   string    `json:"text"`
	Vector []float32 `json:"vector"`
}

func readGolden(t *testing.T, path string) []goldenVector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var gs []goldenVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var g goldenVector
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return gs
}

func TestONNXEncoderParity(t *testing.T) {
	inferencetest.RequireRuntime(t)
	// The tiny fixtures cover each pooling and output; models/biencoder is
	// the committed default model, checked against its own PyTorch golden
	// vectors.
	for _, tc := range []struct{ pooling, output, dir string }{
		{PoolingMean, OutputLastHiddenState, ""},
		{PoolingCLS, OutputLastHiddenState, ""},
		{PoolingMean, OutputSentenceEmbedding, ""},
		{"committed", "default", "../models/biencoder"},
	} {
		t.Run(tc.pooling+"/"+tc.output, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = tinyBiEncoder(t, tc.pooling, tc.output)
			}
			enc, err := NewONNXEncoder(dir, ONNXEncoderOptions{Sessions: 2, BatchSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			golden := readGolden(t, filepath.Join(dir, "golden.jsonl"))
			if enc.Dim() != len(golden[0].Vector) {
				t.Fatalf("Dim = %d, want %d", enc.Dim(), len(golden[0].Vector))
			}
			texts := make([]string, len(golden))
			for i, g := range golden {
				texts[i] = g.Text
			}
			// Batched (padded, length-sorted) document encoding and single
			// query encoding must both match PyTorch on the unpadded text.
			docs, err := enc.EncodeDocs(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range golden {
				q, err := enc.EncodeQuery(context.Background(), g.Text)
				if err != nil {
					t.Fatal(err)
				}
				for name, got := range map[string][]float32{"query": q, "doc": docs[i]} {
					if d := maxAbsDiff(got, g.Vector); d > 1e-4 {
						t.Errorf("%s %q: max |go - torch| = %g", name, g.Text, d)
					}
					if n := norm(got); math.Abs(float64(n)-1) > 1e-5 {
						t.Errorf("%s %q: norm %v, want 1", name, g.Text, n)
					}
				}
			}
		})
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}
