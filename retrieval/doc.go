// Package retrieval finds candidate products for a shopper's query.
//
// Index is the interface; New picks a backend from Config. The default,
// Embedded, is an in-process BM25F index over product title, name,
// description and brand, plus two low-weight fields: the words of the
// text-valued attributes, and the derived terms of model numbers (see
// Tokenize); filters apply while scoring. A product's BM25F score is scaled
// by the share of the query's distinct words it matches (a word matched
// only in the attributes counts FieldWeights.Attributes, at most 1).
//
// # Dense and hybrid retrieval
//
// With Config.Encoder set (an ONNXEncoder over a bi-encoder exported by
// training/, or any Encoder), Embedded is hybrid: Upsert embeds
// ProductText of each product in batches and adds it to a VectorIndex, an
// HNSW graph over L2-normalised vectors scored by cosine; Search embeds the
// query and, per Query.Mode, returns BM25 only (ModeLexical), vectors only
// (ModeDense) or both Config.Candidates (200) deep fused by reciprocal rank
// with k = 10, the dense list weighted by Config.DenseWeight (ModeHybrid,
// the default with an Encoder; see FuseWeighted). Without
// an Encoder the index is exactly the BM25 index and dense modes fail with
// ErrNoEncoder. Batches are linked into the graph by parallel goroutines,
// and then the bottom layer is repaired so that every node is reachable
// from the entry point and linked back by one of its neighbours
// (VectorIndex.AddBatch). Filters reach the vector half inside the graph walk: the
// walk passes through rejected nodes but only accepted ones fill the
// results, with ef raised by the filter's estimated pass rate, and a
// filter estimated to pass at most VectorConfig.ExactBelow (2,048) vectors
// switches to an exact scan (VectorIndex.Search). VectorIndex.Exact is the
// brute-force reference. Config.VectorFile persists the vectors (written by
// Close and SaveVectors, loaded by New); on re-ingest a product whose
// embedded text hash is unchanged keeps its vector and graph node, so a
// restart re-encodes nothing. Tombstoned graph nodes (replaced or deleted
// products) are not yet compacted away.
//
// ONNXEncoder loads config.json ("pooling": "mean" over the attention mask,
// the default, or "cls"; optional "query_prefix"/"doc_prefix"),
// vocab.txt and model.onnx with output sentence_embedding [batch, hidden]
// (used as is) or last_hidden_state [batch, seq, hidden] (pooled here), and
// L2-normalises. It keeps its own session pool because inference.Model
// accepts only a 2-D logits output.
//
// The Qdrant backend (Config.Backend "qdrant", Config.QdrantAddr) keeps
// vectors and filter payloads in a Qdrant collection it creates on first
// use, with keyword indexes on brand, category, availability and
// product_id and an integer index on price; upserts go in batches of 256
// points; filters become Qdrant filters, applied by Qdrant inside its
// search; the BM25 half and the fusion stay in Go. Its contract tests run
// when $QDRANT_ADDR is set.
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
// The vector half costs one query embedding (ONNX, the dominant term) plus
// the graph walk: about EfSearch × 2M distance evaluations of 12 ns each
// for 256-d vectors on AVX2+FMA (assembly inner product, portable loop
// elsewhere), and a map lookup per visited node when a filter is set.
// VectorIndex is safe for concurrent use: searches share a read lock;
// AddBatch takes the write lock and inserts on GOMAXPROCS goroutines with
// per-node locks. Figures: BENCH_NOTES.md.
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
