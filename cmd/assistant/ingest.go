package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/shopassist/shopassist/catalog"
)

// listFlag is a repeatable string flag (--catalog a.json --catalog b.csv);
// a value may also list several paths separated by commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

const ingestUsage = `usage: assistant ingest --catalog PATH [--catalog PATH ...] [flags]

Reads product feeds (JSON arrays, JSON Lines, CSV/TSV; plain, .gz or .zip),
maps them onto the product model, cleans, normalises and de-duplicates them,
and upserts them into <data-dir>/catalog.db, which "assistant serve" loads.
Bad records go to the quarantine file with their reason. Prints the summary as
JSON on stdout; exits non-zero only when nothing usable was read.

flags:
`

// runIngest implements `assistant ingest`.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		catalogs   listFlag
		mapping    string
		dataDir    string
		prune      bool
		quarantine string
		progress   string
	)
	fs.Var(&catalogs, "catalog", "feed file to read (repeatable; comma-separated lists accepted; - for stdin)")
	fs.StringVar(&mapping, "mapping", "", "mapping file (.yaml, .yml or .json) or shipped mapping name (icecat, google-merchant, default); default: fields named like the product model")
	fs.StringVar(&dataDir, "data-dir", "./var", "directory holding catalog.db")
	fs.BoolVar(&prune, "prune", false, "remove stored products absent from these feeds (skipped when nothing usable was read)")
	fs.StringVar(&quarantine, "quarantine", "", "JSON Lines file for rejected records (default <data-dir>/quarantine.jsonl)")
	fs.StringVar(&progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, periodic lines otherwise), bar, lines or none")
	fs.Usage = func() {
		fmt.Fprint(stderr, ingestUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(catalogs) == 0 {
		fs.Usage()
		return errors.New("ingest: --catalog is required")
	}
	var m *catalog.Mapping
	if mapping != "" {
		var err error
		if m, err = catalog.LoadMapping(mapping); err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
	}
	store, err := catalog.OpenStore(dataDir)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer store.Close()
	if quarantine == "" {
		quarantine = filepath.Join(dataDir, "quarantine.jsonl")
	}
	qf, err := os.Create(quarantine)
	if err != nil {
		return fmt.Errorf("ingest: quarantine file: %w", err)
	}
	defer qf.Close()

	rep := newProgressReporter(progress, stderr)
	opts := catalog.IngestOptions{
		LoadOptions: catalog.LoadOptions{Quarantine: qf, Progress: rep.report, ProgressEvery: 5000},
		Prune:       prune,
	}
	sum, err := catalog.Ingest(ctx, catalogs, m, store, opts)
	rep.finish()
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if encErr := enc.Encode(sum); encErr != nil && err == nil {
		err = encErr
	}
	if cerr := qf.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if sum.Quarantined > 0 {
		fmt.Fprintf(stderr, "ingest: %d records quarantined in %s\n", sum.Quarantined, quarantine)
	} else {
		os.Remove(quarantine)
	}
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// progressReporter shows ingestion progress: a progress bar on a terminal,
// a line every few seconds otherwise.
type progressReporter struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	lines bool
	start time.Time
	last  time.Time
}

func newProgressReporter(mode string, w io.Writer) *progressReporter {
	r := &progressReporter{w: w, start: time.Now(), last: time.Now()}
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		r.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("ingesting"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSpinnerType(14),
		)
	case "lines":
		r.lines = true
	}
	return r
}

func (r *progressReporter) report(p catalog.Progress) {
	switch {
	case r.bar != nil:
		r.bar.Describe("ingesting " + filepath.Base(p.Source))
		r.bar.Set64(int64(p.Read))
	case r.lines && (p.Done || time.Since(r.last) >= 2*time.Second):
		r.last = time.Now()
		el := time.Since(r.start).Seconds()
		fmt.Fprintf(r.w, "ingest: %s: %d records read, %d quarantined, %.0f records/s\n", p.Source, p.Read, p.Quarantined, float64(p.Read)/max(el, 1e-3))
	}
}

func (r *progressReporter) finish() {
	if r.bar != nil {
		r.bar.Finish()
		fmt.Fprintln(r.w)
	}
}
