//go:build ignore

// Command dump_products writes the Icecat demo catalogue as the Go side
// sees it, one JSON object per line on stdout: id, brand, title, name,
// description (cleaned and normalised by catalog.Load with the shipped
// Icecat mapping), attributes, and text = retrieval.ProductText, the exact
// document text the bi-encoder embeds at serving time. The training
// pipeline (training/build_biencoder.sh) trains on this text so training
// and serving see the same strings.
//
//	go run training/tools/dump_products.go > artifacts/products.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/retrieval"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dump_products:", err)
		os.Exit(1)
	}
}

func run() error {
	ps, _, err := catalog.Load(context.Background(), demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	for i := range ps {
		p := &ps[i]
		if err := enc.Encode(map[string]any{
			"id": p.ID, "brand": p.Brand, "title": p.Title, "name": p.Name, "description": p.Description,
			"attributes": p.Attributes, "text": retrieval.ProductText(p),
		}); err != nil {
			return err
		}
	}
	return w.Flush()
}
