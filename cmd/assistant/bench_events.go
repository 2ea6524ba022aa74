package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/events"
)

// runBenchEvents is "assistant bench events": post a realistic behaviour
// stream (Zipf product popularity; sessions with view → click → cart →
// purchase funnels) to a running server's POST /api/events at a target rate
// for a duration, while probe events of fresh shoppers measure how long an
// accepted event takes to show in GET /api/profile. Prints one JSON object
// (events.LoadReport) on stdout.
func runBenchEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of a running assistant serve")
	rate := fs.Int("rate", 50000, "target events/s over all workers (0: as fast as the server accepts)")
	workers := fs.Int("workers", 4, "concurrent posting connections")
	batch := fs.Int("batch", 500, "events per POST (the server's limit is 1000)")
	duration := fs.Duration("duration", 0, "how long to send (default 30s)")
	users := fs.Int("users", 10000, "distinct shoppers")
	zipf := fs.Float64("zipf", 1.1, "Zipf exponent of product popularity (> 1)")
	products := fs.String("products", "demo", `product ids: "demo" (the embedded demo catalogue, most popular = highest review count) or "synthetic:N"`)
	probeEvery := fs.Duration("probe-every", 0, "start a visibility probe this often (default 100ms)")
	probeTimeout := fs.Duration("probe-timeout", 0, "give up on a probe after this long (default 10s)")
	seed := fs.Int64("seed", 1, "random seed")
	token := fs.String("admin-token", "", "the server's --admin-token, for the probes' GET /api/profile")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rate < 0 || *workers < 1 || *batch < 1 || *users < 1 || *zipf <= 1 {
		return fmt.Errorf("bench events: need --rate >= 0, --workers/--batch/--users >= 1 and --zipf > 1")
	}
	ids, err := benchProductIDs(ctx, *products)
	if err != nil {
		return fmt.Errorf("bench events: %w", err)
	}
	fmt.Fprintf(stderr, "bench events: %d products, %d shoppers, target %d events/s, %d workers × %d per POST → %s\n",
		len(ids), *users, *rate, *workers, *batch, *url)
	rep, err := events.RunLoad(ctx, events.LoadConfig{
		BaseURL: *url, Rate: *rate, Workers: *workers, Batch: *batch, Duration: *duration,
		Products: ids, Users: *users, ZipfS: *zipf, ProbeEvery: *probeEvery, ProbeTimeout: *probeTimeout, Seed: *seed, AdminToken: *token,
	})
	if err != nil {
		return fmt.Errorf("bench events: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// benchProductIDs returns product ids, most popular first.
func benchProductIDs(ctx context.Context, spec string) ([]string, error) {
	if n, ok := strings.CutPrefix(spec, "synthetic:"); ok {
		count, err := strconv.Atoi(n)
		if err != nil || count < 2 {
			return nil, fmt.Errorf("--products %q: want synthetic:N with N >= 2", spec)
		}
		ids := make([]string, count)
		for i := range ids {
			ids[i] = "p" + strconv.Itoa(i)
		}
		return ids, nil
	}
	if spec != "demo" {
		return nil, fmt.Errorf("--products %q: want demo or synthetic:N", spec)
	}
	prods, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		return nil, fmt.Errorf("load demo catalogue: %w", err)
	}
	sort.SliceStable(prods, func(i, j int) bool { return prods[i].ReviewCount > prods[j].ReviewCount })
	ids := make([]string, len(prods))
	for i := range prods {
		ids[i] = prods[i].ID
	}
	if len(ids) < 2 {
		return nil, fmt.Errorf("demo catalogue has %d products", len(ids))
	}
	return ids, nil
}
