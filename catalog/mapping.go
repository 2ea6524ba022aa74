package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Mapping says how a feed's own field names and shapes map onto Product.
// It is read from a JSON or YAML file (see README, "Mapping files"); the zero
// value of every field means "use the default". A Mapping must not be
// modified once passed to Load or Ingest.
type Mapping struct {
	// Name identifies the mapping in summaries and logs.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Format forces the feed format (json, jsonl, csv); empty means from
	// the file name or the first bytes.
	Format string `json:"format,omitempty" yaml:"format,omitempty"`
	// Encoding of the feed's text: "utf-8" (default; a record with invalid
	// UTF-8 is quarantined), or "latin1"/"iso-8859-1"/"windows-1252"
	// (bytes that are not valid UTF-8 are read in that encoding).
	Encoding string `json:"encoding,omitempty" yaml:"encoding,omitempty"`

	// Fields maps each product field onto the feed's field names. Each
	// entry is a name, a dotted path into nested objects ("offer.price"), or
	// a list of them (the first present, non-empty one wins).
	Fields Fields `json:"fields" yaml:"fields"`

	// IDFrom derives a stable id, when the feed has none, by hashing the
	// values of these feed fields (e.g. [brand, title]).
	IDFrom []string `json:"id_from,omitempty" yaml:"id_from,omitempty"`

	// PriceUnit is "decimal" (49.95, the default) or "minor" (4995).
	// Strings with a currency ("49,95 EUR", "$12.00") are understood in both.
	PriceUnit string `json:"price_unit,omitempty" yaml:"price_unit,omitempty"`
	// Currency is the ISO 4217 currency when neither a currency field nor
	// the price itself names one.
	Currency string `json:"currency,omitempty" yaml:"currency,omitempty"`
	// CategorySeparator splits a category string into a path; empty means
	// any of " > ", "/", "|" or ">" (the first found).
	CategorySeparator string `json:"category_separator,omitempty" yaml:"category_separator,omitempty"`
	// RatingScale is the best possible rating in the feed (default 5);
	// ratings are rescaled to 0..5.
	RatingScale float64 `json:"rating_scale,omitempty" yaml:"rating_scale,omitempty"`

	// Attributes picks free attributes.
	Attributes AttributeMapping `json:"attributes,omitempty" yaml:"attributes,omitempty"`

	// Brands maps brand spellings (case-insensitive) onto a canonical name,
	// e.g. {"hewlett packard": "HP"}.
	Brands map[string]string `json:"brands,omitempty" yaml:"brands,omitempty"`
	// Availability maps the feed's own stock values (case-insensitive) onto
	// in_stock, out_of_stock or preorder, on top of the usual spellings.
	Availability map[string]string `json:"availability,omitempty" yaml:"availability,omitempty"`
	// Boilerplate lists extra phrases (case-insensitive, plain text) whose
	// sentences are removed from descriptions.
	Boilerplate []string `json:"boilerplate,omitempty" yaml:"boilerplate,omitempty"`
}

// Fields names the feed fields of each product field.
type Fields struct {
	ID           FieldRef `json:"id,omitempty" yaml:"id,omitempty"`
	Title        FieldRef `json:"title,omitempty" yaml:"title,omitempty"`
	Name         FieldRef `json:"name,omitempty" yaml:"name,omitempty"`
	Description  FieldRef `json:"description,omitempty" yaml:"description,omitempty"`
	Brand        FieldRef `json:"brand,omitempty" yaml:"brand,omitempty"`
	Category     FieldRef `json:"category,omitempty" yaml:"category,omitempty"`
	Price        FieldRef `json:"price,omitempty" yaml:"price,omitempty"`
	ListPrice    FieldRef `json:"list_price,omitempty" yaml:"list_price,omitempty"`
	Currency     FieldRef `json:"currency,omitempty" yaml:"currency,omitempty"`
	Availability FieldRef `json:"availability,omitempty" yaml:"availability,omitempty"`
	Rating       FieldRef `json:"rating,omitempty" yaml:"rating,omitempty"`
	ReviewCount  FieldRef `json:"review_count,omitempty" yaml:"review_count,omitempty"`
	Popularity   FieldRef `json:"popularity,omitempty" yaml:"popularity,omitempty"`
	Image        FieldRef `json:"image,omitempty" yaml:"image,omitempty"`
	URL          FieldRef `json:"url,omitempty" yaml:"url,omitempty"`
	Released     FieldRef `json:"released,omitempty" yaml:"released,omitempty"`
}

// AttributeMapping selects free attributes: every field whose name starts
// with one of Prefixes, plus the listed Fields. Strip lists prefixes removed
// from attribute names ("attr_t_printing_colours" -> "printing_colours").
type AttributeMapping struct {
	Prefixes []string `json:"prefixes,omitempty" yaml:"prefixes,omitempty"`
	Fields   []string `json:"fields,omitempty" yaml:"fields,omitempty"`
	Strip    []string `json:"strip,omitempty" yaml:"strip,omitempty"`
}

