package retrieval

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
)

// VectorConfig tunes a VectorIndex. Zero values take the defaults named.
type VectorConfig struct {
	// M is the number of links per node on the upper graph layers (twice
	// that on layer 0). Default 16.
	M int
	// EfConstruction is the candidate list size while inserting. Default 100.
	EfConstruction int
	// EfSearch is the candidate list size while searching (raised to k when
	// k is larger). Default 64.
	EfSearch int
	// ExactBelow: a filtered search whose filter is estimated to pass at
	// most this many live vectors scans them exactly instead of walking the
	// graph. Default 2048.
	ExactBelow int
	// Seed seeds the level generator (0 means 1), so builds are
	// reproducible.
	Seed uint64
}

// Default HNSW parameters; on the synthetic benchmarks (BENCH_NOTES.md)
// they reach recall@10 >= 0.95 against exact search.
const (
	DefaultM              = 16
	DefaultEfConstruction = 100
	DefaultEfSearch       = 64
	DefaultExactBelow     = 2048
)

func (c VectorConfig) withDefaults() VectorConfig {
	if c.M <= 0 {
		c.M = DefaultM
	}
	if c.EfConstruction <= 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	if c.EfSearch <= 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.ExactBelow <= 0 {
		c.ExactBelow = DefaultExactBelow
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// VectorHit is one nearest neighbour: Score is the cosine similarity
// (the dot product of the normalised vectors), best first.
type VectorHit struct {
	ID    string
	Score float32
}

// VectorIndex is an HNSW graph (Malkov & Yashunin) over L2-normalised
// float32 vectors keyed by string IDs, scored by cosine similarity. It is
// safe for concurrent use: searches share a read lock, Add and Delete take
// the write lock. Replacing or deleting an ID tombstones its node; searches
// walk through tombstones but never return them.
type VectorIndex struct {
	cfg      VectorConfig
	dim      int
	mu       sync.RWMutex
	vecs     []float32 // node i at [i*dim, (i+1)*dim)
	ids      []string
	hashes   []uint64 // caller-supplied content hash per node (0 unknown)
	dead     []bool
	levels   []uint8
	links0   []uint32   // node i: [count, up to 2M neighbours] at i*(2M+1)
	upper    [][]uint32 // node i with level L > 0: L blocks of [count, M neighbours]
	byID     map[string]uint32
	entry    int32 // -1 when empty
	maxLevel int
	live     int
	version  uint64 // bumped by every change (AddBatch, Delete)
	rng      *rand.Rand
	// nodeMu guards a node's links during parallel insertion.
	nodeMu  []sync.Mutex
	scratch sync.Pool // *vecScratch
}

// NewVectorIndex returns an empty index of dim-dimensional vectors.
func NewVectorIndex(dim int, cfg VectorConfig) (*VectorIndex, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("retrieval: vector dimension %d must be > 0", dim)
	}
	cfg = cfg.withDefaults()
	if cfg.M > 255 {
		return nil, fmt.Errorf("retrieval: HNSW M %d must be <= 255", cfg.M)
	}
	return &VectorIndex{
		cfg:   cfg,
		dim:   dim,
		byID:  make(map[string]uint32),
		entry: -1,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
	}, nil
}

// Dim is the vector dimension.
func (v *VectorIndex) Dim() int { return v.dim }

// Config is the effective configuration.
func (v *VectorIndex) Config() VectorConfig { return v.cfg }

// SetEfSearch changes the search candidate list size (benchmarks sweep it).
func (v *VectorIndex) SetEfSearch(ef int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ef > 0 {
		v.cfg.EfSearch = ef
	}
}

// Len is the number of live vectors.
func (v *VectorIndex) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.live
}

// Hash returns the content hash stored with id's vector.
func (v *VectorIndex) Hash(id string) (uint64, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n, ok := v.byID[id]
	if !ok {
		return 0, false
	}
	return v.hashes[n], true
}

