package retrieval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/shopassist/shopassist/catalog"
)

// ErrClosed is returned by an Index used after Close.
var ErrClosed = errors.New("retrieval: index closed")

// Searched fields, in posting order.
const (
	fieldTitle = iota
	fieldName
	fieldDescription
	fieldBrand
	// fieldAttrs holds the words of the product's text-valued attributes
	// (see attributeText): "Gaming", "Full-size tablet", "5.1 Surround
	// sound" say what many titles leave out.
	fieldAttrs
	// fieldParts holds the derived terms of every other field (segments
	// of model numbers, glued hyphen chains; see Tokenize), so they neither
	// lengthen the real fields nor weigh as much as the words themselves.
	fieldParts
	numFields
)

// defaultPartsQueryWeight is the query-side weight of derived terms, tuned
// on the dev judgments.
const defaultPartsQueryWeight = 1

// maxTF caps a term's count in one field (postings store it in a byte).
const maxTF = math.MaxUint8

// compactMinDead and compactRatio decide when tombstoned documents are
// dropped from the postings: once there are at least compactMinDead of them
// and they are more than 1/compactRatio of all slots. Compaction costs about
// as much as a rebuild of the live documents, so it is amortised over many
// deletes.
const (
	compactMinDead = 1024
	compactRatio   = 4
)

// posting is one document in a term's posting list: 8 bytes.
type posting struct {
	doc uint32
	tf  [numFields]uint8
}

// docInfo is what scoring and filtering need of one document slot.
type docInfo struct {
	product *catalog.Product
	price   int64
	brand   string   // lower-cased
	cats    []string // lower-cased category path
	lens    [numFields]float32
	alive   bool
	inStock bool // not known to be out of stock
}

// Embedded is the in-process BM25F index over product title, name,
// description, brand and attribute words. See the package documentation
// for its contract.
type Embedded struct {
	cfg     Config
	tokOpts tokenOptions
	// partsQueryWeight weighs a query's derived terms (segments, glued
	// chains) against its words.
	partsQueryWeight float32

	mu     sync.RWMutex
	closed bool
	dict   map[string]uint32 // term → term id
	terms  []termInfo        // by term id
	docs   []docInfo         // by doc slot; deleted slots are tombstoned
	byID   map[string]uint32 // product ID → live doc slot
	live   int
	dead   int
	totLen [numFields]float64 // summed field lengths of live documents
	// compactions and vecCompactions count BM25 and vector compactions
	// (for tests).
	compactions, vecCompactions int

	// Write-side scratch, used under mu held for writing.
	tok     tokenizer
	docTerm []docTerm
	slot    []int32 // term id → index+1 in docTerm for the current document

	scratch sync.Pool // *searchScratch

	// Dense half (nil without Config.Encoder): vec maps product IDs to
	// embeddings; it has its own lock, always taken after mu.
	enc Encoder
	vec *VectorIndex
	// vecCompacting is held while a compacted copy of vec is built, so
	// only one writer builds it.
	vecCompacting sync.Mutex
}

var _ Index = (*Embedded)(nil)

type termInfo struct {
	postings []posting
	df       uint32            // live documents with the term in any field
	fdf      [numFields]uint32 // live documents with the term in each field
	// attrOnly counts the live documents with the term in fieldAttrs
	// alone. BM25F's idf leaves them out (see idfDF): a word common in
	// attribute values ("black", "windows") keeps the weight it has in
	// titles and descriptions.
	attrOnly uint32
}

// idfDF is the document frequency BM25F's idf uses: documents with the
// term outside the attributes, or, for a term found only there, all.
func (t *termInfo) idfDF() uint32 {
	if t.df > t.attrOnly {
		return t.df - t.attrOnly
	}
	return t.df
}

// onlyInAttrs reports whether the term counts tf lie in fieldAttrs alone.
func onlyInAttrs(tf [numFields]uint8) bool {
	for f, c := range tf {
		if c > 0 && f != fieldAttrs {
			return false
		}
	}
	return true
}

type docTerm struct {
	id uint32
	tf [numFields]uint8
}

// NewEmbedded returns an empty embedded index tuned by cfg (cfg.Backend is
// ignored).
func NewEmbedded(cfg Config) (*Embedded, error) {
	return newEmbedded(cfg, defaultTokenOptions)
}

