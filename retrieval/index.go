package retrieval

import (
	"context"

	"github.com/shopassist/shopassist/catalog"
)

// Filter restricts a search. Filters are applied inside the search, before
// the top-k cut, never by dropping results afterwards. The zero Filter
// matches everything.
type Filter struct {
	// MinPrice and MaxPrice bound the price in minor units; 0 means unbounded.
	MinPrice, MaxPrice int64
	// Brands, when not empty, keeps products of one of these brands
	// (case-insensitive).
	Brands []string
	// Category, when set, keeps products with this category (any level of
	// the path, case-insensitive).
	Category string
	// InStockOnly drops products known to be out of stock.
	InStockOnly bool
}

// Query is one search request.
type Query struct {
	Text   string
	K      int // number of hits wanted; <= 0 means 10
	Filter Filter
	// Mode picks the retrieval path: ModeLexical (BM25 only), ModeDense
	// (the bi-encoder's vectors only) or ModeHybrid (both, fused by
	// reciprocal rank). Empty means ModeHybrid when the index has an
	// Encoder and ModeLexical otherwise; dense and hybrid without an
	// Encoder fail with ErrNoEncoder.
	Mode string
}

// Query modes.
const (
	ModeLexical = "lexical"
	ModeDense   = "dense"
	ModeHybrid  = "hybrid"
)

// Hit is one search result, best first. Product points into the index and
// must not be modified.
type Hit struct {
	Product *catalog.Product
	Score   float64
	// Sponsored is set by the ranking stage on a paid placement (its
	// sponsored rules); retrieval never sets it.
	Sponsored bool
}

// Index finds candidate products for a query. Implementations are safe for
// concurrent use; Search may run while Upsert or Delete change the index.
type Index interface {
	// Search returns up to q.K hits, best first.
	Search(ctx context.Context, q Query) ([]Hit, error)
	// Upsert adds products or replaces those with the same ID.
	Upsert(ctx context.Context, products []catalog.Product) error
	// Delete removes products by ID; unknown IDs are ignored.
	Delete(ctx context.Context, ids []string) error
	// Get returns a product by ID.
	Get(ctx context.Context, id string) (*catalog.Product, bool)
	// Len is the number of products indexed.
	Len() int
	// Close releases the index.
	Close() error
}
