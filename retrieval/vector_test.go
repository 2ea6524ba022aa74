package retrieval

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/shopassist/shopassist/catalog"
)

// clusteredVectors returns n dim-dimensional vectors drawn around
// n/100+1 random centres (real embeddings are clustered; uniform random
// high-dimensional points have no near neighbours to find).
func clusteredVectors(n, dim int, seed uint64) [][]float32 {
	return clusteredVectorsNoise(n, dim, seed, 0.6)
}

// clusteredVectorsNoise draws around n/100+1 standard-normal centres with
// per-coordinate noise sigma.
func clusteredVectorsNoise(n, dim int, seed uint64, sigma float32) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float32, max(n/100, 1))
	for i := range centres {
		c := make([]float32, dim)
		for j := range c {
			c[j] = float32(rng.NormFloat64())
		}
		centres[i] = c
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[rng.IntN(len(centres))]
		x := make([]float32, dim)
		for j := range x {
			x[j] = c[j] + sigma*float32(rng.NormFloat64())
		}
		out[i] = x
	}
	return out
}

// nearQueries returns n queries, each a stored vector plus noise.
func nearQueries(vecs [][]float32, n int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([][]float32, n)
	for i := range out {
		src := vecs[rng.IntN(len(vecs))]
		q := make([]float32, len(src))
		for j := range q {
			q[j] = src[j] + 0.3*float32(rng.NormFloat64())
		}
		out[i] = q
	}
	return out
}

func buildVectorIndex(tb testing.TB, vecs [][]float32, cfg VectorConfig) *VectorIndex {
	tb.Helper()
	v, err := NewVectorIndex(len(vecs[0]), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, len(vecs))
	for i := range ids {
		ids[i] = fmt.Sprint("p", i)
	}
	if err := v.AddBatch(ids, vecs, nil); err != nil {
		tb.Fatal(err)
	}
	return v
}

// recallAt returns the mean share of the exact top k that Search finds.
func recallAt(v *VectorIndex, queries [][]float32, k int, accept func(string) bool) float64 {
	var sum float64
	for _, q := range queries {
		want := v.Exact(q, k, accept)
		got := v.Search(q, k, accept)
		set := map[string]bool{}
		for _, h := range got {
			set[h.ID] = true
		}
		found := 0
		for _, h := range want {
			if set[h.ID] {
				found++
			}
		}
		if len(want) > 0 {
			sum += float64(found) / float64(len(want))
		}
	}
	return sum / float64(len(queries))
}

func TestVectorIndexRecall(t *testing.T) {
	vecs := clusteredVectors(4000, 32, 1)
	v := buildVectorIndex(t, vecs, VectorConfig{})
	queries := nearQueries(vecs, 100, 2)
	if r := recallAt(v, queries, 10, nil); r < 0.95 {
		t.Errorf("recall@10 = %.3f, want >= 0.95", r)
	}
	// A wider beam finds more: the graph, not only the beam, is sound.
	v.SetEfSearch(400)
	if r := recallAt(v, queries, 10, nil); r < 0.99 {
		t.Errorf("recall@10 at ef=400 = %.3f, want >= 0.99", r)
	}
}

// TestVectorIndexEveryNodeReachable builds indexes with parallel insertion,
// which before relinkStranded left 3–21 of 4,000 nodes unreachable in the
// bottom layer (no search could return them), and checks what the repair
// guarantees there: every node is reachable from the entry point and is
// linked back by one of its own neighbours. As a consequence nearly every
// vector's nearest neighbour at ef 400 is itself (21 misses in 40,000
// after the repair against 105 before it, over 10 builds).
func TestVectorIndexEveryNodeReachable(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for seed := range uint64(3) {
		vecs := clusteredVectors(4000, 32, seed+1)
		v := buildVectorIndex(t, vecs, VectorConfig{})
		seen := make([]bool, len(vecs))
		v.markReachable(seen, uint32(v.entry), nil)
		if n := len(vecs) - len(slices.DeleteFunc(seen, func(b bool) bool { return !b })); n > 0 {
			t.Errorf("seed %d: %d of %d nodes unreachable from the entry point", seed+1, n, len(vecs))
		}
		for n := range uint32(len(vecs)) {
			if !slices.ContainsFunc(v.neighbours(n, 0), func(m uint32) bool { return slices.Contains(v.neighbours(m, 0), n) }) {
				t.Errorf("seed %d: no neighbour of %s links back to it", seed+1, v.ids[n])
			}
		}
		v.SetEfSearch(400)
		var miss int
		for i, x := range vecs {
			if hits := v.Search(x, 1, nil); len(hits) != 1 || hits[0].ID != fmt.Sprint("p", i) {
				miss++
			}
		}
		if miss > len(vecs)/200 {
			t.Errorf("seed %d: %d of %d vectors are not their own nearest neighbour at ef 400", seed+1, miss, len(vecs))
		}
	}
}

