package retrieval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/qdrant/go-client/qdrant"

	"github.com/shopassist/shopassist/catalog"
)

// Payload fields the Qdrant backend stores with each point. Brand and
// category values are lower-cased and trimmed, as the embedded filter
// compares them; price is in minor units, -1 without a price.
const (
	qdrantFieldID           = "product_id"
	qdrantFieldBrand        = "brand"
	qdrantFieldCategory     = "category" // every level of the path
	qdrantFieldPrice        = "price"
	qdrantFieldAvailability = "availability"
)

// qdrantUpsertBatch is the number of points per Upsert request.
const qdrantUpsertBatch = 256

// Qdrant is the scale-out Index: vectors and filter payloads live in a
// Qdrant collection (reached over gRPC with github.com/qdrant/go-client),
// the lexical half is an in-process BM25 index over the same products, and
// the two are fused in Go exactly as Embedded does (Fuse). Products
// themselves are kept in process (Get, Len and hits come from the BM25
// index), so each replica must be fed the catalogue at start; Qdrant only
// answers the vector half.
//
// The collection (cosine distance, size = Encoder.Dim()) and keyword
// indexes on brand, category and availability and an integer index on
// price are created on first use when missing. Point IDs are the 64-bit
// FNV-1a hash of the product ID, which travels in the payload too.
// Qdrant is safe for concurrent use.
type Qdrant struct {
	cfg    Config
	client *qdrant.Client
	coll   string
	lex    *Embedded // BM25 only: the product store and lexical half
	enc    Encoder

	initMu sync.Mutex
	ready  atomic.Bool // set once the collection and indexes exist
}

var _ Index = (*Qdrant)(nil)

// NewQdrant connects to cfg.QdrantAddr (host:port; port 6334 if omitted).
// cfg.Encoder is required. The connection is lazy: the collection is
// checked and created on the first Upsert or Search.
func NewQdrant(cfg Config) (*Qdrant, error) {
	if cfg.Encoder == nil {
		return nil, fmt.Errorf("retrieval: the qdrant backend needs an Encoder (a bi-encoder model): %w", ErrNoEncoder)
	}
	if cfg.QdrantAddr == "" {
		return nil, errors.New("retrieval: the qdrant backend needs an address (--qdrant-addr host:6334)")
	}
	host, port, err := splitHostPort(cfg.QdrantAddr)
	if err != nil {
		return nil, err
	}
	enc := cfg.Encoder
	lexCfg := cfg
	lexCfg.Encoder, lexCfg.VectorFile = nil, ""
	lex, err := NewEmbedded(lexCfg)
	if err != nil {
		return nil, err
	}
	cfg = lex.cfg // defaults filled in
	cfg.Encoder = enc
	client, err := qdrant.NewClient(&qdrant.Config{
		Host:                   host,
		Port:                   port,
		APIKey:                 cfg.QdrantAPIKey,
		UseTLS:                 cfg.QdrantTLS,
		SkipCompatibilityCheck: true,
	})
	if err != nil {
		return nil, fmt.Errorf("retrieval: qdrant client for %s: %w", cfg.QdrantAddr, err)
	}
	coll := cfg.QdrantCollection
	if coll == "" {
		coll = "products"
	}
	return &Qdrant{cfg: cfg, client: client, coll: coll, lex: lex, enc: enc}, nil
}

func splitHostPort(addr string) (string, int, error) {
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 6334, nil //nolint:nilerr // no port given
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("retrieval: bad qdrant port in %q", addr)
	}
	return host, port, nil
}

// pointID maps a product ID to a Qdrant point ID.
func pointID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// ensure creates the collection and payload indexes on first use.
func (q *Qdrant) ensure(ctx context.Context) error {
	if q.ready.Load() {
		return nil
	}
	q.initMu.Lock()
	defer q.initMu.Unlock()
	if q.ready.Load() {
		return nil
	}
	exists, err := q.client.CollectionExists(ctx, q.coll)
	if err != nil {
		return fmt.Errorf("retrieval: qdrant: %w", err)
	}
	if !exists {
		err := q.client.CreateCollection(ctx, &qdrant.CreateCollection{
			CollectionName: q.coll,
			VectorsConfig: qdrant.NewVectorsConfig(&qdrant.VectorParams{
				Size:     uint64(q.enc.Dim()),
				Distance: qdrant.Distance_Cosine,
			}),
		})
		if err != nil {
			return fmt.Errorf("retrieval: qdrant: create collection %q: %w", q.coll, err)
		}
	}
	// Creating an index that exists is accepted by Qdrant, so this also
	// repairs a collection made by hand without them.
	for _, f := range []struct {
		name string
		typ  qdrant.FieldType
	}{
		{qdrantFieldID, qdrant.FieldType_FieldTypeKeyword},
		{qdrantFieldBrand, qdrant.FieldType_FieldTypeKeyword},
		{qdrantFieldCategory, qdrant.FieldType_FieldTypeKeyword},
		{qdrantFieldAvailability, qdrant.FieldType_FieldTypeKeyword},
		{qdrantFieldPrice, qdrant.FieldType_FieldTypeInteger},
	} {
		_, err := q.client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
			CollectionName: q.coll,
			FieldName:      f.name,
			FieldType:      f.typ.Enum(),
			Wait:           qdrant.PtrOf(true),
		})
		if err != nil {
			return fmt.Errorf("retrieval: qdrant: index %s: %w", f.name, err)
		}
	}
	q.ready.Store(true)
	return nil
}