func newEmbedded(cfg Config, opts tokenOptions) (*Embedded, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Embedded{
		cfg:              cfg,
		tokOpts:          opts,
		partsQueryWeight: defaultPartsQueryWeight,
		dict:             make(map[string]uint32),
		byID:             make(map[string]uint32),
	}
	e.tok.opts = opts
	if err := e.initDense(); err != nil {
		return nil, err
	}
	return e, nil
}

// Len returns the number of live products.
func (e *Embedded) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.live
}

// Get returns the live product with this ID.
func (e *Embedded) Get(_ context.Context, id string) (*catalog.Product, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, false
	}
	i, ok := e.byID[id]
	if !ok {
		return nil, false
	}
	return e.docs[i].product, true
}

// Close drops the index's data; later calls fail with ErrClosed.
//
// With Config.VectorFile set, Close first saves the vector index there.
func (e *Embedded) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	var err error
	if e.vec != nil && e.cfg.VectorFile != "" {
		err = e.vec.SaveFile(e.cfg.VectorFile)
	}
	e.closed = true
	e.vec = nil
	e.dict, e.terms, e.docs, e.byID, e.docTerm, e.slot = nil, nil, nil, nil, nil, nil
	e.live, e.dead = 0, 0
	e.totLen = [numFields]float64{}
	return err
}

