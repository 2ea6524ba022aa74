package retrieval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"

	"github.com/shopassist/shopassist/catalog"
)

// ErrNoEncoder is returned for a dense or hybrid query to an index without
// an Encoder.
var ErrNoEncoder = errors.New("retrieval: dense retrieval needs an Encoder (no bi-encoder model configured)")

// initDense sets up the vector half when an Encoder is configured, loading
// cfg.VectorFile if it exists.
func (e *Embedded) initDense() error {
	if e.cfg.Encoder == nil {
		return nil
	}
	e.enc = e.cfg.Encoder
	dim := e.enc.Dim()
	if e.cfg.VectorFile != "" {
		v, err := LoadVectorIndexFile(e.cfg.VectorFile)
		switch {
		case err == nil && v.Dim() != dim:
			return fmt.Errorf("retrieval: %s holds %d-dimensional vectors but the encoder makes %d: delete it to re-embed the catalogue", e.cfg.VectorFile, v.Dim(), dim)
		case err == nil:
			e.vec = v
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	v, err := NewVectorIndex(dim, e.cfg.Vector)
	if err != nil {
		return err
	}
	e.vec = v
	return nil
}

// Vectors returns the dense index (nil without an Encoder).
func (e *Embedded) Vectors() *VectorIndex {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.vec
}

// SaveVectors writes the vector index to Config.VectorFile (a no-op
// without an Encoder or VectorFile).
func (e *Embedded) SaveVectors() error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	if e.vec == nil || e.cfg.VectorFile == "" {
		return nil
	}
	return e.vec.SaveFile(e.cfg.VectorFile)
}

// Vector compaction: replaced and deleted products leave tombstoned nodes
// in the HNSW graph, which searches still walk. When they outnumber
// vectorCompactRatio × the live vectors (and at least vectorCompactMinDead),
// the writer that noticed rebuilds the graph from the live vectors — no
// re-encoding — without blocking searches, and swaps it in unless another
// write changed the index meanwhile (then a later write retries).
const (
	vectorCompactMinDead = 1024
	vectorCompactRatio   = 0.5
)

// maybeCompactVectors compacts the vector index when tombstones dominate.
// It is called by writers after they release mu.
func (e *Embedded) maybeCompactVectors() {
	e.mu.RLock()
	v := e.vec
	e.mu.RUnlock()
	if v == nil {
		return
	}
	dead, live := v.Dead(), v.Len()
	if dead < vectorCompactMinDead || float64(dead) < vectorCompactRatio*float64(live) {
		return
	}
	if !e.vecCompacting.TryLock() {
		return // another writer is on it
	}
	defer e.vecCompacting.Unlock()
	nv, version, err := v.Compacted()
	if err != nil {
		return // only on invalid stored vectors, which AddBatch rejects
	}
	e.mu.Lock()
	if e.vec == v && v.Version() == version {
		e.vec = nv
		e.vecCompactions++
	}
	e.mu.Unlock()
}

// denseBatch is what Upsert adds to the vector index.
type denseBatch struct {
	ids    []string
	vecs   [][]float32
	hashes []uint64
}

func textHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64() | 1 // 0 means "unknown"
}

// embed encodes the products whose embedded text changed (or that are new)
// in batches of cfg.EncodeBatch and reuses stored vectors for the rest.
// Returns nil without an Encoder.
func (e *Embedded) embed(ctx context.Context, products []catalog.Product) (*denseBatch, error) {
	if e.enc == nil {
		return nil, nil
	}
	e.mu.RLock()
	vec := e.vec
	e.mu.RUnlock()
	if vec == nil {
		return nil, ErrClosed
	}
	b := &denseBatch{
		ids:    make([]string, len(products)),
		vecs:   make([][]float32, len(products)),
		hashes: make([]uint64, len(products)),
	}
	var todo []int
	var texts []string
	for i := range products {
		p := &products[i]
		text := ProductText(p)
		h := textHash(text)
		b.ids[i], b.hashes[i] = p.ID, h
		if old, ok := vec.Hash(p.ID); ok && old == h {
			if v, ok := vec.Vector(p.ID); ok {
				b.vecs[i] = v
				continue
			}
		}
		todo = append(todo, i)
		texts = append(texts, text)
	}
	for start := 0; start < len(todo); start += e.cfg.EncodeBatch {
		end := min(start+e.cfg.EncodeBatch, len(todo))
		out, err := e.enc.EncodeDocs(ctx, texts[start:end])
		if err != nil {
			return nil, fmt.Errorf("retrieval: embed products: %w", err)
		}
		if len(out) != end-start {
			return nil, fmt.Errorf("retrieval: encoder returned %d vectors for %d texts", len(out), end-start)
		}
		for j, v := range out {
			b.vecs[todo[start+j]] = v
		}
	}
	return b, nil
}

