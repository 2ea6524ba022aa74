// Package synth writes synthetic product feeds for benchmarks: JSON Lines
// records shaped like a typical shop export (ids, titles with brand, type,
// model and colour, HTML descriptions, decimal prices with a currency,
// category paths, stock, ratings and a dozen attributes), deterministic
// for a seed. A small share of rows is deliberately bad (no title, a bad
// price, a repeated id) so the benchmark exercises the quarantine path.
package synth

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

var (
	brands     = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Gringotts", "Oceanic", "Monarch", "Nakatomi"}
	types      = []string{"Laptop", "Monitor", "Printer", "Toner cartridge", "Headphones", "Keyboard", "Mouse", "Tablet", "Smartphone", "Router", "SSD", "Webcam", "Speaker", "Charger", "Camera", "Projector"}
	colours    = []string{"Black", "White", "Silver", "Grey", "Blue", "Red", "Green", "Gold", "Pink", "Yellow"}
	categories = []string{"Computers > Laptops", "Computers > Monitors", "Printing > Printers", "Printing > Supplies > Toner", "Audio > Headphones", "Computers > Accessories > Keyboards", "Computers > Accessories > Mice", "Mobile > Tablets", "Mobile > Phones", "Networking > Routers", "Storage > SSD", "Video > Webcams", "Audio > Speakers", "Mobile > Chargers", "Photo > Cameras", "Video > Projectors"}
	stock      = []string{"in stock", "in_stock", "out of stock", "preorder", "InStock"}
	attrs      = []string{"weight_kg", "width_mm", "height_mm", "depth_mm", "warranty_years", "power_w", "country_of_origin", "material", "connectivity", "energy_class", "model_year", "pack_quantity"}
	words      = []string{"fast", "reliable", "compact", "wireless", "ergonomic", "durable", "premium", "lightweight", "quiet", "efficient", "versatile", "high-resolution", "portable", "smart", "professional", "everyday"}
)

// Write writes n records of JSON Lines to w.
func Write(w io.Writer, n int, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var b []byte
	for i := 0; i < n; i++ {
		b = b[:0]
		t := r.IntN(len(types))
		brand := brands[r.IntN(len(brands))]
		colour := colours[r.IntN(len(colours))]
		model := fmt.Sprintf("%c%c-%d", 'A'+r.IntN(26), 'A'+r.IntN(26), 100+r.IntN(9900))
		id := "S" + strconv.Itoa(i)
		switch {
		case i%1000 == 7: // a repeated id: last wins
			id = "S" + strconv.Itoa(i-1)
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendQuote(b, id)
		title := brand + " " + types[t] + " " + model + " " + colour
		if i%1000 == 13 { // no title: quarantined
			title = ""
		}
		b = append(b, `,"title":`...)
		b = strconv.AppendQuote(b, title)
		b = append(b, `,"description":"<p>`...)
		for k := 0; k < 12; k++ {
			if k > 0 {
				b = append(b, ' ')
			}
			b = append(b, words[r.IntN(len(words))]...)
		}
		b = append(b, ` &amp; `...)
		b = append(b, words[r.IntN(len(words))]...)
		b = append(b, `.</p>","brand":`...)
		b = strconv.AppendQuote(b, brand)
		b = append(b, `,"category":`...)
		b = strconv.AppendQuote(b, categories[t])
		price := 1 + r.ExpFloat64()*150
		if i%1000 == 17 { // a bad price: quarantined
			b = append(b, `,"price":"n/a"`...)
		} else {
			b = append(b, `,"price":"`...)
			b = strconv.AppendFloat(b, price, 'f', 2, 64)
			b = append(b, ` EUR"`...)
		}
		b = append(b, `,"availability":`...)
		b = strconv.AppendQuote(b, stock[r.IntN(len(stock))])
		b = append(b, `,"rating":`...)
		b = strconv.AppendFloat(b, float64(r.IntN(50))/10, 'f', 1, 64)
		b = append(b, `,"review_count":`...)
		b = strconv.AppendInt(b, int64(r.IntN(2000)), 10)
		b = append(b, `,"image":"https://img.example.com/`...)
		b = append(b, id...)
		b = append(b, `.jpg","attr_color":`...)
		b = strconv.AppendQuote(b, colour)
		for _, a := range attrs {
			if r.IntN(3) == 0 {
				continue
			}
			b = append(b, `,"attr_`...)
			b = append(b, a...)
			b = append(b, `":`...)
			if r.IntN(2) == 0 {
				b = strconv.AppendFloat(b, float64(r.IntN(10000))/10, 'f', -1, 64)
			} else {
				b = strconv.AppendQuote(b, words[r.IntN(len(words))])
			}
		}
		b = append(b, "}\n"...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}