// Vector returns a copy of id's (normalised) vector.
func (v *VectorIndex) Vector(id string) ([]float32, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n, ok := v.byID[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(v.vec(n)), true
}

func (v *VectorIndex) vec(n uint32) []float32 {
	return v.vecs[int(n)*v.dim : (int(n)+1)*v.dim : (int(n)+1)*v.dim]
}

// Add inserts or replaces one vector; see AddBatch.
func (v *VectorIndex) Add(id string, vec []float32, hash uint64) error {
	return v.AddBatch([]string{id}, [][]float32{vec}, []uint64{hash})
}

// AddBatch inserts or replaces vectors (normalising a copy of each) with
// their content hashes (hashes may be nil). An ID stored with the same
// non-zero hash is left as it is. Within one call a later duplicate ID
// wins. Insertion runs on up to GOMAXPROCS goroutines, followed by
// relinkStranded when it ran on more than one; searches wait for the
// batch. Every vector is checked before anything changes.
func (v *VectorIndex) AddBatch(ids []string, vecs [][]float32, hashes []uint64) error {
	if len(ids) != len(vecs) || (hashes != nil && len(hashes) != len(ids)) {
		return errors.New("retrieval: AddBatch: ids, vectors and hashes differ in length")
	}
	for i, x := range vecs {
		if len(x) != v.dim {
			return fmt.Errorf("retrieval: vector %q has %d dimensions, index has %d", ids[i], len(x), v.dim)
		}
		if norm(x) == 0 || math.IsNaN(float64(norm(x))) || math.IsInf(float64(norm(x)), 0) {
			return fmt.Errorf("retrieval: vector %q has zero or non-finite norm", ids[i])
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	last := make(map[string]int, len(ids))
	for i, id := range ids {
		last[id] = i
	}
	first := uint32(len(v.ids))
	for i, id := range ids {
		if last[id] != i {
			continue
		}
		old, ok := v.byID[id]
		if ok && hashes != nil && hashes[i] != 0 && hashes[i] == v.hashes[old] {
			continue // same content hash: keep the node already in the graph
		}
		if ok {
			v.dead[old] = true
			v.live--
		}
		n := uint32(len(v.ids))
		v.ids = append(v.ids, id)
		var h uint64
		if hashes != nil {
			h = hashes[i]
		}
		v.hashes = append(v.hashes, h)
		v.dead = append(v.dead, false)
		x := vecs[i]
		inv := 1 / norm(x)
		for _, f := range x {
			v.vecs = append(v.vecs, f*inv)
		}
		lvl := v.randomLevel()
		v.levels = append(v.levels, uint8(lvl))
		v.links0 = append(v.links0, make([]uint32, 2*v.cfg.M+1)...)
		var up []uint32
		if lvl > 0 {
			up = make([]uint32, lvl*(v.cfg.M+1))
		}
		v.upper = append(v.upper, up)
		v.byID[id] = n
		v.live++
	}
	end := uint32(len(v.ids))
	if first != end {
		v.version++
	}
	if cap(v.nodeMu) < int(end) {
		v.nodeMu = make([]sync.Mutex, end, end+end/4)
	} else {
		v.nodeMu = v.nodeMu[:end]
	}
	if first == end {
		return nil
	}
	start := first
	if v.entry < 0 {
		v.entry = int32(first)
		v.maxLevel = int(v.levels[first])
		start++
	}
	workers := min(runtime.GOMAXPROCS(0), int(end-start))
	if workers <= 1 {
		for n := start; n < end; n++ {
			v.insert(n)
		}
		return nil
	}
	var next sync.Mutex
	cur := start
	var wg sync.WaitGroup
	var entryMu sync.Mutex
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				n := cur
				cur++
				next.Unlock()
				if n >= end {
					return
				}
				v.insertParallel(n, &entryMu)
			}
		})
	}
	wg.Wait()
	v.relinkStranded()
	return nil
}

