package catalog

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
	"time"
)

// The store keeps products in a compact binary form: a version byte, then
// every field in declaration order as uvarint-length-prefixed strings,
// varints and float64 bits. Attributes are written sorted by name so that
// equal products encode to equal bytes (the store compares bytes to tell
// an update from an unchanged product).
const codecVersion = 1

var errCodec = errors.New("catalog: corrupt product record")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// encodeProduct appends p's encoding to b.
func encodeProduct(b []byte, p *Product) []byte {
	b = append(b, codecVersion)
	b = appendString(b, p.ID)
	b = appendString(b, p.Title)
	b = appendString(b, p.Name)
	b = appendString(b, p.Description)
	b = appendString(b, p.Brand)
	b = appendStrings(b, p.Category)
	b = binary.AppendVarint(b, p.Price)
	b = binary.AppendVarint(b, p.ListPrice)
	b = appendString(b, p.Currency)
	b = appendString(b, string(p.Availability))
	b = appendFloat(b, p.Rating)
	b = binary.AppendVarint(b, int64(p.ReviewCount))
	b = appendFloat(b, p.Popularity)
	b = appendString(b, p.Image)
	b = appendString(b, p.URL)
	if p.Released.IsZero() {
		b = binary.AppendVarint(b, math.MinInt64)
	} else {
		b = binary.AppendVarint(b, p.Released.UnixNano())
	}
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, p.Attributes[k])
	}
	b = appendString(b, p.PriceBand)
	b = appendStrings(b, p.Colors)
	b = appendString(b, p.Group)
	return b
}

type decoder struct {
	b   []byte
	err bool
	// names interns attribute names and other repeated short strings
	// across the products of one load.
	names map[string]string
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) str() string { return string(d.bytes()) }

// short returns an interned copy of a string that repeats across products.
func (d *decoder) short() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if d.names != nil && len(d.names) < 1<<20 {
		d.names[s] = s
	}
	return s
}

func (d *decoder) strs(short bool) []string {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		if short {
			out[i] = d.short()
		} else {
			out[i] = d.str()
		}
	}
	return out
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.err, d.b = true, nil
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

// decodeProduct decodes one product; names (may be nil) interns repeated
// strings.
func decodeProduct(b []byte, p *Product, names map[string]string) error {
	if len(b) == 0 || b[0] != codecVersion {
		return errCodec
	}
	d := decoder{b: b[1:], names: names}
	p.ID = d.str()
	p.Title = d.str()
	p.Name = d.str()
	p.Description = d.str()
	p.Brand = d.short()
	p.Category = d.strs(true)
	p.Price = d.varint()
	p.ListPrice = d.varint()
	p.Currency = d.short()
	p.Availability = Availability(d.short())
	p.Rating = d.float()
	p.ReviewCount = int(d.varint())
	p.Popularity = d.float()
	p.Image = d.str()
	p.URL = d.str()
	if ns := d.varint(); ns != math.MinInt64 {
		p.Released = time.Unix(0, ns).UTC()
	} else {
		p.Released = time.Time{}
	}
	n := d.uvarint()
	p.Attributes = nil
	if n > 0 && n <= uint64(len(d.b)) {
		p.Attributes = make(map[string]string, n)
		for i := uint64(0); i < n && !d.err; i++ {
			k := d.short()
			p.Attributes[k] = d.short()
		}
	}
	p.PriceBand = d.short()
	p.Colors = d.strs(true)
	p.Group = d.str()
	if d.err || len(d.b) != 0 {
		return errCodec
	}
	return nil
}
