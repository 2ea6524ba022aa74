package retrieval

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
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

// demoProducts returns the embedded demo catalogue, mapped the way the
// catalog package's loader will map it (test-only stand-in for that loader).
// The slice is shared: callers must not modify it.
func demoProducts(tb testing.TB) []catalog.Product {
	tb.Helper()
	demo.once.Do(func() { demo.products, demo.err = loadDemo() })
	if demo.err != nil {
		tb.Fatalf("load demo catalogue: %v", demo.err)
	}
	return demo.products
}

type icecatRow struct {
	ID               string  `json:"id"`
	Title            string  `json:"title"`
	Name             string  `json:"name"`
	ShortDescription *string `json:"short_description"`
	Supplier         string  `json:"supplier"`
	Price            *int64  `json:"price"`
	Image            string  `json:"img_500x500"`
}

func loadDemo() ([]catalog.Product, error) {
	names, err := fs.Glob(demodata.FS, demodata.IcecatGlob)
	if err != nil {
		return nil, err
	}
	var out []catalog.Product
	for _, name := range names {
		raw, err := fs.ReadFile(demodata.FS, name)
		if err != nil {
			return nil, err
		}
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, zf := range zr.File {
			rc, err := zf.Open()
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", name, zf.Name, err)
			}
			out, err = decodeIcecat(out, rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", name, zf.Name, err)
			}
		}
	}
	return out, nil
}

func decodeIcecat(out []catalog.Product, r io.Reader) ([]catalog.Product, error) {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil { // [
		return nil, err
	}
	for dec.More() {
		var row icecatRow
		if err := dec.Decode(&row); err != nil {
			return nil, err
		}
		p := catalog.Product{
			ID:       row.ID,
			Title:    row.Title,
			Name:     row.Name,
			Brand:    row.Supplier,
			Price:    -1,
			Currency: "EUR",
			Image:    row.Image,
		}
		if row.ShortDescription != nil {
			p.Description = *row.ShortDescription
		}
		if row.Price != nil {
			p.Price = *row.Price
		}
		out = append(out, p)
	}
	_, err := dec.Token() // ]
	return out, err
}

func TestDemoLoader(t *testing.T) {
	ps := demoProducts(t)
	if len(ps) != demoProductCount {
		t.Fatalf("demo catalogue has %d products, want %d", len(ps), demoProductCount)
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if p.ID == "" || p.Title == "" {
			t.Fatalf("product without ID or title: %+v", p)
		}
		if seen[p.ID] {
			t.Fatalf("duplicate ID %s", p.ID)
		}
		seen[p.ID] = true
	}
}