// relinkStranded repairs what parallel insertion leaves behind in the
// bottom layer, where every search ends, and returns how many links it
// added. Nodes inserted at the same time do not see each other, so a node's
// in-links from its own neighbours can all be pruned away by neighbours
// that meanwhile gained closer nodes. On 4,000 clustered test vectors that
// left 3–21 nodes no search could reach, and about 1 in 400 that a search
// with ef = 400 did not find (1 in 1,900 after this repair). Sequential
// insertion left none.
//
// Each pass links a node into its nearest neighbour's list (displacing
// that list's farthest entry when full) when none of its own neighbours
// links back to it. It then links every node that the bottom layer cannot
// reach from the entry point into its two nearest reachable nodes. A
// displaced entry may need a link in turn, so the passes repeat until one
// adds nothing (at most 8). The caller holds the write lock. A pass costs
// O(N·M²) integer compares and O(N·M) for the walk, small beside the batch
// that preceded it.
func (v *VectorIndex) relinkStranded() int {
	n := len(v.ids)
	if v.entry < 0 || n < 2 {
		return 0
	}
	s := v.getScratch()
	defer v.scratch.Put(s)
	s.locked = false
	seen := make([]bool, n)
	var stack []uint32
	total := 0
	for range 8 {
		linked := 0
		for u := range uint32(n) {
			nb := v.neighbours(u, 0)
			if len(nb) == 0 {
				continue
			}
			back := false
			for _, m := range nb {
				if slices.Contains(v.neighbours(m, 0), u) {
					back = true
					break
				}
			}
			if !back {
				v.linkInto(nb[0], u)
				linked++
			}
		}
		clear(seen)
		stack = v.markReachable(seen, uint32(v.entry), stack)
		for u := range uint32(n) {
			if seen[u] {
				continue
			}
			q := v.vec(u)
			ep := uint32(v.entry)
			epDist := v.dist(q, ep)
			for l := v.maxLevel; l > 0; l-- {
				ep, epDist = v.greedy(s, q, ep, epDist, l)
			}
			// The beam meets only reachable nodes, so u is not among them.
			cands := v.searchLayer(s, q, ep, epDist, v.cfg.EfConstruction, 0, nil)
			for _, c := range cands[:min(2, len(cands))] {
				v.linkInto(c.node, u)
				linked++
			}
			stack = v.markReachable(seen, u, stack)
		}
		total += linked
		if linked == 0 {
			break
		}
	}
	return total
}

// markReachable sets seen for from and every node the bottom layer reaches
// from it, not walking on from nodes already seen. stack is scratch space,
// returned for reuse.
func (v *VectorIndex) markReachable(seen []bool, from uint32, stack []uint32) []uint32 {
	seen[from] = true
	stack = append(stack[:0], from)
	for len(stack) > 0 {
		m := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, o := range v.neighbours(m, 0) {
			if !seen[o] {
				seen[o] = true
				stack = append(stack, o)
			}
		}
	}
	return stack
}

// linkInto adds u to m's bottom-layer list, in place of m's farthest
// neighbour when the list is full.
func (v *VectorIndex) linkInto(m, u uint32) {
	nb := v.neighbours(m, 0)
	if len(nb) < v.maxLinks(0) {
		v.appendNeighbour(m, 0, u)
		return
	}
	mv := v.vec(m)
	far, farDist := 0, float32(-1)
	for i, o := range nb {
		if d := v.dist(mv, o); d > farDist {
			far, farDist = i, d
		}
	}
	nb[far] = u
}

func (v *VectorIndex) randomLevel() int {
	ml := 1 / math.Log(float64(v.cfg.M))
	l := int(-math.Log(1-v.rng.Float64()) * ml)
	return min(l, 16)
}

// Delete tombstones the vectors of these IDs; unknown IDs are ignored.
func (v *VectorIndex) Delete(ids []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		if n, ok := v.byID[id]; ok {
			v.dead[n] = true
			delete(v.byID, id)
			v.live--
			v.version++
		}
	}
}

// Dead is the number of tombstoned nodes still in the graph.
func (v *VectorIndex) Dead() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.ids) - v.live
}

// Version changes whenever AddBatch or Delete changes the index.
func (v *VectorIndex) Version() uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.version
}

// Compacted returns a new index with the same configuration holding only
// the live vectors and their hashes, rebuilt into a fresh graph, and the
// Version of v it was copied at. The copy is taken under the read lock;
// the build runs without holding v's locks, so searches and writes go on
// meanwhile (compare Version to see whether v changed since).
func (v *VectorIndex) Compacted() (*VectorIndex, uint64, error) {
	v.mu.RLock()
	version := v.version
	ids := make([]string, 0, v.live)
	vecs := make([][]float32, 0, v.live)
	hashes := make([]uint64, 0, v.live)
	for n, id := range v.ids {
		if v.dead[n] {
			continue
		}
		ids = append(ids, id)
		vecs = append(vecs, slices.Clone(v.vec(uint32(n))))
		hashes = append(hashes, v.hashes[n])
	}
	v.mu.RUnlock()
	nv, err := NewVectorIndex(v.dim, v.cfg)
	if err != nil {
		return nil, 0, err
	}
	if err := nv.AddBatch(ids, vecs, hashes); err != nil {
		return nil, 0, err
	}
	return nv, version, nil
}