// Upsert adds products, replacing live products with the same ID. Each
// product is copied; later changes to the caller's slice do not affect the
// index. Products with an empty ID are rejected before anything changes.
// Within one call, a later product with the same ID wins.
func (e *Embedded) Upsert(ctx context.Context, products []catalog.Product) error {
	for i := range products {
		if products[i].ID == "" {
			return fmt.Errorf("retrieval: upsert: product %d has an empty ID", i)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Copies and embeddings are made outside the lock.
	copies := make([]catalog.Product, len(products))
	copy(copies, products)
	dense, err := e.embed(ctx, copies)
	if err != nil {
		return err
	}
	if err := e.upsertLocked(copies, dense); err != nil {
		return err
	}
	e.maybeCompactVectors()
	return nil
}

// upsertLocked applies an Upsert under the write lock.
func (e *Embedded) upsertLocked(copies []catalog.Product, dense *denseBatch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if dense != nil {
		// First, since it validates every vector before changing anything.
		if err := e.vec.AddBatch(dense.ids, dense.vecs, dense.hashes); err != nil {
			return err
		}
	}
	for i := range copies {
		p := &copies[i]
		if old, ok := e.byID[p.ID]; ok {
			e.remove(old)
		}
		e.add(p)
	}
	e.maybeCompact()
	return nil
}

// Delete removes products by ID; unknown IDs are ignored.
func (e *Embedded) Delete(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	for _, id := range ids {
		if i, ok := e.byID[id]; ok {
			e.remove(i)
		}
	}
	if e.vec != nil {
		e.vec.Delete(ids)
	}
	e.maybeCompact()
	e.mu.Unlock()
	e.maybeCompactVectors()
	return nil
}

// fieldText returns the text of field f of p.
func fieldText(p *catalog.Product, f int) string {
	switch f {
	case fieldTitle:
		return p.Title
	case fieldName:
		return p.Name
	case fieldDescription:
		return p.Description
	case fieldBrand:
		return p.Brand
	case fieldAttrs:
		return attributeText(p.Attributes)
	}
	return ""
}

// attributeText joins, in key order, the attribute values that are words
// rather than measures or flags (isWordValue): "Gaming" and "Wi-Fi 5
// (802.11ac)" are kept, "1920 x 1080", "3.5 mm" and "true" are not.
func attributeText(attrs map[string]string) string {
	if len(attrs) == 0 {
		return ""
	}
	keys := make([]string, 0, len(attrs))
	for k, v := range attrs {
		if isWordValue(v) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(attrs[k])
	}
	return b.String()
}

// isWordValue reports whether an attribute value holds a run of three or
// more letters and is not a yes/no flag.
func isWordValue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "false", "yes", "no":
		return false
	}
	run := 0
	for _, r := range v {
		if unicode.IsLetter(r) {
			if run++; run >= 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// analyze fills e.docTerm with p's distinct terms and their per-field
// counts, creating term ids as needed, and returns the field lengths.
func (e *Embedded) analyze(p *catalog.Product) (lens [numFields]float32) {
	e.docTerm = e.docTerm[:0]
	for f := range fieldParts {
		e.tok.run(fieldText(p, f), func(tok []byte, extra bool) {
			f := f
			if extra {
				if f == fieldAttrs { // attributes add words, not model-number parts
					return
				}
				f = fieldParts
			}
			lens[f]++
			id, ok := e.dict[string(tok)]
			if !ok {
				id = uint32(len(e.terms))
				e.dict[string(tok)] = id
				e.terms = append(e.terms, termInfo{})
				e.slot = append(e.slot, 0)
			}
			s := e.slot[id]
			if s == 0 {
				e.docTerm = append(e.docTerm, docTerm{id: id})
				s = int32(len(e.docTerm))
				e.slot[id] = s
			}
			if tf := &e.docTerm[s-1].tf[f]; *tf < maxTF {
				*tf++
			}
		})
	}
	for _, dt := range e.docTerm {
		e.slot[dt.id] = 0
	}
	return lens
}

// add indexes p in a new slot. Caller holds mu for writing.
func (e *Embedded) add(p *catalog.Product) {
	slot := uint32(len(e.docs))
	lens := e.analyze(p)
	for _, dt := range e.docTerm {
		t := &e.terms[dt.id]
		t.postings = append(t.postings, posting{doc: slot, tf: dt.tf})
		t.df++
		if onlyInAttrs(dt.tf) {
			t.attrOnly++
		}
		for f, tf := range dt.tf {
			if tf > 0 {
				t.fdf[f]++
			}
		}
	}
	d := docInfo{
		product: p,
		price:   p.Price,
		brand:   strings.ToLower(strings.TrimSpace(p.Brand)),
		lens:    lens,
		alive:   true,
		inStock: p.Availability != catalog.AvailabilityOutOfStock,
	}
	for _, c := range p.Category {
		d.cats = append(d.cats, strings.ToLower(strings.TrimSpace(c)))
	}
	e.docs = append(e.docs, d)
	e.byID[p.ID] = slot
	e.live++
	for f := range numFields {
		e.totLen[f] += float64(lens[f])
	}
}

// remove tombstones the live document in slot i and takes it out of the
// collection statistics. Its postings stay until compaction; Search skips
// them. Caller holds mu for writing.
func (e *Embedded) remove(i uint32) {
	d := &e.docs[i]
	lens := e.analyze(d.product)
	for _, dt := range e.docTerm {
		t := &e.terms[dt.id]
		t.df--
		if onlyInAttrs(dt.tf) {
			t.attrOnly--
		}
		for f, tf := range dt.tf {
			if tf > 0 {
				t.fdf[f]--
			}
		}
	}
	for f := range numFields {
		e.totLen[f] -= float64(lens[f])
	}
	delete(e.byID, d.product.ID)
	d.alive = false
	e.live--
	e.dead++
}

// maybeCompact drops tombstoned documents once they are numerous enough.
func (e *Embedded) maybeCompact() {
	if e.dead >= compactMinDead && e.dead*compactRatio > len(e.docs) {
		e.compact()
	}
}

// compact renumbers the live documents densely, drops dead postings and
// terms no live document uses. Caller holds mu for writing.
func (e *Embedded) compact() {
	remap := make([]uint32, len(e.docs))
	docs := make([]docInfo, 0, e.live)
	for i, d := range e.docs {
		if d.alive {
			remap[i] = uint32(len(docs))
			e.byID[d.product.ID] = uint32(len(docs))
			docs = append(docs, d)
		}
	}
	dict := make(map[string]uint32, len(e.dict))
	terms := make([]termInfo, 0, len(e.terms))
	for term, id := range e.dict {
		t := e.terms[id]
		if t.df == 0 {
			continue
		}
		ps := make([]posting, 0, t.df)
		for _, p := range t.postings {
			if e.docs[p.doc].alive {
				p.doc = remap[p.doc]
				ps = append(ps, p)
			}
		}
		t.postings = ps
		dict[term] = uint32(len(terms))
		terms = append(terms, t)
	}
	e.docs, e.dict, e.terms = docs, dict, terms
	e.slot = make([]int32, len(terms))
	e.dead = 0
	e.compactions++
	// Recompute the length sums to shed floating-point drift.
	e.totLen = [numFields]float64{}
	for _, d := range docs {
		for f := range numFields {
			e.totLen[f] += float64(d.lens[f])
		}
	}
}

// searchScratch is per-search working memory, pooled so a search allocates
// nothing proportional to the collection.
type searchScratch struct {
	// score holds each document's running score: 0 not yet seen, < 0
	// rejected by the filter, > 0 matched; matched and attrMatched, the
	// query words it matched (queryTerm.words bits) outside the attributes
	// and in them.
	score       []float32
	touched     []uint32
	heap        []scored
	terms       []queryTerm
	tok         tokenizer
	matched     []uint32
	attrMatched []uint32
}

type scored struct {
	doc   uint32
	score float32
}

type queryTerm struct {
	id  uint32
	qtf float32
	// words has bit i set when the term is the query's i-th distinct
	// word (the 32nd stands for all after it); 0 for a derived term only.
	words uint32
}

// addQueryTerm adds qtf to term id's query weight and words to its word
// bits (a term already seen as a word keeps its bits), and returns them.
func (e *Embedded) addQueryTerm(s *searchScratch, id uint32, qtf float32, words uint32) uint32 {
	for j := range s.terms {
		if t := &s.terms[j]; t.id == id {
			t.qtf += qtf
			if t.words == 0 {
				t.words = words
			}
			return t.words
		}
	}
	s.terms = append(s.terms, queryTerm{id: id, qtf: qtf, words: words})
	return words
}

// searchLexical returns up to q.K (10 when q.K <= 0) live products matching
// the query text and q.Filter by BM25F, best first; ties go to the
// earlier-indexed product. A query without any term the index knows returns
// no hits and no error.
func (e *Embedded) searchLexical(ctx context.Context, q Query) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := q.K
	if k <= 0 {
		k = 10
	}
	s, _ := e.scratch.Get().(*searchScratch)
	if s == nil {
		s = new(searchScratch)
	}
	defer e.scratch.Put(s)
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	// Look the query's terms up without allocating: map lookups keyed by
	// string(bytes) do not copy.
	s.terms = s.terms[:0]
	s.tok.opts = e.tokOpts
	nWords := 0
	s.tok.run(q.Text, func(tok []byte, extra bool) {
		id, ok := e.dict[string(tok)]
		if !ok || e.terms[id].df == 0 {
			return
		}
		if extra {
			e.addQueryTerm(s, id, e.partsQueryWeight, 0)
			return
		}
		bit := uint32(1) << min(nWords, 31)
		if e.addQueryTerm(s, id, 1, bit) == bit { // not a repeated word
			nWords++
		}
	})
	if len(s.terms) == 0 || e.live == 0 {
		return nil, nil
	}
	f, ok := e.compileFilter(q.Filter)
	if !ok {
		return nil, nil
	}
	if len(s.score) < len(e.docs) {
		s.score = make([]float32, len(e.docs)+len(e.docs)/8)
	}
	score := s.score[:len(e.docs)]
	if len(s.matched) < len(e.docs) {
		s.matched = make([]uint32, len(s.score))
	}
	matched := s.matched[:len(e.docs)]
	if len(s.attrMatched) < len(e.docs) {
		s.attrMatched = make([]uint32, len(s.score))
	}
	attrMatched := s.attrMatched[:len(e.docs)]
	// Coordination (below) needs the words each product matched; a
	// one-word query skips that bookkeeping.
	coord := nWords > 1
	touched := s.touched[:0]

	// Per-field length normalisation: tf / (alpha + beta*len).
	var alpha, beta, w [numFields]float32
	wt := e.cfg.Weights
	weights := [numFields]float64{wt.Title, wt.Name, wt.Description, wt.Brand, wt.Attributes, wt.Parts}
	n := float64(e.live)
	for fi := range numFields {
		avg := e.totLen[fi] / n
		b := e.cfg.B
		if avg <= 0 {
			b = 0
		}
		alpha[fi] = float32(1 - b)
		if b > 0 {
			beta[fi] = float32(b / avg)
		}
		w[fi] = float32(weights[fi])
	}
	k1 := float32(e.cfg.K1)
	sum := e.cfg.Scoring == ScoringSum

	for ti, qt := range s.terms {
		if ti&7 == 7 && ctx.Err() != nil {
			resetScores(s, touched)
			s.touched = touched[:0]
			return nil, ctx.Err()
		}
		t := &e.terms[qt.id]
		idf := float32(bm25IDF(n, float64(t.idfDF()))) * qt.qtf
		var fidf [numFields]float32
		if sum {
			for fi := range numFields {
				fidf[fi] = float32(bm25IDF(n, float64(t.fdf[fi]))) * qt.qtf * w[fi]
			}
		}
		for _, p := range t.postings {
			cur := score[p.doc]
			if cur < 0 {
				continue
			}
			d := &e.docs[p.doc]
			var add float32
			if sum {
				for fi, tf := range p.tf {
					if tf != 0 && fidf[fi] != 0 {
						ftf := float32(tf)
						add += fidf[fi] * ftf * (k1 + 1) / (ftf + k1*(alpha[fi]+beta[fi]*d.lens[fi]))
					}
				}
			} else {
				var tf float32
				for fi, c := range p.tf {
					if c != 0 {
						tf += w[fi] * float32(c) / (alpha[fi] + beta[fi]*d.lens[fi])
					}
				}
				if tf != 0 {
					add = idf * tf * (k1 + 1) / (k1 + tf)
				}
			}
			if add == 0 {
				continue
			}
			if cur == 0 {
				touched = append(touched, p.doc)
				if !d.alive || !f.match(d) {
					score[p.doc] = -1
					continue
				}
			}
			score[p.doc] = cur + add
			switch {
			case !coord || qt.words == 0:
			case onlyInAttrs(p.tf):
				attrMatched[p.doc] |= qt.words
			default:
				matched[p.doc] |= qt.words
			}
		}
	}
	// Top k by a min-heap on the score times the share of the query's
	// distinct words the product matches (Lucene's classic coordination
	// factor: "bluetooth speaker" ranks speakers that say Bluetooth above
	// other speakers); a word matched only in the attributes counts as
	// much as that field weighs. Ties keep the lower slot.
	attrShare := float32(min(wt.Attributes, 1))
	h := s.heap[:0]
	for _, doc := range touched {
		sc := score[doc]
		if sc <= 0 {
			continue
		}
		if coord {
			m := matched[doc]
			sc *= (float32(bits.OnesCount32(m)) + attrShare*float32(bits.OnesCount32(attrMatched[doc]&^m))) / float32(min(nWords, 32))
		}
		c := scored{doc: doc, score: sc}
		if len(h) < k {
			h = append(h, c)
			heapUp(h, len(h)-1)
		} else if worse(h[0], c) {
			h[0] = c
			heapDown(h, 0)
		}
	}
	resetScores(s, touched)
	s.touched = touched[:0]
	slices.SortFunc(h, func(a, b scored) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	hits := make([]Hit, len(h))
	for i, c := range h {
		hits[i] = Hit{Product: e.docs[c.doc].product, Score: float64(c.score)}
	}
	s.heap = h[:0]
	return hits, nil
}

// resetScores clears the scratch entries of the touched documents.
func resetScores(s *searchScratch, touched []uint32) {
	for _, d := range touched {
		s.score[d] = 0
		s.matched[d] = 0
		s.attrMatched[d] = 0
	}
}

// bm25IDF is the non-negative (Lucene) BM25 IDF.
func bm25IDF(n, df float64) float64 {
	if df <= 0 {
		return 0
	}
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// worse reports whether a ranks below b.
func worse(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.doc > b.doc
}

func heapUp(h []scored, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func heapDown(h []scored, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// compiledFilter is a Filter prepared for one search.
type compiledFilter struct {
	any                bool
	minPrice, maxPrice int64
	brands             []string
	category           string
	inStockOnly        bool
}

// compileFilter prepares f; ok is false when nothing can match.
func (e *Embedded) compileFilter(f Filter) (compiledFilter, bool) {
	c := compiledFilter{
		minPrice:    f.MinPrice,
		maxPrice:    f.MaxPrice,
		category:    strings.ToLower(strings.TrimSpace(f.Category)),
		inStockOnly: f.InStockOnly,
	}
	if f.MinPrice > 0 && f.MaxPrice > 0 && f.MinPrice > f.MaxPrice {
		return c, false
	}
	for _, b := range f.Brands {
		if b = strings.ToLower(strings.TrimSpace(b)); b != "" {
			c.brands = append(c.brands, b)
		}
	}
	if len(f.Brands) > 0 && len(c.brands) == 0 {
		return c, false
	}
	c.any = c.minPrice > 0 || c.maxPrice > 0 || len(c.brands) > 0 || c.category != "" || c.inStockOnly
	return c, true
}

// match reports whether d passes the filter. A product without a price
// (Price < 0) fails any price bound.
func (c *compiledFilter) match(d *docInfo) bool {
	if !c.any {
		return true
	}
	if c.minPrice > 0 || c.maxPrice > 0 {
		if d.price < 0 || (c.minPrice > 0 && d.price < c.minPrice) || (c.maxPrice > 0 && d.price > c.maxPrice) {
			return false
		}
	}
	if c.inStockOnly && !d.inStock {
		return false
	}
	if len(c.brands) > 0 && !slices.Contains(c.brands, d.brand) {
		return false
	}
	if c.category != "" && !slices.Contains(d.cats, c.category) {
		return false
	}
	return true
}
