// Package retrieval finds candidate products for a shopper's query.
//
// Index is the interface; New picks a backend from Config. The default,
// Embedded, is an in-process BM25F index over product title, name,
// description and brand (plus a low-weight field holding the derived terms
// of model numbers, see Tokenize), with filters applied while scoring.
//
// # Concurrency
//
// Every Index is safe for concurrent use. Embedded guards its data with a
// sync.RWMutex: any number of Search, Get and Len calls run in parallel;
// Upsert and Delete take the write lock for the whole batch, so a batch of
// n products blocks searches for about n × 10–20 µs (the demo catalogue's
// 19,406 products index in 0.16–0.35 s on one shared core, BenchmarkBuild)
// — feed large catalogues in chunks of a few thousand when searches must
// keep flowing. Hits point at
// immutable copies of the products: an Upsert replaces a product with a new
// copy and never changes one a caller may hold.
//
// # Cost of the hot path
//
// Search tokenises the query (no allocation: terms are looked up with
// map[string(bytes)]), walks the posting lists of its distinct terms once,
// scoring each posting with a few float32 operations and evaluating the
// filter the first time a document is met, then keeps the best k with a
// binary min-heap: O(P + M log k) for P postings and M matching documents.
// The per-document score buffer (4 bytes per indexed slot) comes from a
// sync.Pool, so a warm Search allocates only the returned []Hit. Postings
// take 12 bytes each (document slot, one byte of term count per field). On
// the demo catalogue, over the dev queries, search p50 is 7–10 µs at k=10
// and 19–22 µs at k=100, p99 under 1 ms (BenchmarkSearch, one core).
//
// # Updates
//
// Upsert of an existing ID and Delete tombstone the old document slot and
// take it out of the collection statistics at once (document frequencies,
// average field lengths), so scores after any sequence of updates equal those
// of an index built from scratch over the live products. Tombstoned postings
// are skipped while scoring and dropped by a compaction, run inside the
// update that leaves at least 1,024 dead slots making up over a quarter of
// all slots.
package retrieval