// neighbours returns node n's link list at level l (backed by the index).
func (v *VectorIndex) neighbours(n uint32, l int) []uint32 {
	if l == 0 {
		s := int(n) * (2*v.cfg.M + 1)
		return v.links0[s+1 : s+1+int(v.links0[s])]
	}
	s := (l - 1) * (v.cfg.M + 1)
	b := v.upper[n]
	return b[s+1 : s+1+int(b[s])]
}

func (v *VectorIndex) setNeighbours(n uint32, l int, nb []uint32) {
	if l == 0 {
		s := int(n) * (2*v.cfg.M + 1)
		v.links0[s] = uint32(len(nb))
		copy(v.links0[s+1:], nb)
		return
	}
	s := (l - 1) * (v.cfg.M + 1)
	b := v.upper[n]
	b[s] = uint32(len(nb))
	copy(b[s+1:], nb)
}

// appendNeighbour adds n to m's list at level l, which has room.
func (v *VectorIndex) appendNeighbour(m uint32, l int, n uint32) {
	var b []uint32
	var s int
	if l == 0 {
		b, s = v.links0, int(m)*(2*v.cfg.M+1)
	} else {
		b, s = v.upper[m], (l-1)*(v.cfg.M+1)
	}
	b[s+1+int(b[s])] = n
	b[s]++
}

func (v *VectorIndex) maxLinks(l int) int {
	if l == 0 {
		return 2 * v.cfg.M
	}
	return v.cfg.M
}

// insert links node n into the graph (single-threaded).
func (v *VectorIndex) insert(n uint32) {
	v.insertParallel(n, nil)
}

// insertParallel links node n into the graph. With entryMu set it runs
// beside other insertions: link lists are read and written under nodeMu.
func (v *VectorIndex) insertParallel(n uint32, entryMu *sync.Mutex) {
	s := v.getScratch()
	defer v.scratch.Put(s)
	s.locked = entryMu != nil
	lvl := int(v.levels[n])
	if entryMu != nil {
		entryMu.Lock()
	}
	ep := uint32(v.entry)
	top := v.maxLevel
	if entryMu != nil {
		entryMu.Unlock()
	}
	q := v.vec(n)
	epDist := v.dist(q, ep)
	for l := top; l > lvl; l-- {
		ep, epDist = v.greedy(s, q, ep, epDist, l)
	}
	for l := min(lvl, top); l >= 0; l-- {
		cands := v.searchLayer(s, q, ep, epDist, v.cfg.EfConstruction, l, nil)
		// Copy: connect reuses the selection scratch.
		sel := append(s.conn[:0], v.selectNeighbours(s, cands, v.maxLinks(l), n)...)
		s.conn = sel
		v.lockNode(s, n)
		v.setNeighbours(n, l, sel)
		v.unlockNode(s, n)
		for _, m := range sel {
			v.connect(s, m, n, l)
		}
		ep, epDist = cands[0].node, cands[0].dist
	}
	if lvl > top && entryMu != nil {
		entryMu.Lock()
		if lvl > v.maxLevel {
			v.maxLevel, v.entry = lvl, int32(n)
		}
		entryMu.Unlock()
	} else if lvl > top {
		v.maxLevel, v.entry = lvl, int32(n)
	}
}

func (v *VectorIndex) lockNode(s *vecScratch, n uint32) {
	if s.locked {
		v.nodeMu[n].Lock()
	}
}

func (v *VectorIndex) unlockNode(s *vecScratch, n uint32) {
	if s.locked {
		v.nodeMu[n].Unlock()
	}
}

