package retrieval

import (
	"math"
	"testing"
)

func TestMetrics(t *testing.T) {
	j := Judgments{"a": 3, "b": 2, "c": 0, "d": 1}
	ranked := []string{"x", "b", "a", "y", "c"}
	// DCG: b at rank 2: 3/log2(3); a at rank 3: 7/log2(4) = 3.5.
	// Ideal: 7/1 + 3/log2(3) + 1/2.
	dcg := 3/math.Log2(3) + 3.5
	ideal := 7 + 3/math.Log2(3) + 0.5
	if got := NDCG(ranked, j, 10); math.Abs(got-dcg/ideal) > 1e-12 {
		t.Errorf("NDCG = %v, want %v", got, dcg/ideal)
	}
	// Condensed list: b, a, c (x, y unjudged, dropped before the cut).
	cdcg := 3.0 + 7/math.Log2(3)
	if got := NDCGJudged(ranked, j, 10); math.Abs(got-cdcg/ideal) > 1e-12 {
		t.Errorf("NDCGJudged = %v, want %v", got, cdcg/ideal)
	}
	// With k=2 the condensed list is b, a; the raw list is x, b.
	if got, want := NDCGJudged(ranked, j, 2), (3+7/math.Log2(3))/(7+3/math.Log2(3)); math.Abs(got-want) > 1e-12 {
		t.Errorf("NDCGJudged@2 = %v, want %v", got, want)
	}
	if got := Precision(ranked, j, 10, 2); got != 0.2 {
		t.Errorf("P@10 = %v, want 0.2 (2 relevant of 10 ranks)", got)
	}
	if got := Precision(ranked, j, 3, 2); math.Abs(got-2.0/3) > 1e-12 {
		t.Errorf("P@3 = %v, want 2/3", got)
	}
	if r, ok := Recall(ranked, j, 2, 2); !ok || r != 0.5 {
		t.Errorf("Recall@2 = %v, %v; want 0.5", r, ok)
	}
}