// qdrantPayload is the payload stored for p.
func qdrantPayload(p *catalog.Product) map[string]*qdrant.Value {
	cats := make([]any, 0, len(p.Category))
	for _, c := range p.Category {
		cats = append(cats, strings.ToLower(strings.TrimSpace(c)))
	}
	price := p.Price
	if price < 0 {
		price = -1
	}
	return qdrant.NewValueMap(map[string]any{
		qdrantFieldID:           p.ID,
		qdrantFieldBrand:        strings.ToLower(strings.TrimSpace(p.Brand)),
		qdrantFieldCategory:     cats,
		qdrantFieldPrice:        price,
		qdrantFieldAvailability: string(p.Availability),
	})
}

// qdrantFilter translates f into a Qdrant filter (nil when f is empty);
// ok is false when nothing can match. It mirrors compiledFilter.match: a
// product without a price fails any price bound; InStockOnly drops only
// products known to be out of stock.
func qdrantFilter(f Filter) (*qdrant.Filter, bool) {
	var must, mustNot []*qdrant.Condition
	if f.MinPrice > 0 && f.MaxPrice > 0 && f.MinPrice > f.MaxPrice {
		return nil, false
	}
	if f.MinPrice > 0 || f.MaxPrice > 0 {
		r := &qdrant.Range{Gte: qdrant.PtrOf(float64(max(f.MinPrice, 0)))}
		if f.MaxPrice > 0 {
			r.Lte = qdrant.PtrOf(float64(f.MaxPrice))
		}
		must = append(must, qdrant.NewRange(qdrantFieldPrice, r))
	}
	var brands []string
	for _, b := range f.Brands {
		if b = strings.ToLower(strings.TrimSpace(b)); b != "" {
			brands = append(brands, b)
		}
	}
	if len(f.Brands) > 0 {
		if len(brands) == 0 {
			return nil, false
		}
		must = append(must, qdrant.NewMatchKeywords(qdrantFieldBrand, brands...))
	}
	if c := strings.ToLower(strings.TrimSpace(f.Category)); c != "" {
		must = append(must, qdrant.NewMatchKeyword(qdrantFieldCategory, c))
	}
	if f.InStockOnly {
		mustNot = append(mustNot, qdrant.NewMatchKeyword(qdrantFieldAvailability, string(catalog.AvailabilityOutOfStock)))
	}
	if len(must) == 0 && len(mustNot) == 0 {
		return nil, true
	}
	return &qdrant.Filter{Must: must, MustNot: mustNot}, true
}