// connect adds a link m → n at level l, pruning m's list with the
// neighbour-selection heuristic when it is full.
func (v *VectorIndex) connect(s *vecScratch, m, n uint32, l int) {
	v.lockNode(s, m)
	defer v.unlockNode(s, m)
	nb := v.neighbours(m, l)
	if slices.Contains(nb, n) {
		return
	}
	if len(nb) < v.maxLinks(l) {
		v.appendNeighbour(m, l, n)
		return
	}
	mv := v.vec(m)
	dn := v.dist(mv, n)
	cs := s.prune[:0]
	farthest := float32(-1)
	for _, o := range nb {
		d := v.dist(mv, o)
		farthest = max(farthest, d)
		cs = append(cs, distNode{node: o, dist: d})
	}
	if dn >= farthest {
		// n would be pruned first anyway: skip the O(M²) heuristic,
		// which dominates build time once lists are full.
		s.prune = cs
		return
	}
	cs = append(cs, distNode{node: n, dist: dn})
	slices.SortFunc(cs, cmpDist)
	s.prune = cs
	sel := v.selectNeighbours(s, cs, v.maxLinks(l), m)
	v.setNeighbours(m, l, sel)
}

// selectNeighbours applies the HNSW heuristic to candidates sorted by
// distance: keep a candidate only if it is closer to the base than to any
// kept one (this keeps links spread across clusters), then fill up with the
// nearest skipped ones. Returns scratch-backed memory.
func (v *VectorIndex) selectNeighbours(s *vecScratch, cands []distNode, m int, self uint32) []uint32 {
	out := s.sel[:0]
	skipped := s.skip[:0]
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		if c.node == self {
			continue
		}
		good := true
		cv := v.vec(c.node)
		for _, r := range out {
			if v.dist(cv, r) < c.dist {
				good = false
				break
			}
		}
		if good {
			out = append(out, c.node)
		} else {
			skipped = append(skipped, c.node)
		}
	}
	for _, c := range skipped {
		if len(out) >= m {
			break
		}
		out = append(out, c)
	}
	s.sel, s.skip = out, skipped
	return out
}

// greedy walks level l towards q from ep, one best neighbour at a time.
func (v *VectorIndex) greedy(s *vecScratch, q []float32, ep uint32, epDist float32, l int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		v.lockNode(s, ep)
		nb := append(s.nb[:0], v.neighbours(ep, l)...)
		v.unlockNode(s, ep)
		s.nb = nb
		for _, c := range nb {
			if d := v.dist(q, c); d < epDist {
				ep, epDist, changed = c, d, true
			}
		}
	}
	return ep, epDist
}

// searchLayer is the beam search of HNSW at level l with ef candidates.
// accept, when set, decides which nodes may enter the results (the walk
// still goes through rejected ones). It returns up to ef nodes sorted by
// distance, scratch-backed.
func (v *VectorIndex) searchLayer(s *vecScratch, q []float32, ep uint32, epDist float32, ef, l int, accept func(uint32) bool) []distNode {
	s.visit(len(v.ids))
	s.mark(ep)
	cand := s.cand[:0] // min-heap by distance
	res := s.res[:0]   // max-heap by distance
	cand = pushMin(cand, distNode{ep, epDist})
	if accept == nil || accept(ep) {
		res = pushMax(res, distNode{ep, epDist})
	}
	for len(cand) > 0 {
		c := cand[0]
		cand = popMin(cand)
		if len(res) >= ef && c.dist > res[0].dist {
			break
		}
		v.lockNode(s, c.node)
		nb := append(s.nb[:0], v.neighbours(c.node, l)...)
		v.unlockNode(s, c.node)
		s.nb = nb
		for _, o := range nb {
			if s.seen(o) {
				continue
			}
			s.mark(o)
			d := v.dist(q, o)
			if len(res) < ef || d < res[0].dist {
				cand = pushMin(cand, distNode{o, d})
				if accept == nil || accept(o) {
					res = pushMax(res, distNode{o, d})
					if len(res) > ef {
						res = popMax(res)
					}
				}
			}
		}
	}
	slices.SortFunc(res, cmpDist)
	s.cand, s.res = cand, res
	return res
}