func TestVectorIndexFilter(t *testing.T) {
	vecs := clusteredVectors(4000, 32, 3)
	v := buildVectorIndex(t, vecs, VectorConfig{})
	queries := nearQueries(vecs, 50, 4)
	for _, tc := range []struct {
		name   string
		accept func(string) bool
	}{
		{"half", func(id string) bool { return id[len(id)-1]%2 == 0 }}, // graph walk with raised ef
		{"selective", func(id string) bool { return len(id) == 3 }},    // p10..p99: exact scan
		{"none", func(string) bool { return false }},                   // nothing passes
	} {
		for _, q := range queries {
			for _, h := range v.Search(q, 10, tc.accept) {
				if !tc.accept(h.ID) {
					t.Fatalf("%s: hit %s does not pass the filter", tc.name, h.ID)
				}
			}
		}
		if r := recallAt(v, queries, 10, tc.accept); tc.name != "none" && r < 0.95 {
			t.Errorf("%s: filtered recall@10 = %.3f, want >= 0.95", tc.name, r)
		}
	}
	// The filter is applied inside the search: k results come back even
	// when the filter rejects the nearest neighbours.
	only := func(id string) bool { return id == "p7" || id == "p3999" }
	if got := v.Search(vecs[5], 2, only); len(got) != 2 {
		t.Errorf("filtered search returned %d hits, want 2", len(got))
	}
}

func TestVectorIndexUpdatesAndPersistence(t *testing.T) {
	vecs := clusteredVectors(1500, 16, 5)
	v := buildVectorIndex(t, vecs, VectorConfig{})
	// Replace p1 with p2's vector, delete p2.
	if err := v.Add("p1", vecs[2], 42); err != nil {
		t.Fatal(err)
	}
	v.Delete([]string{"p2", "unknown"})
	if v.Len() != 1499 {
		t.Fatalf("Len = %d, want 1499", v.Len())
	}
	if h := v.Search(vecs[2], 1, nil); len(h) != 1 || h[0].ID != "p1" {
		t.Errorf("search for p2's vector = %+v, want p1 (replaced, p2 deleted)", h)
	}
	if h, _ := v.Hash("p1"); h != 42 {
		t.Errorf("Hash(p1) = %d, want 42", h)
	}
	if err := v.Add("bad", make([]float32, 16), 0); err == nil {
		t.Error("zero vector accepted")
	}
	if err := v.Add("bad", make([]float32, 3), 0); err == nil {
		t.Error("wrong dimension accepted")
	}

	path := filepath.Join(t.TempDir(), "vectors.hnsw")
	if err := v.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	w, err := LoadVectorIndexFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Len() != v.Len() || w.Config() != v.Config() {
		t.Fatalf("loaded Len %d cfg %+v, want %d %+v", w.Len(), w.Config(), v.Len(), v.Config())
	}
	for _, q := range nearQueries(vecs, 20, 6) {
		if a, b := v.Search(q, 10, nil), w.Search(q, 10, nil); !slices.Equal(a, b) {
			t.Fatalf("loaded index answers %v, saved one %v", b, a)
		}
	}
	var buf bytes.Buffer
	if err := v.Save(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	if _, err := LoadVectorIndex(bytes.NewReader(data[:len(data)/2])); err == nil {
		t.Error("truncated file loaded without error")
	}
	if _, err := LoadVectorIndex(bytes.NewReader([]byte("nonsense"))); err == nil {
		t.Error("garbage loaded without error")
	}
}

// TestVectorCompactionAfterChurn replaces every product's text twice: the
// tombstones left behind trigger a rebuild of the graph from the live
// vectors, after which dense search still finds each product by its own
// text and no tombstone is left.
func TestVectorCompactionAfterChurn(t *testing.T) {
	ctx := context.Background()
	enc := &hashEncoder{dim: 1024}
	idx, err := NewEmbedded(Config{Encoder: enc})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1500
	mk := func(round int) []catalog.Product {
		ps := make([]catalog.Product, n)
		for i := range ps {
			ps[i] = catalog.Product{ID: fmt.Sprintf("p%d", i), Title: fmt.Sprintf("widget%d gadget%d part%d round%d", i, i, i, round)}
		}
		return ps
	}
	for round := range 3 {
		if err := idx.Upsert(ctx, mk(round)); err != nil {
			t.Fatal(err)
		}
	}
	if idx.vecCompactions == 0 {
		t.Fatalf("no vector compaction after %d replaced vectors (dead now %d)", 2*n, idx.Vectors().Dead())
	}
	if d := idx.Vectors().Dead(); d >= vectorCompactMinDead {
		t.Fatalf("%d tombstones left after compaction", d)
	}
	if got := idx.Vectors().Len(); got != n {
		t.Fatalf("compacted index holds %d live vectors, want %d", got, n)
	}
	for _, i := range []int{0, 7, 777, n - 1} {
		hits, err := idx.Search(ctx, Query{Text: fmt.Sprintf("widget%d gadget%d part%d round2", i, i, i), K: 1, Mode: ModeDense})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].Product.ID != fmt.Sprintf("p%d", i) {
			t.Fatalf("dense search for product %d after compaction: %v", i, hits)
		}
	}
	// Deleting most products compacts too.
	ids := make([]string, 0, n)
	for i := 100; i < n; i++ {
		ids = append(ids, fmt.Sprintf("p%d", i))
	}
	before := idx.vecCompactions
	if err := idx.Delete(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if idx.vecCompactions == before || idx.Vectors().Len() != 100 || idx.Vectors().Dead() != 0 {
		t.Fatalf("after deleting %d of %d: compactions %d→%d, live %d, dead %d", len(ids), n, before, idx.vecCompactions, idx.Vectors().Len(), idx.Vectors().Dead())
	}
}
