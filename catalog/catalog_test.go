package catalog

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"  spaced\t\tout \n text ", "spaced out text"},
		{"<p>Hello <b>wor</b>ld</p><br/>bye", "Hello world bye"},
		{"a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"},
		{"&lt;i&gt;double&lt;/i&gt; escaped", "double escaped"},
		{"x<script>var a = '<p>';</script>y", "x y"},
		{"<style>p{color:red}</style>Styled", "Styled"},
		{"<!-- comment -->visible", "visible"},
		{"size < 10 and > 2", "size < 10 and > 2"},
		{"Intel® Core™2 Duo", "Intel Core 2 Duo"},
		{"ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３", "fullwidth ABC123"},
		{"ﬁne ligature", "fine ligature"},
		{"zero\u200bwidth\u00a0nbsp", "zerowidth nbsp"},
		{"ctrl\x00\x07chars\x1b", "ctrlchars"},
		{"Café crème", "Café crème"},
		{"", ""},
	} {
		if got := CleanText(tc.in); got != tc.want {
			t.Errorf("CleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTrimBoilerplate(t *testing.T) {
	got := trimBoilerplate("Solid steel pan. Free shipping on all orders! Oven safe to 250 C.", defaultBoilerplate)
	if got != "Solid steel pan. Oven safe to 250 C." {
		t.Errorf("got %q", got)
	}
	if got := trimBoilerplate("No sales talk here.", defaultBoilerplate); got != "No sales talk here." {
		t.Errorf("got %q", got)
	}
}

func TestParsePrice(t *testing.T) {
	for _, tc := range []struct {
		in      any
		minor   bool
		def     string
		want    int64
		wantCur string
		bad     bool
	}{
		{4995.0, true, "EUR", 4995, "", false},
		{49.95, false, "EUR", 4995, "", false},
		{"49.95", false, "", 4995, "", false},
		{"49,95 €", false, "", 4995, "EUR", false},
		{"EUR 1.299,00", false, "", 129900, "EUR", false},
		{"$1,299.00", false, "", 129900, "USD", false},
		{"12.99 USD", false, "", 1299, "USD", false},
		{"1,299", false, "", 129900, "", false},
		{"4995", true, "EUR", 4995, "", false},
		{"49.95", true, "EUR", 4995, "", false}, // an explicit decimal point wins over minor units
		{"¥1200", false, "", 1200, "JPY", false},
		{map[string]any{"value": "9.50", "currency": "GBP"}, false, "", 950, "GBP", false},
		{49.5, true, "EUR", 0, "", true},
		{-1.0, false, "", 0, "", true},
		{"-3.00", false, "", 0, "", true},
		{"abc", false, "", 0, "", true},
		{true, false, "", 0, "", true},
		{1e15, false, "EUR", 0, "", true},
		{[]any{1.0}, false, "", 0, "", true},
	} {
		got, cur, err := parsePrice(tc.in, tc.minor, tc.def)
		if (err != nil) != tc.bad || (!tc.bad && (got != tc.want || cur != tc.wantCur)) {
			t.Errorf("parsePrice(%#v, minor=%v) = %d %q %v; want %d %q bad=%v", tc.in, tc.minor, got, cur, err, tc.want, tc.wantCur, tc.bad)
		}
	}
	if _, _, err := parsePrice(nil, false, ""); err != errNoPrice {
		t.Errorf("nil price: %v, want errNoPrice", err)
	}
}

// TestGoogleMerchantFeed ingests a Google-Merchant-style TSV (g: names,
// "348.00 USD" prices, " > " category paths) through the shipped mapping.
func TestGoogleMerchantFeed(t *testing.T) {
	ps, sum, q := loadTestdata(t, "google-merchant.tsv", GoogleMerchantMapping())
	if sum.Read != 22 || sum.Indexed != 20 || sum.QuarantinedByReason[ReasonMissingTitle] != 1 || sum.QuarantinedByReason[ReasonBadPrice] != 1 {
		t.Fatalf("summary %+v, quarantine %+v", sum, q)
	}
	got := byID(ps)
	p := got["gm-001"]
	if p.Title != "Sony WH-1000XM4 Wireless Noise Cancelling Headphones - Black" || p.Brand != "Sony" ||
		p.Price != 27800 || p.ListPrice != 34800 || p.Currency != "USD" || p.Availability != AvailabilityInStock ||
		!reflect.DeepEqual(p.Category, []string{"Electronics", "Audio", "Headphones"}) ||
		p.Image != "https://example.com/img/gm-001.jpg" || p.URL != "https://example.com/p/gm-001" ||
		p.Attributes["color"] != "Black" || p.Attributes["condition"] != "new" || p.Attributes["gtin"] != "4548736112100" ||
		!reflect.DeepEqual(p.Colors, []string{"black"}) || p.PriceBand != "250-500" {
		t.Errorf("gm-001 = %+v", p)
	}
	if r := got["gm-017"]; r.Brand != "Sony" || r.Group != p.Group {
		t.Errorf("gm-017 (Sony Corporation, same title) brand %q group %q, want Sony and %q", r.Brand, r.Group, p.Group)
	}
	if sum.NearDuplicateGroups != 1 {
		t.Errorf("near-duplicate groups %d, want 1", sum.NearDuplicateGroups)
	}
	if got["gm-002"].Description != "Active Noise Cancellation, Adaptive Transparency & Personalized Spatial Audio." {
		t.Errorf("gm-002 description %q", got["gm-002"].Description)
	}
	if got["gm-007"].Description != "Compact 10000mAh power bank." {
		t.Errorf("gm-007 boilerplate not trimmed: %q", got["gm-007"].Description)
	}
	if got["gm-010"].Availability != AvailabilityOutOfStock || got["gm-005"].Availability != AvailabilityPreorder {
		t.Errorf("availability gm-010 %q gm-005 %q", got["gm-010"].Availability, got["gm-005"].Availability)
	}
	if got["gm-008"].Title != "Kindle Paperwhite (16 GB) – Agave Green" || got["gm-008"].Description != `6.8" display, adjustable warm light.` {
		t.Errorf("gm-008 = %q / %q", got["gm-008"].Title, got["gm-008"].Description)
	}
}

// TestDefaultMappingAndDerivedID: a feed whose names are close to the
// model needs no mapping; a feed without ids gets stable derived ones.
func TestDefaultMappingAndDerivedID(t *testing.T) {
	feed := `{"sku":"s1","name":"Desk lamp","manufacturer":"Lumo","sale_price":"19.90","currency_code":"GBP","categories":["Home","Lighting"],"stars":"4","reviews":"7","link":"https://x/s1"}
{"sku":"s2","product_name":"Floor lamp","brand":"Lumo","price":{"amount":"89","currency":"GBP"},"in_stock":true}
`
	ps, sum, err := LoadSources(context.Background(), []Source{ReaderSource("f.jsonl", FormatAuto, strings.NewReader(feed))}, nil, LoadOptions{})
	if err != nil || sum.Indexed != 2 {
		t.Fatalf("indexed %d, err %v, summary %+v", sum.Indexed, err, sum)
	}
	p := ps[0]
	if p.ID != "s1" || p.Title != "Desk lamp" || p.Brand != "Lumo" || p.Price != 1990 || p.Currency != "GBP" ||
		!reflect.DeepEqual(p.Category, []string{"Home", "Lighting"}) || p.Rating != 4 || p.ReviewCount != 7 || p.URL != "https://x/s1" {
		t.Errorf("s1 = %+v", p)
	}
	if q := ps[1]; q.Title != "Floor lamp" || q.Price != 8900 || q.Currency != "GBP" || q.Availability != AvailabilityInStock {
		t.Errorf("s2 = %+v", q)
	}

	m, err := ParseMapping([]byte(`{"name":"noid","fields":{"title":"t","brand":"b","price":"p"},"id_from":["b","t"],"currency":"EUR"}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	csvFeed := "t,b,p\nLamp,Lumo,10\nChair,Sitz,20\n"
	load := func() []Product {
		ps, _, err := LoadSources(context.Background(), []Source{ReaderSource("noid.csv", FormatAuto, strings.NewReader(csvFeed))}, m, LoadOptions{})
		if err != nil || len(ps) != 2 {
			t.Fatalf("%d products, %v", len(ps), err)
		}
		return ps
	}
	a, b := load(), load()
	if a[0].ID == "" || a[0].ID == a[1].ID || a[0].ID != b[0].ID || a[1].ID != b[1].ID {
		t.Errorf("derived ids %q %q then %q %q: want stable and distinct", a[0].ID, a[1].ID, b[0].ID, b[1].ID)
	}
}

// TestMappingFiles parses the shipped mappings and a user mapping written
// in YAML and in JSON, and rejects a broken one.
func TestMappingFiles(t *testing.T) {
	for _, n := range []string{"default", "icecat", "google-merchant"} {
		if _, err := ShippedMapping(n); err != nil {
			t.Errorf("shipped %s: %v", n, err)
		}
	}
	dir := t.TempDir()
	y := filepath.Join(dir, "shop.yaml")
	os.WriteFile(y, []byte("name: shop\nfields:\n  id: ref\n  title: [label, name]\n  price: offer.amount\nprice_unit: decimal\ncurrency: chf\n"), 0o644)
	m, err := LoadMapping(y)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Fields.Title, FieldRef{"label", "name"}) || m.Fields.Price[0] != "offer.amount" {
		t.Errorf("yaml mapping %+v", m)
	}
	ps, _, err := LoadSources(context.Background(), []Source{ReaderSource("x.jsonl", FormatAuto, strings.NewReader(`{"ref":"r1","name":"Watch","offer":{"amount":"1'250.00"}}`+"\n"))}, m, LoadOptions{})
	if err != nil || len(ps) != 1 || ps[0].Price != 125000 || ps[0].Currency != "CHF" || ps[0].Title != "Watch" {
		t.Errorf("nested path: %+v %v", ps, err)
	}
	j := filepath.Join(dir, "shop.json")
	os.WriteFile(j, []byte(`{"fields":{"id":"ref","title":"label"},"price_unit":"cents"}`), 0o644)
	if _, err := LoadMapping(j); err == nil || !strings.Contains(err.Error(), "price_unit") {
		t.Errorf("bad price_unit accepted: %v", err)
	}
	os.WriteFile(j, []byte(`{"fields":{"id":"ref","titel":"label"}}`), 0o644)
	if _, err := LoadMapping(j); err == nil {
		t.Error("unknown field name in a mapping accepted")
	}
}

// TestIngestIncremental: a second ingest upserts changed products and
// counts the others unchanged; --prune removes what the feed lacks; the
// store reloads in first-added order.
func TestIngestIncremental(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1 := write("v1.jsonl", `{"id":"a","title":"Alpha","price":1}
{"id":"b","title":"Beta","price":2}
{"id":"c","title":"Gamma","price":3}
{"id":"b","title":"Beta","price":2.5}
`)
	sum, err := Ingest(context.Background(), []string{v1}, nil, store, IngestOptions{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Indexed != 3 || sum.Added != 3 || sum.Updated != 0 || sum.Unchanged != 0 || sum.Duplicates != 1 {
		t.Errorf("first ingest %+v", sum)
	}
	if p, ok, _ := store.Get("b"); !ok || p.Price != 250 {
		t.Errorf("b = %+v (last duplicate should win)", p)
	}
	v2 := write("v2.csv", "id,title,price\nc,Gamma,3\na,Alpha v2,1\nd,Delta,4\n")
	var upserted []string
	sum, err = Ingest(context.Background(), []string{v2}, nil, store, IngestOptions{Prune: true, OnChange: func(up []Product, removed []string) error {
		for _, p := range up {
			upserted = append(upserted, p.ID)
		}
		upserted = append(upserted, removed...)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Indexed != 3 || sum.Added != 1 || sum.Updated != 1 || sum.Unchanged != 1 || sum.Pruned != 1 {
		t.Errorf("second ingest %+v", sum)
	}
	if want := []string{"d", "a", "b"}; !reflect.DeepEqual(upserted, want) {
		t.Errorf("OnChange saw %v, want %v (added, updated, then removed)", upserted, want)
	}
	all, err := store.All()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range all {
		ids = append(ids, p.ID+":"+p.Title)
	}
	if want := []string{"a:Alpha v2", "c:Gamma", "d:Delta"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("store holds %v, want %v", ids, want)
	}
	// A feed with nothing usable neither counts as success nor prunes.
	bad := write("bad.jsonl", `{"title":"no id"}`+"\n")
	sum, err = Ingest(context.Background(), []string{bad}, nil, store, IngestOptions{Prune: true})
	if err == nil || sum.Pruned != 0 {
		t.Errorf("unusable feed: err %v pruned %d", err, sum.Pruned)
	}
	if n, _ := store.Len(); n != 3 {
		t.Errorf("store has %d products after an unusable feed, want 3", n)
	}
	// A missing file among good ones is reported, the rest is read, and
	// pruning is skipped.
	sum, err = Ingest(context.Background(), []string{filepath.Join(dir, "missing.json"), v1}, nil, store, IngestOptions{Prune: true})
	if err != nil || len(sum.SourceErrors) != 1 || sum.Pruned != 0 || sum.Indexed != 3 {
		t.Errorf("missing source: err %v summary %+v", err, sum)
	}
}

// TestStoreRoundTrip: every field survives the store's encoding.
func TestStoreRoundTrip(t *testing.T) {
	ps, _, _ := loadTestdata(t, "messy.jsonl", nil)
	gm, _, _ := loadTestdata(t, "google-merchant.tsv", GoogleMerchantMapping())
	ps = append(ps, gm...)
	ps = append(ps, Product{ID: "z", Title: "Zero", Price: -1, Rating: 3.25, Popularity: 1e6, Attributes: map[string]string{"k": ""}})
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Upsert(ps); err != nil {
		t.Fatal(err)
	}
	back, err := store.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(ps) {
		t.Fatalf("%d back, want %d", len(back), len(ps))
	}
	for i := range ps {
		if !reflect.DeepEqual(ps[i], back[i]) {
			t.Errorf("product %d\n put %+v\n got %+v", i, ps[i], back[i])
		}
	}
}

func TestHandler(t *testing.T) {
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var seen int
	h := Handler(store, "s3cret", func(ctx context.Context, up []Product, removed []string) error {
		seen += len(up)
		return nil
	})
	post := func(target, token, ctype, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := post("/api/catalog", "", "application/x-ndjson", "{}"); w.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d", w.Code)
	}
	if w := post("/api/catalog", "wrong", "application/x-ndjson", "{}"); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", w.Code)
	}
	w := post("/api/catalog", "s3cret", "text/csv", "id,title,price\nx1,Kettle,20\nx2,,5\n")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"indexed":1`) || !strings.Contains(w.Body.String(), `"missing_title":1`) ||
		!strings.Contains(w.Body.String(), `"quarantine_sample":[{"reason":"missing_title"`) {
		t.Errorf("csv upload: %d %s", w.Code, w.Body)
	}
	if seen != 1 {
		t.Errorf("onChange saw %d products, want 1", seen)
	}
	w = post("/api/catalog?format=jsonl&prune=1", "s3cret", "", `{"id":"x9","title":"Toaster","price":30}`+"\n")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"pruned":1`) {
		t.Errorf("jsonl upload with prune: %d %s", w.Code, w.Body)
	}
	w = post("/api/catalog", "s3cret", "application/json", `[{"title":"no id"}]`)
	if w.Code != http.StatusUnprocessableEntity {
		t.Errorf("unusable feed: %d %s", w.Code, w.Body)
	}
	if w := post("/api/catalog?mapping=nope", "s3cret", "", "{}"); w.Code != http.StatusBadRequest {
		t.Errorf("unknown mapping: %d", w.Code)
	}
	if n, _ := store.Len(); n != 1 {
		t.Errorf("store has %d products, want 1", n)
	}
	var buf bytes.Buffer
	r := httptest.NewRequest(http.MethodGet, "/api/catalog", &buf)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
	if w := (func() *httptest.ResponseRecorder {
		hh := Handler(store, "", nil)
		r := httptest.NewRequest(http.MethodPost, "/api/catalog", strings.NewReader("{}"))
		r.Header.Set("Authorization", "Bearer ")
		w := httptest.NewRecorder()
		hh.ServeHTTP(w, r)
		return w
	})(); w.Code != http.StatusForbidden {
		t.Errorf("empty token configured: %d", w.Code)
	}
}

// readmeBlock returns the n-th fenced block of the given language in the
// README's section on loading a catalogue, so the documented examples are
// the tested ones.
func readmeBlock(t *testing.T, lang string, n int) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Loading your catalogue")
	if !ok {
		t.Fatal("README.md has no section on loading a catalogue")
	}
	parts := strings.Split(section, "```"+lang+"\n")
	if len(parts) <= n+1 {
		t.Fatalf("README.md's catalogue section has no %s block %d", lang, n)
	}
	return parts[n+1][:strings.Index(parts[n+1], "```")]
}

// TestReadmeMappings runs the README's two example mappings on feeds of
// the shapes they describe, as a new user would.
func TestReadmeMappings(t *testing.T) {
	ctx := context.Background()
	y, err := ParseMapping([]byte(readmeBlock(t, "yaml", 0)), "yaml")
	if err != nil {
		t.Fatalf("README YAML example: %v", err)
	}
	csvFeed := "Artikelnummer;Bezeichnung;Kurztext;Hersteller;Preis;Warengruppe;Lager;Bild-URL;Farbe\n" +
		"K-1;Wasserkocher;\"<p>1,7 l &amp; Edelstahl</p>\";Kochwerk;29,99;Küche|Kleingeräte;ja;https://x/k1.jpg;Silber\n"
	ps, sum, err := LoadSources(ctx, []Source{ReaderSource("shop.csv", FormatAuto, strings.NewReader(csvFeed))}, y, LoadOptions{})
	if err != nil || sum.Indexed != 1 {
		t.Fatalf("YAML example: %v %+v", err, sum)
	}
	if p := ps[0]; p.ID != "K-1" || p.Description != "1,7 l & Edelstahl" || p.Price != 2999 || p.Currency != "EUR" ||
		!reflect.DeepEqual(p.Category, []string{"Küche", "Kleingeräte"}) || p.Availability != AvailabilityInStock || p.Attributes["Farbe"] != "Silber" {
		t.Errorf("YAML example product %+v", p)
	}

	j, err := ParseMapping([]byte(readmeBlock(t, "json", 1)), "json")
	if err != nil {
		t.Fatalf("README JSON example: %v", err)
	}
	feed := `{"product":{"name":"Trail shoe","brand":{"name":"Peakline"},"breadcrumbs":["Sport","Running","Shoes"]},"offer":{"price_cents":8990,"currency":"CHF","in_stock":false},"reviews":{"average":8.4,"count":31},"links":{"web":"https://x/shoe"},"specs":{"weight":"280 g","drop":"8 mm"}}` + "\n"
	ps, sum, err = LoadSources(ctx, []Source{ReaderSource("m.jsonl", FormatAuto, strings.NewReader(feed))}, j, LoadOptions{})
	if err != nil || sum.Indexed != 1 {
		t.Fatalf("JSON example: %v %+v", err, sum)
	}
	if p := ps[0]; p.ID == "" || p.Title != "Trail shoe" || p.Brand != "Peakline" || p.Price != 8990 || p.Currency != "CHF" ||
		p.Availability != AvailabilityOutOfStock || p.Rating != 4.2 || p.ReviewCount != 31 || p.URL != "https://x/shoe" ||
		!reflect.DeepEqual(p.Category, []string{"Sport", "Running", "Shoes"}) || p.Attributes["weight"] != "280 g" {
		t.Errorf("JSON example product %+v", p)
	}
}

func TestFacetsAndSearchText(t *testing.T) {
	p := Product{ID: "1", Title: "Kettle", Name: "K1", Brand: "Kochwerk", Category: []string{"Kitchen", "Small appliances"},
		Description: "Steel.", Colors: []string{"silver"}, PriceBand: "25-50", Availability: AvailabilityInStock}
	want := map[string][]string{"brand": {"Kochwerk"}, "category": {"Kitchen", "Small appliances"}, "colour": {"silver"},
		"price_band": {"25-50"}, "availability": {"in_stock"}}
	if got := p.Facets(); !reflect.DeepEqual(got, want) {
		t.Errorf("Facets() = %v, want %v", got, want)
	}
	if got := p.SearchText(); got != "Kettle \n K1 \n Kochwerk \n Kitchen \n Small appliances \n Steel." {
		t.Errorf("SearchText() = %q", got)
	}
	if got := (&Product{ID: "2", Title: "Bare"}).Facets(); len(got) != 0 {
		t.Errorf("empty product facets %v", got)
	}
}

// TestGroupKey: the streaming hash equals hashing brandKey and titleKey,
// and near-identical spellings share a key.
func TestGroupKey(t *testing.T) {
	for _, tc := range [][2]string{{"Acme", "Acme Widget & Co"}, {"ACME Inc.", "  acme  WIDGET, co!"}, {"Müller", "Größe ÄÖÜ 12"}, {"", "x"}} {
		h := fnv.New64a()
		h.Write([]byte(brandKey(tc[0])))
		h.Write([]byte{0})
		h.Write([]byte(titleKey(tc[1])))
		if got, want := GroupKey(tc[0], tc[1]), strconv.FormatUint(h.Sum64(), 36); got != want {
			t.Errorf("GroupKey(%q, %q) = %s, want %s", tc[0], tc[1], got, want)
		}
	}
	if GroupKey("Acme", "Acme Widget & Co") != GroupKey("ACME Inc.", "  acme  WIDGET, co!") {
		t.Error("near-identical products in different groups")
	}
	if GroupKey("Acme", "Widget") == GroupKey("Acme", "Widget 2") {
		t.Error("different products in one group")
	}
}

// TestStoreInUse: a second OpenStore on the same data dir fails with an
// error that says why, instead of hanging.
func TestStoreInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := OpenStore(dir); err == nil {
		s2.Close()
		t.Fatal("second OpenStore succeeded while the first holds the file")
	} else if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("error %q does not say the store is in use", err)
	}
}

// TestCompressedSources: gzip and zip feeds, from a file and from a
// one-shot stream (an HTTP body: the zip is spooled to a temporary file),
// give the same products as the plain feed.
func TestCompressedSources(t *testing.T) {
	plain, err := os.ReadFile("testdata/messy.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	var zb bytes.Buffer
	za := zip.NewWriter(&zb)
	w, _ := za.Create("feed/messy.jsonl")
	w.Write(plain)
	w2, _ := za.Create("feed/more.csv")
	w2.Write([]byte("id,title,price\nz1,Zip extra,1.00\n"))
	za.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f.zip"), zb.Bytes(), 0o644)

	ref, refSum, _ := loadTestdata(t, "messy.jsonl", nil)
	for name, src := range map[string]Source{
		"gzip stream":  ReaderSource("upload.jsonl.gz", FormatAuto, bytes.NewReader(gz.Bytes())),
		"gzip sniffed": ReaderSource("upload", FormatAuto, bytes.NewReader(gz.Bytes())),
		"zip stream":   ReaderSource("upload.zip", FormatAuto, bytes.NewReader(zb.Bytes())),
		"zip file":     FileSources(filepath.Join(dir, "f.zip"))[0],
	} {
		ps, sum, err := LoadSources(context.Background(), []Source{src}, nil, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		isZip := strings.HasPrefix(name, "zip")
		want := len(ref)
		if isZip {
			want++ // the CSV entry
		}
		if len(ps) != want || sum.Quarantined != refSum.Quarantined {
			t.Errorf("%s: %d products, %d quarantined; want %d, %d", name, len(ps), sum.Quarantined, want, refSum.Quarantined)
			continue
		}
		for i := range ref {
			if !reflect.DeepEqual(ps[i], ref[i]) {
				t.Errorf("%s: product %d = %+v, want %+v", name, i, ps[i], ref[i])
			}
		}
		if isZip && ps[len(ps)-1].ID != "z1" {
			t.Errorf("%s: last product %q, want z1 from the second entry", name, ps[len(ps)-1].ID)
		}
	}
}

// TestLoadCancel: cancelling the context stops a run; it returns the
// context's error and every goroutine it started has ended.
func TestLoadCancel(t *testing.T) {
	var feed strings.Builder
	for i := 0; i < 50000; i++ {
		feed.WriteString(`{"id":"` + strconv.Itoa(i) + `","title":"Product","price":1}` + "\n")
	}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, _, err := LoadSources(ctx, []Source{ReaderSource("big.jsonl", FormatAuto, strings.NewReader(feed.String()))}, nil, LoadOptions{
		ProgressEvery: 1000,
		Progress: func(Progress) {
			calls++
			cancel()
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after a cancelled run, %d before", n, before)
	}
}
