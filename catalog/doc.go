// Package catalog turns product feeds of any shape into the store's
// product model: reading, mapping, cleaning, normalising, de-duplicating,
// computing search features, quarantining bad records, and persisting the
// prepared catalogue that `serve` loads.
//
// # Pipeline
//
//	Source (file, zip entry, gzip, HTTP body)
//	  └─ reader, one goroutine: JSON array (element boundaries only), JSON
//	     Lines, CSV/TSV with a header; yields raw records with line/offset
//	       └─ workers (LoadOptions.Workers, default GOMAXPROCS): decode
//	          (own single-pass JSON decoder), Mapping → Product, CleanText,
//	          prices to minor units + ISO currency, category paths,
//	          availability, features (PriceBand, Colors, Group)
//	            └─ one consumer, in feed order: brand canonicalisation,
//	               de-duplication by id (last wins), near-duplicate groups,
//	               quarantine (JSON Lines), then Load's slice or
//	               Ingest's batched Store.Upsert
//
// # Streaming and memory
//
// Feeds are streamed: a record is held only while it travels through a
// bounded pipeline (batches of 256 records, two batches per worker in
// flight), so memory does not grow with the size of a feed. A single
// record is bounded by 8 MiB. Zip archives are read in place when the
// source can seek (files, embed.FS); otherwise (an HTTP body) they are
// spooled to a temporary file, not to memory. Load holds the resulting
// []Product; Ingest holds only the ids of the run (for duplicates and
// pruning), one entry per near-duplicate group and per brand, and one
// write batch (IngestOptions.BatchSize, default 2,000 products).
//
// # Cost
//
// Parse + clean + normalise runs at tens of thousands of products per
// second per core (see BENCH_NOTES.md / BENCHMARKS.md); CleanText returns
// already-clean ASCII text without allocating. Store.All decodes the
// compact binary encoding of the products (interning attribute names and
// repeated values) and is what bounds `serve` start-up.
//
// # Concurrency
//
// Load, LoadSources, Ingest and IngestSources may run concurrently with
// each other on different stores; each call starts its own goroutines and
// returns only after they have ended (also on error or cancellation of
// ctx). A Store is safe for concurrent use, and one process at a time may
// open a data dir. Mapping values must not be modified while in use;
// IcecatMapping, GoogleMerchantMapping and DefaultMapping return fresh
// copies. CleanText and the other exported functions are pure. Handler
// ingests one feed at a time and answers 429 to a second.
//
// # Nothing lost
//
// Every record read is either indexed or written to the quarantine with a
// reason (Reason* constants), its source, line (or element index) and
// byte offset, and the original bytes; a value dropped from an indexed
// record is counted in Summary.Warnings. Repeated ids are counted in
// Summary.Duplicates; a feed that cannot be read to the end is named in
// Summary.SourceErrors and disables pruning.
package catalog
