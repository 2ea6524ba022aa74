package catalog

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// LoadOptions tune Load and Ingest. The zero value is usable.
type LoadOptions struct {
	// Quarantine receives one JSON line (a QuarantineEntry) per record that
	// was not indexed. Nil discards them; they are still counted.
	Quarantine io.Writer
	// Workers is the number of goroutines mapping and cleaning records;
	// <= 0 means GOMAXPROCS. Reading and decompressing take one more.
	Workers int
	// Progress, when set, is called from the calling goroutine about every
	// ProgressEvery records (default 10,000) and once at the end.
	Progress      func(Progress)
	ProgressEvery int
}

// Progress reports a run in flight.
type Progress struct {
	Source      string `json:"source"`
	Read        int    `json:"read"`
	Quarantined int    `json:"quarantined"`
	Done        bool   `json:"done"`
}

// Summary reports a Load or Ingest run; it is printed as JSON by
// `assistant ingest` and answered by POST /api/catalog.
type Summary struct {
	Sources []string `json:"sources"`
	Mapping string   `json:"mapping"`
	// Read counts every record met, good or bad.
	Read int `json:"read"`
	// Indexed counts distinct good products of this run.
	Indexed int `json:"indexed"`
	// Added, Updated and Unchanged compare Indexed with the store (Ingest
	// only); Pruned counts products removed because the feed lacked them.
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Pruned    int `json:"pruned"`
	// Duplicates counts records whose id was already read in this run;
	// the last one wins. DuplicateIDs lists the first 20 such ids.
	Duplicates   int      `json:"duplicates"`
	DuplicateIDs []string `json:"duplicate_ids,omitempty"`
	// NearDuplicateGroups counts groups of products with different ids but
	// the same brand and normalised title (see Product.Group).
	NearDuplicateGroups int `json:"near_duplicate_groups"`
	// Quarantined counts the records not indexed, by reason (Reason*).
	Quarantined         int            `json:"quarantined"`
	QuarantinedByReason map[string]int `json:"quarantined_by_reason"`
	// Warnings counts values dropped from records that were indexed
	// (a bad list price, an unknown availability, ...).
	Warnings map[string]int `json:"warnings,omitempty"`
	// SourceErrors lists the feeds that could not be read to the end (a
	// missing file, a corrupt archive); the others were still read.
	SourceErrors []string `json:"source_errors,omitempty"`
	ElapsedMS    int64    `json:"elapsed_ms"`
}

// QuarantineEntry is one line of the quarantine file.
type QuarantineEntry struct {
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	Source string `json:"source"`
	// Line is the 1-based line where the record starts (JSON Lines, CSV);
	// Offset its byte offset in the (decompressed) source; Index its
	// position among the source's records.
	Line   int   `json:"line,omitempty"`
	Offset int64 `json:"offset"`
	Index  int   `json:"index"`
	// The original record: Record when it is valid JSON, RecordText when it
	// is other UTF-8 text (a CSV row, broken JSON), RecordBase64 otherwise.
	Record       json.RawMessage `json:"record,omitempty"`
	RecordText   string          `json:"record_text,omitempty"`
	RecordBase64 string          `json:"record_base64,omitempty"`
}

func newEntry(r *rawRecord, reason, detail string) QuarantineEntry {
	e := QuarantineEntry{Reason: reason, Detail: detail, Source: r.source, Line: r.line, Offset: r.offset, Index: r.index}
	switch {
	case !utf8.Valid(r.data):
		e.RecordBase64 = base64.StdEncoding.EncodeToString(r.data)
	case r.fields == nil && json.Valid(r.data):
		e.Record = json.RawMessage(r.data)
	default:
		e.RecordText = string(r.data)
	}
	return e
}

// Load reads every feed matching the patterns in fsys, maps, cleans and
// validates each record, de-duplicates by id (last wins), and returns the
// good products in feed order plus a summary. Bad records go to
// opts.Quarantine when set.
func Load(ctx context.Context, fsys fs.FS, patterns []string, m *Mapping, opts LoadOptions) ([]Product, Summary, error) {
	srcs, err := FSSources(fsys, patterns...)
	if err != nil {
		return nil, Summary{}, err
	}
	return LoadSources(ctx, srcs, m, opts)
}

// LoadSources is Load over any Sources (files on disk, an HTTP body).
func LoadSources(ctx context.Context, srcs []Source, m *Mapping, opts LoadOptions) ([]Product, Summary, error) {
	var out []Product
	pos := map[string]int{}
	d := newDedup()
	sum, err := run(ctx, srcs, m, opts, func(p *Product, sum *Summary) error {
		if i, ok := pos[p.ID]; ok {
			sum.Duplicates++
			if len(sum.DuplicateIDs) < 20 {
				sum.DuplicateIDs = append(sum.DuplicateIDs, p.ID)
			}
			out[i] = *p
			return nil
		}
		pos[p.ID] = len(out)
		out = append(out, *p)
		return nil
	})
	sum.Indexed = len(out)
	for i := range out { // exact, now that duplicates are resolved
		if d.group(&out[i]) {
			sum.NearDuplicateGroups++
		}
	}
	return out, sum, err
}

// dedup groups near-duplicate products and canonicalises brand spellings
// within a run. It holds one small entry per brand and per group.
type dedup struct {
	brands map[string]string // brandKey -> canonical spelling
	groups map[uint64]uint8  // Group (as a number) -> 1: one product, 2: several
}

func newDedup() *dedup {
	return &dedup{brands: map[string]string{}, groups: map[uint64]uint8{}}
}

