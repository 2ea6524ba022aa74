package catalog

import (
	"strings"
	"time"
)

// Availability is a product's stock state, normalised from whatever a feed says.
type Availability string

// Availability values. A feed that says nothing is AvailabilityUnknown, which
// search treats as purchasable.
const (
	AvailabilityUnknown    Availability = ""
	AvailabilityInStock    Availability = "in_stock"
	AvailabilityOutOfStock Availability = "out_of_stock"
	AvailabilityPreorder   Availability = "preorder"
)

// Product is the store's product model: what every feed is mapped onto, what
// the indexes store and what the chat shows. Text fields are already cleaned
// (no HTML, NFKC-normalised, single spaces).
type Product struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Name        string `json:"name,omitempty"` // short model name or code, e.g. "LC51C"
	Description string `json:"description,omitempty"`
	Brand       string `json:"brand,omitempty"`
	// Category is the category path from the root, e.g. ["Printers", "Ink"].
	Category []string `json:"category,omitempty"`
	// Price and ListPrice are in minor units of Currency (4995 = 49.95 EUR).
	// Price < 0 means the feed had no price.
	Price        int64             `json:"price"`
	ListPrice    int64             `json:"list_price,omitempty"`
	Currency     string            `json:"currency,omitempty"` // ISO 4217, e.g. "EUR"
	Availability Availability      `json:"availability,omitempty"`
	Rating       float64           `json:"rating,omitempty"` // 0..5
	ReviewCount  int               `json:"review_count,omitempty"`
	Popularity   float64           `json:"popularity,omitempty"`
	Image        string            `json:"image,omitempty"`
	URL          string            `json:"url,omitempty"`
	Released     time.Time         `json:"released,omitzero"`
	Attributes   map[string]string `json:"attributes,omitempty"`

	// Features computed at ingestion for search facets and ranking.

	// PriceBand names the price range in currency units ("25-50", "1000+");
	// empty without a price. See PriceBandOf.
	PriceBand string `json:"price_band,omitempty"`
	// Colors are colour facet values ("black", "grey") found in the title
	// and in colour attributes, in order of appearance.
	Colors []string `json:"colors,omitempty"`
	// Group is a key of the brand and normalised title: products sharing a
	// Group are near duplicates (the same item under several ids), which
	// search may collapse. See GroupKey.
	Group string `json:"group,omitempty"`
}

// PriceUnits returns the price in currency units (4995 -> 49.95).
func (p *Product) PriceUnits() float64 {
	if p.Price < 0 {
		return 0
	}
	return float64(p.Price) / 100
}

// SearchText is the text a keyword index should cover: title, model name,
// brand, category path and description, separated by " \n ".
func (p *Product) SearchText() string {
	parts := make([]string, 0, 5+len(p.Category))
	for _, s := range []string{p.Title, p.Name, p.Brand} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	parts = append(parts, p.Category...)
	if p.Description != "" {
		parts = append(parts, p.Description)
	}
	return strings.Join(parts, " \n ")
}

// Facets returns the product's facet values by facet name: "brand",
// "category" (every level of the path), "colour", "price_band" and
// "availability"; facets without a value are left out.
func (p *Product) Facets() map[string][]string {
	f := make(map[string][]string, 5)
	if p.Brand != "" {
		f["brand"] = []string{p.Brand}
	}
	if len(p.Category) > 0 {
		f["category"] = p.Category
	}
	if len(p.Colors) > 0 {
		f["colour"] = p.Colors
	}
	if p.PriceBand != "" {
		f["price_band"] = []string{p.PriceBand}
	}
	if p.Availability != AvailabilityUnknown {
		f["availability"] = []string{string(p.Availability)}
	}
	return f
}