// Upsert embeds the products (batched by Config.EncodeBatch), upserts them
// into Qdrant in batches of 256 points (waiting for each), then into the
// in-process BM25 index. A failure part-way leaves Qdrant with some of the
// batch; upserting it again converges.
func (q *Qdrant) Upsert(ctx context.Context, products []catalog.Product) error {
	for i := range products {
		if products[i].ID == "" {
			return fmt.Errorf("retrieval: upsert: product %d has an empty ID", i)
		}
	}
	if err := q.ensure(ctx); err != nil {
		return err
	}
	// Later duplicates win, as in Embedded.
	last := make(map[string]int, len(products))
	for i := range products {
		last[products[i].ID] = i
	}
	var keep []int
	texts := make([]string, 0, len(products))
	for i := range products {
		if last[products[i].ID] == i {
			keep = append(keep, i)
			texts = append(texts, ProductText(&products[i]))
		}
	}
	for start := 0; start < len(keep); start += q.cfg.EncodeBatch {
		end := min(start+q.cfg.EncodeBatch, len(keep))
		vecs, err := q.enc.EncodeDocs(ctx, texts[start:end])
		if err != nil {
			return fmt.Errorf("retrieval: embed products: %w", err)
		}
		for s := 0; s < len(vecs); s += qdrantUpsertBatch {
			e := min(s+qdrantUpsertBatch, len(vecs))
			points := make([]*qdrant.PointStruct, 0, e-s)
			for j := s; j < e; j++ {
				p := &products[keep[start+j]]
				points = append(points, &qdrant.PointStruct{
					Id:      qdrant.NewIDNum(pointID(p.ID)),
					Vectors: qdrant.NewVectors(vecs[j]...),
					Payload: qdrantPayload(p),
				})
			}
			if _, err := q.client.Upsert(ctx, &qdrant.UpsertPoints{
				CollectionName: q.coll,
				Wait:           qdrant.PtrOf(true),
				Points:         points,
			}); err != nil {
				return fmt.Errorf("retrieval: qdrant upsert: %w", err)
			}
		}
	}
	return q.lex.Upsert(ctx, products)
}

// Delete removes the products from Qdrant and the BM25 index.
func (q *Qdrant) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := q.ensure(ctx); err != nil {
		return err
	}
	pids := make([]*qdrant.PointId, len(ids))
	for i, id := range ids {
		pids[i] = qdrant.NewIDNum(pointID(id))
	}
	if _, err := q.client.Delete(ctx, &qdrant.DeletePoints{
		CollectionName: q.coll,
		Wait:           qdrant.PtrOf(true),
		Points:         qdrant.NewPointsSelector(pids...),
	}); err != nil {
		return fmt.Errorf("retrieval: qdrant delete: %w", err)
	}
	return q.lex.Delete(ctx, ids)
}

// Search works as Embedded.Search; the dense half is a Qdrant query with
// the filter translated into a Qdrant filter (applied by Qdrant inside its
// HNSW search).
func (q *Qdrant) Search(ctx context.Context, qu Query) ([]Hit, error) {
	mode, err := resolveMode(qu.Mode, true)
	if err != nil {
		return nil, err
	}
	k := qu.K
	if k <= 0 {
		k = 10
	}
	switch mode {
	case ModeLexical:
		return q.lex.searchLexical(ctx, qu)
	case ModeDense:
		return q.searchDense(ctx, qu.Text, k, qu.Filter)
	}
	n := max(k, q.cfg.Candidates)
	lq := qu
	lq.K = n
	lex, err := q.lex.searchLexical(ctx, lq)
	if err != nil {
		return nil, err
	}
	dense, err := q.searchDense(ctx, qu.Text, n, qu.Filter)
	if err != nil {
		return nil, err
	}
	return FuseWeighted(k, q.cfg.RRFK, []float64{1, q.cfg.DenseWeight}, lex, dense), nil
}

func (q *Qdrant) searchDense(ctx context.Context, text string, k int, f Filter) ([]Hit, error) {
	filter, ok := qdrantFilter(f)
	if !ok {
		return nil, nil
	}
	if err := q.ensure(ctx); err != nil {
		return nil, err
	}
	vec, err := q.enc.EncodeQuery(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("retrieval: encode query: %w", err)
	}
	pts, err := q.client.Query(ctx, &qdrant.QueryPoints{
		CollectionName: q.coll,
		Query:          qdrant.NewQueryDense(vec),
		Filter:         filter,
		Limit:          qdrant.PtrOf(uint64(k)),
		WithPayload:    qdrant.NewWithPayloadInclude(qdrantFieldID),
	})
	if err != nil {
		return nil, fmt.Errorf("retrieval: qdrant query: %w", err)
	}
	hits := make([]Hit, 0, len(pts))
	for _, p := range pts {
		id := p.GetPayload()[qdrantFieldID].GetStringValue()
		if prod, ok := q.lex.Get(ctx, id); ok {
			hits = append(hits, Hit{Product: prod, Score: float64(p.GetScore())})
		}
	}
	return hits, nil
}

// Get returns a product by ID (from the in-process copy).
func (q *Qdrant) Get(ctx context.Context, id string) (*catalog.Product, bool) {
	return q.lex.Get(ctx, id)
}

// Len is the number of products fed to this process.
func (q *Qdrant) Len() int { return q.lex.Len() }

// Close closes the gRPC connection and drops the in-process data. The
// collection stays in Qdrant.
func (q *Qdrant) Close() error {
	return errors.Join(q.client.Close(), q.lex.Close())
}
