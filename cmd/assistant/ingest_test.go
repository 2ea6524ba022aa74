package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopassist/shopassist/catalog"
)

// TestRunIngest drives `assistant ingest` as a user would: a feed in
// another shape with a mapping file written from the README, the summary
// on stdout, progress lines on stderr, bad rows in the quarantine file,
// then a re-run with --prune, and a run with nothing usable failing.
func TestRunIngest(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "shop.csv")
	os.WriteFile(feed, []byte("Artikelnummer;Bezeichnung;Hersteller;Preis;Warengruppe;Lager\n"+
		"A-1;Wasserkocher <b>Edelstahl</b> 1,7 l;Kochwerk GmbH;\"29,99\";Küche|Kleingeräte;ja\n"+
		"A-2;Toaster (black);kochwerk;19,50;Küche|Kleingeräte;nein\n"+
		"A-3;;Kochwerk;9,99;Küche;ja\n"+
		"A-4;Mixer;Kochwerk;gratis;Küche;ja\n"), 0o644)
	mapping := filepath.Join(dir, "shop.yaml")
	os.WriteFile(mapping, []byte(`name: shop
currency: EUR
category_separator: "|"
fields:
  id: Artikelnummer
  title: Bezeichnung
  brand: Hersteller
  price: Preis
  category: Warengruppe
  availability: Lager
availability:
  ja: in_stock
  nein: out_of_stock
`), 0o644)
	data := filepath.Join(dir, "var")
	var stdout, stderr bytes.Buffer
	err := runIngest(context.Background(), []string{"--catalog", feed, "--mapping", mapping, "--data-dir", data}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runIngest: %v\n%s", err, stderr.String())
	}
	var sum catalog.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout.String())
	}
	if sum.Read != 4 || sum.Indexed != 2 || sum.Added != 2 || sum.QuarantinedByReason["missing_title"] != 1 || sum.QuarantinedByReason["bad_price"] != 1 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(stderr.String(), "records read") || !strings.Contains(stderr.String(), "2 records quarantined") {
		t.Errorf("stderr lacks progress or the quarantine note: %q", stderr.String())
	}
	qb, err := os.ReadFile(filepath.Join(data, "quarantine.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	sc := bufio.NewScanner(bytes.NewReader(qb))
	for sc.Scan() {
		var e catalog.QuarantineEntry
		json.Unmarshal(sc.Bytes(), &e)
		reasons = append(reasons, e.Reason+"@"+strings.TrimSpace(e.RecordText[:3]))
	}
	if strings.Join(reasons, ",") != "missing_title@A-3,bad_price@A-4" {
		t.Errorf("quarantine file holds %v", reasons)
	}
	store, err := catalog.OpenStore(data)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := store.All()
	store.Close()
	if err != nil || len(ps) != 2 {
		t.Fatalf("store: %d products, %v", len(ps), err)
	}
	if p := ps[0]; p.Title != "Wasserkocher Edelstahl 1,7 l" || p.Brand != "Kochwerk" || p.Price != 2999 ||
		strings.Join(p.Category, "/") != "Küche/Kleingeräte" || p.Availability != catalog.AvailabilityInStock {
		t.Errorf("A-1 stored as %+v", p)
	}
	if p := ps[1]; p.Brand != "Kochwerk" || p.Availability != catalog.AvailabilityOutOfStock || strings.Join(p.Colors, ",") != "black" {
		t.Errorf("A-2 stored as %+v (brand canonical, colour from the title)", p)
	}

	// Re-run with one product gone and --prune.
	os.WriteFile(feed, []byte("Artikelnummer;Bezeichnung;Hersteller;Preis;Warengruppe;Lager\nA-1;Wasserkocher <b>Edelstahl</b> 1,7 l;Kochwerk GmbH;\"29,99\";Küche|Kleingeräte;ja\n"), 0o644)
	stdout.Reset()
	stderr.Reset()
	t.Setenv("ASSISTANT_DATA_DIR", data)
	if err := runIngest(context.Background(), []string{"--catalog", feed, "--mapping", mapping, "--prune", "--progress", "none"}, &stdout, &stderr); err != nil {
		t.Fatalf("re-run: %v", err)
	}
	sum = catalog.Summary{}
	json.Unmarshal(stdout.Bytes(), &sum)
	if sum.Unchanged != 1 || sum.Pruned != 1 || sum.Added != 0 || stderr.Len() != 0 {
		t.Errorf("re-run summary %+v, stderr %q", sum, stderr.String())
	}

	// Nothing usable: an error (non-zero exit), and the store is kept.
	os.WriteFile(feed, []byte("Artikelnummer;Bezeichnung\n;nothing\n"), 0o644)
	stdout.Reset()
	err = runIngest(context.Background(), []string{"--catalog", feed, "--mapping", mapping, "--prune"}, &stdout, &stderr)
	if !errors.Is(err, catalog.ErrNothingUsable) {
		t.Errorf("unusable feed: err %v", err)
	}
	if !json.Valid(stdout.Bytes()) {
		t.Errorf("no summary printed on failure: %q", stdout.String())
	}
	if err := runIngest(context.Background(), []string{"--mapping", mapping}, &stdout, &stderr); err == nil {
		t.Error("missing --catalog accepted")
	}
}