// resolveMode returns the effective mode of q for an index that has (or
// lacks) an encoder.
func resolveMode(mode string, hasEncoder bool) (string, error) {
	switch mode {
	case "":
		if hasEncoder {
			return ModeHybrid, nil
		}
		return ModeLexical, nil
	case ModeLexical:
		return mode, nil
	case ModeDense, ModeHybrid:
		if !hasEncoder {
			return "", ErrNoEncoder
		}
		return mode, nil
	}
	return "", fmt.Errorf("retrieval: unknown query mode %q (want %q, %q or %q)", mode, ModeLexical, ModeDense, ModeHybrid)
}

// Search returns up to q.K (10 when q.K <= 0) live products matching
// q.Filter, best first, found as q.Mode says. Lexical search is BM25F (see
// the package documentation); dense search embeds the query and walks the
// HNSW graph with the filter applied inside the walk (VectorIndex.Search);
// hybrid runs both Config.Candidates deep and fuses them by reciprocal
// rank (FuseWeighted, the dense list weighted by Config.DenseWeight), so
// Score is a fused score, not BM25.
func (e *Embedded) Search(ctx context.Context, q Query) ([]Hit, error) {
	mode, err := resolveMode(q.Mode, e.enc != nil)
	if err != nil {
		return nil, err
	}
	k := q.K
	if k <= 0 {
		k = 10
	}
	switch mode {
	case ModeLexical:
		return e.searchLexical(ctx, q)
	case ModeDense:
		return e.searchDense(ctx, q.Text, k, q.Filter)
	}
	n := max(k, e.cfg.Candidates)
	lq := q
	lq.K = n
	lex, err := e.searchLexical(ctx, lq)
	if err != nil {
		return nil, err
	}
	dense, err := e.searchDense(ctx, q.Text, n, q.Filter)
	if err != nil {
		return nil, err
	}
	return FuseWeighted(k, e.cfg.RRFK, []float64{1, e.cfg.DenseWeight}, lex, dense), nil
}

// searchDense embeds text and returns the k nearest live products passing
// f.
func (e *Embedded) searchDense(ctx context.Context, text string, k int, f Filter) ([]Hit, error) {
	qv, err := e.enc.EncodeQuery(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("retrieval: encode query: %w", err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	cf, ok := e.compileFilter(f)
	if !ok || e.live == 0 {
		return nil, nil
	}
	var accept func(string) bool
	if cf.any {
		accept = func(id string) bool {
			slot, ok := e.byID[id]
			return ok && cf.match(&e.docs[slot])
		}
	}
	vh := e.vec.Search(qv, k, accept)
	hits := make([]Hit, 0, len(vh))
	for _, h := range vh {
		if slot, ok := e.byID[h.ID]; ok {
			hits = append(hits, Hit{Product: e.docs[slot].product, Score: float64(h.Score)})
		}
	}
	return hits, nil
}

// Fuse merges ranked hit lists by reciprocal rank fusion: a product's score
// is the sum over lists of 1/(rrfK + rank), rank counted from 1; it keeps
// the best k, ties broken by the order of first appearance (earlier lists
// first). Hits are matched by product ID.
func Fuse(k int, rrfK float64, lists ...[]Hit) []Hit {
	return FuseWeighted(k, rrfK, nil, lists...)
}

// FuseWeighted is Fuse with list i's contributions multiplied by
// weights[i] (1 where weights is shorter).
func FuseWeighted(k int, rrfK float64, weights []float64, lists ...[]Hit) []Hit {
	type acc struct {
		hit   Hit
		score float64
		order int
	}
	byID := map[string]*acc{}
	var all []*acc
	for li, l := range lists {
		w := 1.0
		if li < len(weights) {
			w = weights[li]
		}
		for r, h := range l {
			a := byID[h.Product.ID]
			if a == nil {
				a = &acc{hit: h, order: len(all)}
				byID[h.Product.ID] = a
				all = append(all, a)
			}
			a.score += w / (rrfK + float64(r+1))
		}
	}
	sortAcc := func(x, y *acc) int {
		switch {
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		return x.order - y.order
	}
	slices.SortFunc(all, sortAcc)
	out := make([]Hit, 0, min(k, len(all)))
	for _, a := range all[:min(k, len(all))] {
		out = append(out, Hit{Product: a.hit.Product, Score: a.score})
	}
	return out
}