// Search returns up to k live vectors nearest to q (normalised here), best
// first. accept, when not nil, keeps only IDs it returns true for, applied
// during the search: the graph walk passes through rejected nodes but only
// accepted ones fill the k results.
//
// How a filtered search runs: it estimates the filter's pass rate on up to
// 256 live nodes spread over the index. When the estimated number of passing
// vectors is at most ExactBelow (or the index holds at most ExactBelow
// vectors) it scans every node exactly — a selective filter would starve
// the graph walk of accepted nodes. Otherwise it walks the graph with ef
// raised to EfSearch / passRate (capped at 20×) so about EfSearch accepted
// nodes are kept. An unfiltered search of an index of at most
// ExactBelow/4 vectors is exact as well (cheaper than the walk there).
func (v *VectorIndex) Search(q []float32, k int, accept func(id string) bool) []VectorHit {
	if k <= 0 {
		k = 10
	}
	qn := normalized(q)
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.live == 0 || len(qn) != v.dim {
		return nil
	}
	ok := func(n uint32) bool { return !v.dead[n] && (accept == nil || accept(v.ids[n])) }
	ef := max(v.cfg.EfSearch, k)
	if accept != nil {
		rate := v.passRate(ok)
		if float64(v.live)*rate <= float64(v.cfg.ExactBelow) || v.live <= v.cfg.ExactBelow {
			return v.exactLocked(qn, k, ok)
		}
		ef = int(math.Min(float64(ef)/rate, float64(ef*20)))
	} else if v.live <= v.cfg.ExactBelow/4 {
		return v.exactLocked(qn, k, ok)
	}
	s := v.getScratch()
	defer v.scratch.Put(s)
	s.locked = false
	ep := uint32(v.entry)
	epDist := v.dist(qn, ep)
	for l := v.maxLevel; l > 0; l-- {
		ep, epDist = v.greedy(s, qn, ep, epDist, l)
	}
	res := v.searchLayer(s, qn, ep, epDist, ef, 0, ok)
	hits := make([]VectorHit, 0, min(k, len(res)))
	for _, r := range res[:min(k, len(res))] {
		hits = append(hits, VectorHit{ID: v.ids[r.node], Score: 1 - r.dist})
	}
	return hits
}

// passRate estimates the share of live nodes ok accepts from a sample.
func (v *VectorIndex) passRate(ok func(uint32) bool) float64 {
	const sample = 256
	n := len(v.ids)
	step := max(n/sample, 1)
	var seen, pass int
	for i := 0; i < n && seen < sample; i += step {
		if v.dead[i] {
			continue
		}
		seen++
		if ok(uint32(i)) {
			pass++
		}
	}
	if seen == 0 {
		return 0
	}
	return float64(pass) / float64(seen)
}

// Exact returns the k live vectors nearest to q by a full scan (the recall
// reference), with the same accept semantics as Search.
func (v *VectorIndex) Exact(q []float32, k int, accept func(id string) bool) []VectorHit {
	if k <= 0 {
		k = 10
	}
	qn := normalized(q)
	v.mu.RLock()
	defer v.mu.RUnlock()
	if len(qn) != v.dim {
		return nil
	}
	return v.exactLocked(qn, k, func(n uint32) bool { return !v.dead[n] && (accept == nil || accept(v.ids[n])) })
}

func (v *VectorIndex) exactLocked(q []float32, k int, ok func(uint32) bool) []VectorHit {
	h := make([]distNode, 0, k+1) // max-heap of the best k
	for n := range uint32(len(v.ids)) {
		if !ok(n) {
			continue
		}
		d := v.dist(q, n)
		if len(h) < k {
			h = pushMax(h, distNode{n, d})
		} else if d < h[0].dist || (d == h[0].dist && n < h[0].node) {
			h[0] = distNode{n, d}
			siftDownMax(h, 0)
		}
	}
	slices.SortFunc(h, cmpDist)
	hits := make([]VectorHit, len(h))
	for i, r := range h {
		hits[i] = VectorHit{ID: v.ids[r.node], Score: 1 - r.dist}
	}
	return hits
}

func (v *VectorIndex) dist(q []float32, n uint32) float32 {
	return 1 - dot(q, v.vec(n))
}

// dotGeneric is the portable inner product, unrolled by 4 with independent
// accumulators.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func norm(x []float32) float32 { return float32(math.Sqrt(float64(dot(x, x)))) }

// normalized returns x scaled to unit length (x itself when already so or
// when zero).
func normalized(x []float32) []float32 {
	n := norm(x)
	if n == 0 || math.Abs(float64(n)-1) < 1e-6 {
		return x
	}
	out := make([]float32, len(x))
	for i, f := range x {
		out[i] = f / n
	}
	return out
}

type distNode struct {
	node uint32
	dist float32
}

