package catalog_test

import (
	"bytes"
	"context"
	"reflect"
	"runtime"
	"testing"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
)

// TestLoadIcecatDemo loads the embedded demo catalogue through the shipped
// Icecat mapping: every one of its 19,406 products is indexed, nothing is
// quarantined, and the fields land where the mapping says.
func TestLoadIcecatDemo(t *testing.T) {
	var q bytes.Buffer
	ps, sum, err := catalog.Load(context.Background(), demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{Quarantine: &q})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %+v", sum)
	if sum.Read != 19406 || len(ps) != 19406 || sum.Indexed != 19406 {
		t.Fatalf("read %d, indexed %d (%d products), want 19406", sum.Read, sum.Indexed, len(ps))
	}
	if sum.Quarantined != 0 || q.Len() != 0 {
		t.Fatalf("quarantined %d: %.500s", sum.Quarantined, q.String())
	}
	var first *catalog.Product
	for i := range ps {
		if ps[i].ID == "3920564" {
			first = &ps[i]
		}
	}
	if first == nil {
		t.Fatal("product 3920564 missing")
	}
	if ps[0].ID != "3920564" {
		t.Errorf("first product %q, want 3920564 (feed order)", ps[0].ID)
	}
	p := first
	if p.Title != "Xerox 006R90321 toner cartridge Original Black 6 pc(s)" || p.Name != "006R90321" ||
		p.Brand != "Xerox" || p.Price != 4995 || p.Currency != "EUR" ||
		p.Description != "Toner (6 Per Box) for CopyCentre C65 Digital Copier" ||
		p.Image != "http://images.icecat.biz/img/gallery_mediums/img_3920564_medium_1472618727_1445_7091.jpg" ||
		p.Released.Year() != 2009 || p.Attributes["printing_colours"] != "Black" || p.Attributes["quantity_per_pack"] != "6" ||
		p.PriceBand != "25-50" || len(p.Colors) != 1 || p.Colors[0] != "black" {
		t.Errorf("product 3920564 mapped as %+v", *p)
	}
}

// BenchmarkPipeline measures parse + clean + normalise of the Icecat demo
// (unzip, JSON decoding, mapping, cleaning, features, de-duplication).
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	m := catalog.IcecatMapping()
	runtime.GC()
	stop := heapPeak()
	cpu0 := cpuSeconds()
	n := 0
	for b.Loop() {
		ps, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, m, catalog.LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n += len(ps)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "products/s")
	b.ReportMetric(float64(n)/(cpuSeconds()-cpu0), "products/cpu-s")
	b.ReportMetric(stop(), "peak-heap-MiB")
}

// TestIngestDemoMatchesLoad: ingesting the demo into a store and loading
// it back (what `assistant ingest` then `serve` do) yields exactly the
// products of the built-in Load, in the same order, so search over either
// gives the same results. A second ingest changes nothing.
func TestIngestDemoMatchesLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole demo catalogue")
	}
	ctx := context.Background()
	want, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := catalog.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srcs, err := catalog.FSSources(demodata.FS, demodata.IcecatGlob)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := catalog.IngestSources(ctx, srcs, catalog.IcecatMapping(), store, catalog.IngestOptions{})
	if err != nil || sum.Added != len(want) || sum.Quarantined != 0 {
		t.Fatalf("ingest: %v %+v", err, sum)
	}
	got, err := store.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("store holds %d products, Load gave %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("product %d differs:\nstore %+v\n load %+v", i, got[i], want[i])
		}
	}
	srcs, _ = catalog.FSSources(demodata.FS, demodata.IcecatGlob)
	sum, err = catalog.IngestSources(ctx, srcs, catalog.IcecatMapping(), store, catalog.IngestOptions{Prune: true})
	if err != nil || sum.Unchanged != len(want) || sum.Added+sum.Updated+sum.Pruned != 0 {
		t.Errorf("re-ingest: %v %+v", err, sum)
	}
}

// BenchmarkStoreAll measures what `serve` does at start: load the 19,406
// demo products from the data dir.
func BenchmarkStoreAll(b *testing.B) {
	ctx := context.Background()
	store, err := catalog.OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	srcs, _ := catalog.FSSources(demodata.FS, demodata.IcecatGlob)
	if _, err := catalog.IngestSources(ctx, srcs, catalog.IcecatMapping(), store, catalog.IngestOptions{}); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		ps, err := store.All()
		if err != nil {
			b.Fatal(err)
		}
		n += len(ps)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "products/s")
}