// FieldRef is one feed field name or dotted path, or a list of them tried
// in order. In a mapping file it is a string or a list of strings.
type FieldRef []string

// UnmarshalJSON accepts a string or a list of strings.
func (f *FieldRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FieldRef{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("field must be a name or a list of names: %w", err)
	}
	*f = l
	return nil
}

// UnmarshalYAML accepts a string or a list of strings.
func (f *FieldRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*f = FieldRef{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return fmt.Errorf("field must be a name or a list of names: %w", err)
	}
	*f = l
	return nil
}

//go:embed mappings/*.yaml
var shippedMappings embed.FS

// ShippedMapping returns one of the mappings shipped in catalog/mappings:
// "default", "icecat" or "google-merchant".
func ShippedMapping(name string) (*Mapping, error) {
	b, err := shippedMappings.ReadFile("mappings/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("catalog: no shipped mapping %q", name)
	}
	return ParseMapping(b, "yaml")
}

var shippedCache sync.Map // name -> *Mapping, parsed once

// mustShipped returns a copy of a shipped mapping (callers may change its
// scalar settings, such as Encoding, without affecting others).
func mustShipped(name string) *Mapping {
	if m, ok := shippedCache.Load(name); ok {
		c := *m.(*Mapping)
		return &c
	}
	m, err := ShippedMapping(name)
	if err != nil {
		panic(err)
	}
	shippedCache.Store(name, m)
	c := *m
	return &c
}

// IcecatMapping is the shipped mapping of the Icecat demo feed (currency
// EUR, price in minor units, brand from supplier, image from img_500x500,
// description from short_description, attr_* as attributes).
func IcecatMapping() *Mapping { return mustShipped("icecat") }

// GoogleMerchantMapping is the shipped mapping of Google Merchant Center
// style feeds (g:id, g:title, g:price "12.99 USD", g:product_type ...),
// with or without the "g:" prefix.
func GoogleMerchantMapping() *Mapping { return mustShipped("google-merchant") }

// DefaultMapping fits feeds whose field names are close to the product
// model (id, title, description, brand, price, ...); it is used when no
// mapping is given.
func DefaultMapping() *Mapping { return mustShipped("default") }

// ParseMapping reads a mapping in "json" or "yaml" (YAML also accepts JSON).
func ParseMapping(b []byte, format string) (*Mapping, error) {
	var m Mapping
	var err error
	switch strings.ToLower(format) {
	case "json":
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&m)
	default:
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		err = dec.Decode(&m)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: mapping: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// LoadMapping reads a mapping file (.json, .yaml or .yml), or a shipped
// mapping by name ("icecat", "google-merchant", "default").
func LoadMapping(file string) (*Mapping, error) {
	if !strings.ContainsAny(file, `/\.`) {
		if m, err := ShippedMapping(file); err == nil {
			return m, nil
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("catalog: mapping: %w", err)
	}
	format := "yaml"
	if strings.EqualFold(filepath.Ext(file), ".json") {
		format = "json"
	}
	m, err := ParseMapping(b, format)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, file)
	}
	return m, nil
}

// Validate reports the first setting that cannot work.
func (m *Mapping) Validate() error {
	if len(m.Fields.ID) == 0 && len(m.IDFrom) == 0 {
		return fmt.Errorf("catalog: mapping %q: fields.id or id_from is required", m.Name)
	}
	if len(m.Fields.Title) == 0 {
		return fmt.Errorf("catalog: mapping %q: fields.title is required", m.Name)
	}
	switch strings.ToLower(m.PriceUnit) {
	case "", "decimal", "minor":
	default:
		return fmt.Errorf("catalog: mapping %q: price_unit must be decimal or minor, not %q", m.Name, m.PriceUnit)
	}
	if m.Currency != "" && !isISOCurrency(strings.ToUpper(m.Currency)) {
		return fmt.Errorf("catalog: mapping %q: currency %q is not an ISO 4217 code", m.Name, m.Currency)
	}
	if m.Format != "" {
		if _, err := ParseFormat(m.Format); err != nil {
			return fmt.Errorf("catalog: mapping %q: %w", m.Name, err)
		}
	}
	if _, err := decoderFor(m.Encoding); err != nil {
		return fmt.Errorf("catalog: mapping %q: %w", m.Name, err)
	}
	for k, v := range m.Availability {
		if parseAvailabilityWord(v) == AvailabilityUnknown {
			return fmt.Errorf("catalog: mapping %q: availability %q maps to %q, want in_stock, out_of_stock or preorder", m.Name, k, v)
		}
	}
	if m.RatingScale < 0 {
		return fmt.Errorf("catalog: mapping %q: rating_scale must be positive", m.Name)
	}
	return nil
}