func cmpDist(a, b distNode) int {
	switch {
	case a.dist < b.dist:
		return -1
	case a.dist > b.dist:
		return 1
	case a.node < b.node:
		return -1
	case a.node > b.node:
		return 1
	}
	return 0
}

func pushMin(h []distNode, x distNode) []distNode {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].dist <= h[i].dist {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func popMin(h []distNode) []distNode {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].dist < h[l].dist {
			m = r
		}
		if h[m].dist >= h[i].dist {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return h
}

// max-heap ordering: larger distance (then larger node) on top.
func aboveMax(a, b distNode) bool {
	return a.dist > b.dist || (a.dist == b.dist && a.node > b.node)
}

func pushMax(h []distNode, x distNode) []distNode {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !aboveMax(h[i], h[p]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func popMax(h []distNode) []distNode {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	siftDownMax(h, 0)
	return h
}

func siftDownMax(h []distNode, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && aboveMax(h[r], h[l]) {
			m = r
		}
		if !aboveMax(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// vecScratch is per-search working memory: a generation-stamped visited
// set and the heaps.
type vecScratch struct {
	stamp     []uint32
	gen       uint32
	cand, res []distNode
	prune     []distNode
	nb        []uint32
	sel, skip []uint32
	conn      []uint32
	locked    bool
}

func (v *VectorIndex) getScratch() *vecScratch {
	s, _ := v.scratch.Get().(*vecScratch)
	if s == nil {
		s = new(vecScratch)
	}
	return s
}

func (s *vecScratch) visit(n int) {
	if len(s.stamp) < n {
		s.stamp = make([]uint32, n+n/4)
		s.gen = 0
	}
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
}

func (s *vecScratch) mark(n uint32)      { s.stamp[n] = s.gen }
func (s *vecScratch) seen(n uint32) bool { return s.stamp[n] == s.gen }

// File format (little-endian): magic "SAHNSW1\n", then uint32 dim, M,
// efConstruction, efSearch, exactBelow, node count, max level, int32
// entry; per node: uint16 ID length, ID bytes, uint64 hash, uint8 dead,
// uint8 level; then all vectors (float32), links0 (uint32), and for each
// node with level > 0 its upper link blocks (uint32).
const vectorMagic = "SAHNSW1\n"

// Save writes the index to w (see LoadVectorIndex).
func (v *VectorIndex) Save(w io.Writer) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	bw := bufio.NewWriterSize(w, 1<<20)
	le := binary.LittleEndian
	var b [8]byte
	u32 := func(x uint32) { le.PutUint32(b[:4], x); bw.Write(b[:4]) }
	bw.WriteString(vectorMagic)
	for _, x := range []int{v.dim, v.cfg.M, v.cfg.EfConstruction, v.cfg.EfSearch, v.cfg.ExactBelow, len(v.ids), v.maxLevel} {
		u32(uint32(x))
	}
	u32(uint32(v.entry))
	for i, id := range v.ids {
		if len(id) > math.MaxUint16 {
			return fmt.Errorf("retrieval: save vectors: ID of %d bytes is too long", len(id))
		}
		le.PutUint16(b[:2], uint16(len(id)))
		bw.Write(b[:2])
		bw.WriteString(id)
		le.PutUint64(b[:], v.hashes[i])
		bw.Write(b[:])
		var d byte
		if v.dead[i] {
			d = 1
		}
		bw.WriteByte(d)
		bw.WriteByte(v.levels[i])
	}
	buf := make([]byte, 0, 1<<16)
	flush := func() { bw.Write(buf); buf = buf[:0] }
	for _, f := range v.vecs {
		buf = le.AppendUint32(buf, math.Float32bits(f))
		if len(buf) >= 1<<16-4 {
			flush()
		}
	}
	writeU32s := func(xs []uint32) {
		for _, x := range xs {
			buf = le.AppendUint32(buf, x)
			if len(buf) >= 1<<16-4 {
				flush()
			}
		}
	}
	writeU32s(v.links0)
	for _, up := range v.upper {
		writeU32s(up)
	}
	flush()
	return bw.Flush()
}

// SaveFile writes the index to path atomically (temp file + rename).
func (v *VectorIndex) SaveFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".vectors-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := v.Save(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// LoadVectorIndexFile reads a file written by SaveFile.
func LoadVectorIndexFile(path string) (*VectorIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v, err := LoadVectorIndex(f)
	if err != nil {
		return nil, fmt.Errorf("retrieval: %s: %w", path, err)
	}
	return v, nil
}

// LoadVectorIndex reads an index written by Save.
func LoadVectorIndex(r io.Reader) (*VectorIndex, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	le := binary.LittleEndian
	magic := make([]byte, len(vectorMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != vectorMagic {
		return nil, errors.New("not a vector index file")
	}
	var hdr [8]uint32
	var b [8]byte
	for i := range hdr {
		if _, err := io.ReadFull(br, b[:4]); err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		hdr[i] = le.Uint32(b[:4])
	}
	cfg := VectorConfig{M: int(hdr[1]), EfConstruction: int(hdr[2]), EfSearch: int(hdr[3]), ExactBelow: int(hdr[4])}
	v, err := NewVectorIndex(int(hdr[0]), cfg)
	if err != nil {
		return nil, err
	}
	n := int(hdr[5])
	if n > 1<<31 || int64(n)*int64(v.dim) > 1<<34 {
		return nil, fmt.Errorf("implausible size: %d nodes of %d dimensions", n, v.dim)
	}
	v.maxLevel, v.entry = int(hdr[6]), int32(hdr[7])
	v.ids = make([]string, n)
	v.hashes = make([]uint64, n)
	v.dead = make([]bool, n)
	v.levels = make([]uint8, n)
	for i := range n {
		if _, err := io.ReadFull(br, b[:2]); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		id := make([]byte, le.Uint16(b[:2]))
		if _, err := io.ReadFull(br, id); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		v.ids[i] = string(id)
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		v.hashes[i] = le.Uint64(b[:])
		if _, err := io.ReadFull(br, b[:2]); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		v.dead[i] = b[0] == 1
		v.levels[i] = b[1]
		if int(b[1]) > v.maxLevel {
			return nil, fmt.Errorf("node %d: level %d above max level %d", i, b[1], v.maxLevel)
		}
		if !v.dead[i] {
			v.byID[v.ids[i]] = uint32(i)
			v.live++
		}
	}
	readU32s := func(dst []uint32) error {
		buf := make([]byte, 1<<16)
		for len(dst) > 0 {
			m := min(len(dst), len(buf)/4)
			if _, err := io.ReadFull(br, buf[:m*4]); err != nil {
				return err
			}
			for i := range m {
				dst[i] = le.Uint32(buf[i*4:])
			}
			dst = dst[m:]
		}
		return nil
	}
	raw := make([]uint32, n*v.dim)
	if err := readU32s(raw); err != nil {
		return nil, fmt.Errorf("vectors: %w", err)
	}
	v.vecs = make([]float32, len(raw))
	for i, x := range raw {
		v.vecs[i] = math.Float32frombits(x)
	}
	v.links0 = make([]uint32, n*(2*v.cfg.M+1))
	if err := readU32s(v.links0); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	v.upper = make([][]uint32, n)
	for i, l := range v.levels {
		if l > 0 {
			v.upper[i] = make([]uint32, int(l)*(v.cfg.M+1))
			if err := readU32s(v.upper[i]); err != nil {
				return nil, fmt.Errorf("links: %w", err)
			}
		}
	}
	// Validate link targets so a corrupt file cannot make searches panic.
	check := func(xs []uint32, stride, maxc int) error {
		for s := 0; s < len(xs); s += stride {
			c := int(xs[s])
			if c > maxc {
				return fmt.Errorf("corrupt link count %d", c)
			}
			for _, t := range xs[s+1 : s+1+c] {
				if int(t) >= n {
					return fmt.Errorf("corrupt link target %d", t)
				}
			}
		}
		return nil
	}
	if err := check(v.links0, 2*v.cfg.M+1, 2*v.cfg.M); err != nil {
		return nil, err
	}
	for _, up := range v.upper {
		if err := check(up, v.cfg.M+1, v.cfg.M); err != nil {
			return nil, err
		}
	}
	if n > 0 && (v.entry < 0 || int(v.entry) >= n) {
		return nil, fmt.Errorf("corrupt entry point %d", v.entry)
	}
	if n == 0 {
		v.entry = -1
	}
	v.nodeMu = make([]sync.Mutex, n)
	return v, nil
}
