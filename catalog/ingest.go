package catalog

import (
	"context"
	"errors"
)

// IngestOptions tune Ingest.
type IngestOptions struct {
	LoadOptions
	// Prune removes from the store every product absent from this run's
	// feeds. It is skipped (and the summary says pruned 0) when the run
	// failed, a feed could not be read to the end, or nothing was indexed,
	// so a broken feed cannot empty the store.
	Prune bool
	// OnChange, when set, is called after each batch written and after
	// pruning with the products added or updated and the ids removed.
	OnChange func(upserted []Product, removed []string) error
	// BatchSize is the number of products written per store transaction
	// (default 2,000).
	BatchSize int
}

// ErrNothingUsable is returned by Ingest (wrapped) when the feeds held no
// product that could be indexed.
var ErrNothingUsable = errors.New("catalog: nothing usable in the feeds")

// Ingest reads the feeds at paths (files, "-" for standard input; zipped
// or gzipped, JSON, JSON Lines or CSV), maps them with m (DefaultMapping
// when nil) and upserts the good products into store in batches, so memory
// grows with the number of ids, not with the feeds. See IngestSources.
func Ingest(ctx context.Context, paths []string, m *Mapping, store *Store, opts IngestOptions) (Summary, error) {
	return IngestSources(ctx, FileSources(paths...), m, store, opts)
}

// IngestSources is Ingest over any Sources. Repeated ids are counted as
// duplicates, the last one wins; Added, Updated and Unchanged compare with
// what the store held before the run. The error wraps ErrNothingUsable
// when nothing could be indexed.
func IngestSources(ctx context.Context, srcs []Source, m *Mapping, store *Store, opts IngestOptions) (Summary, error) {
	bs := opts.BatchSize
	if bs <= 0 {
		bs = 2000
	}
	// seen holds every id of the run (for duplicates and pruning); true
	// once its first version was written and counted.
	seen := map[string]bool{}
	pendingIdx := map[string]int{}
	var pending []Product
	d := newDedup()
	var sumPtr *Summary
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		ch, err := store.Upsert(pending)
		if err != nil {
			return err
		}
		s := sumPtr
		var upserted []Product
		if opts.OnChange != nil {
			upserted = make([]Product, 0, len(ch.Added)+len(ch.Updated))
		}
		for _, id := range ch.Added {
			if !seen[id] {
				s.Added++
			}
			if opts.OnChange != nil {
				upserted = append(upserted, pending[pendingIdx[id]])
			}
		}
		for _, id := range ch.Updated {
			if !seen[id] {
				s.Updated++
			}
			if opts.OnChange != nil {
				upserted = append(upserted, pending[pendingIdx[id]])
			}
		}
		for _, p := range pending {
			seen[p.ID] = true
		}
		pending = pending[:0]
		clear(pendingIdx)
		if opts.OnChange != nil && len(upserted) > 0 {
			return opts.OnChange(upserted, nil)
		}
		return nil
	}
	sum, err := run(ctx, srcs, m, opts.LoadOptions, func(p *Product, s *Summary) error {
		sumPtr = s
		if _, dup := seen[p.ID]; dup {
			s.Duplicates++
			if len(s.DuplicateIDs) < 20 {
				s.DuplicateIDs = append(s.DuplicateIDs, p.ID)
			}
			if i, ok := pendingIdx[p.ID]; ok {
				pending[i] = *p
				return nil
			}
			// Already written: write the later version; it was counted.
		} else {
			seen[p.ID] = false
			if d.group(p) {
				s.NearDuplicateGroups++
			}
		}
		pendingIdx[p.ID] = len(pending)
		pending = append(pending, *p)
		if len(pending) >= bs {
			return flush()
		}
		return nil
	})
	sumPtr = &sum
	if err == nil {
		err = flush()
	}
	// Each id counts once, as added or updated at its first write, or else
	// unchanged.
	sum.Indexed = len(seen)
	sum.Unchanged = sum.Indexed - sum.Added - sum.Updated
	if err != nil {
		return sum, err
	}
	if sum.Indexed == 0 {
		return sum, ErrNothingUsable
	}
	if opts.Prune && len(sum.SourceErrors) == 0 {
		removed, err := store.Prune(func(id string) bool { _, ok := seen[id]; return ok })
		if err != nil {
			return sum, err
		}
		sum.Pruned = len(removed)
		if opts.OnChange != nil && len(removed) > 0 {
			if err := opts.OnChange(nil, removed); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}