// brand returns the canonical spelling of a brand: the first spelling seen
// of the same letters and digits (ignoring case and corporate suffixes),
// without its corporate suffix ("ACME Inc." and "acme, inc" -> "ACME").
func (d *dedup) brand(b string) string {
	if b == "" {
		return b
	}
	k := brandKey(b)
	if k == "" {
		return b
	}
	if c, ok := d.brands[k]; ok {
		return c
	}
	c := trimCorporateSuffix(b)
	d.brands[k] = c
	return c
}

// group records a product (each id once) in its near-duplicate group and
// reports whether it is the group's second product, so the group is new.
func (d *dedup) group(p *Product) bool {
	k, err := strconv.ParseUint(p.Group, 36, 64)
	if err != nil {
		return false
	}
	switch d.groups[k] {
	case 0:
		d.groups[k] = 1
	case 1:
		d.groups[k] = 2
		return true
	}
	return false
}

type batch struct {
	seq  int
	recs []rawRecord
	out  []mapped
}

type mapped struct {
	p      Product
	reason string
	detail string
}

const batchSize = 256

// run streams srcs through the workers and calls put, in feed order, for
// every good product (brand already canonical); it fills the summary.
func run(ctx context.Context, srcs []Source, m *Mapping, opts LoadOptions, put func(*Product, *Summary) error) (Summary, error) {
	start := time.Now()
	sum := Summary{QuarantinedByReason: map[string]int{}, Warnings: map[string]int{}}
	if m == nil {
		m = DefaultMapping()
	}
	sum.Mapping = m.Name
	for _, s := range srcs {
		sum.Sources = append(sum.Sources, s.Name)
	}
	format := FormatAuto
	if m.Format != "" {
		format, _ = ParseFormat(m.Format)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	mappers := make([]*mapper, workers)
	for i := range mappers {
		mp, err := newMapper(m)
		if err != nil {
			return sum, err
		}
		mappers[i] = mp
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *batch, workers*2)
	results := make(chan *batch, workers*2)
	var readErr error
	var sourceErrs []string
	readerDone := make(chan struct{})
	go func() { // reader
		defer close(readerDone)
		defer close(jobs)
		seq := 0
		b := &batch{seq: seq, recs: make([]rawRecord, 0, batchSize)}
		send := func() bool {
			select {
			case jobs <- b:
			case <-ctx.Done():
				return false
			}
			seq++
			b = &batch{seq: seq, recs: make([]rawRecord, 0, batchSize)}
			return true
		}
		for _, src := range srcs {
			if src.Format == FormatAuto {
				src.Format = format
			}
			err := readSource(ctx, src, func(r rawRecord) error {
				b.recs = append(b.recs, r)
				if len(b.recs) == batchSize && !send() {
					return ctx.Err()
				}
				return nil
			})
			var tooBig *http.MaxBytesError
			if err != nil && (ctx.Err() != nil || errors.As(err, &tooBig)) {
				readErr = err
				return
			}
			if err != nil { // a missing file, a corrupt archive: go on with the others
				sourceErrs = append(sourceErrs, err.Error())
			}
		}
		if len(b.recs) > 0 {
			send()
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(mp *mapper) {
			defer wg.Done()
			for b := range jobs {
				b.out = make([]mapped, len(b.recs))
				for i := range b.recs {
					r := &b.recs[i]
					o := &b.out[i]
					rec, reason, detail := mp.decode(r)
					if reason == "" {
						o.p, reason, detail = mp.product(rec)
					}
					o.reason, o.detail = reason, detail
					if reason == "" {
						r.data, r.fields = nil, nil // keep only what quarantine needs
					}
				}
				select {
				case results <- b:
				case <-ctx.Done():
					return
				}
			}
		}(mappers[w])
	}
	go func() { wg.Wait(); close(results) }()

	var qw *bufio.Writer
	var qenc *json.Encoder
	if opts.Quarantine != nil {
		qw = bufio.NewWriterSize(opts.Quarantine, 64<<10)
		qenc = json.NewEncoder(qw)
		qenc.SetEscapeHTML(false)
	}
	every := opts.ProgressEvery
	if every <= 0 {
		every = 10000
	}
	d := newDedup()
	pending := map[int]*batch{}
	next := 0
	var err error
	lastSource := ""
	for b := range results {
		if err != nil {
			continue // drain
		}
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for i := range b.recs {
				r, o := &b.recs[i], &b.out[i]
				sum.Read++
				lastSource = r.source
				if o.reason != "" {
					sum.Quarantined++
					sum.QuarantinedByReason[o.reason]++
					if qenc != nil && err == nil {
						err = qenc.Encode(newEntry(r, o.reason, o.detail))
					}
				} else {
					o.p.Brand = d.brand(o.p.Brand)
					if err == nil {
						err = put(&o.p, &sum)
					}
				}
				if opts.Progress != nil && sum.Read%every == 0 {
					opts.Progress(Progress{Source: r.source, Read: sum.Read, Quarantined: sum.Quarantined})
				}
			}
			if err != nil {
				cancel()
				break
			}
		}
	}
	cancel()     // stops the reader if the run ended early
	<-readerDone // readErr and sourceErrs are the reader's until now
	if qw != nil {
		if ferr := qw.Flush(); err == nil {
			err = ferr
		}
	}
	for _, mp := range mappers {
		for k, v := range mp.warn {
			sum.Warnings[k] += v
		}
	}
	sum.SourceErrors = sourceErrs
	if err == nil && readErr != nil {
		err = readErr
	}
	if err == nil {
		err = parent.Err()
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Source: lastSource, Read: sum.Read, Quarantined: sum.Quarantined, Done: true})
	}
	sum.ElapsedMS = time.Since(start).Milliseconds()
	return sum, err
}
