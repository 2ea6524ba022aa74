package demodata

import (
	"embed"
	"io/fs"
)

// The demo store's customer-service data, used by the chat's flows when the
// store configures nothing of its own:
//
//   - orders.json: 20 orders (processing, shipped, delivered, cancelled) in
//     the format of package orders, over products of the demo catalogue;
//   - policies/*.md: the store's policies (ordering, returns and refunds,
//     shipping and delivery, payment, account and privacy, warranty) in the
//     Markdown package policies reads.
//
//go:embed orders.json policies/*.md
var dialogFS embed.FS

// Orders returns the demo orders file (JSON, see orders.LoadDemo).
func Orders() []byte {
	b, err := dialogFS.ReadFile("orders.json")
	if err != nil { // embedded at build time: cannot happen
		panic(err)
	}
	return b
}

// Policies returns the demo policy documents, one Markdown file per policy
// at the root of the returned file system.
func Policies() fs.FS {
	sub, err := fs.Sub(dialogFS, "policies")
	if err != nil { // embedded at build time: cannot happen
		panic(err)
	}
	return sub
}
