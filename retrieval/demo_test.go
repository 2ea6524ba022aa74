package retrieval

import (
	"context"
	"sync"
	"testing"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
)

// demoProductCount is the size of the embedded Icecat demo catalogue.
const demoProductCount = 19406

var demo struct {
	once     sync.Once
	products []catalog.Product
	err      error
}

// demoProducts returns the embedded demo catalogue as the server loads it
// (catalog.Load with the shipped Icecat mapping). The slice is shared:
// callers must not modify it.
func demoProducts(tb testing.TB) []catalog.Product {
	tb.Helper()
	demo.once.Do(func() {
		demo.products, _, demo.err = catalog.Load(context.Background(), demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	})
	if demo.err != nil {
		tb.Fatalf("load demo catalogue: %v", demo.err)
	}
	if len(demo.products) != demoProductCount {
		tb.Fatalf("demo catalogue has %d products, want %d", len(demo.products), demoProductCount)
	}
	return demo.products
}
