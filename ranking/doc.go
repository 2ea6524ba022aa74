// Package ranking is the final ranking stage: it reranks retrieval's best
// candidates with a cross-encoder and blends that with the retrieval score,
// the shopper's profile, stock and the store's business rules.
//
// # Rerankers
//
// Reranker scores (query, text) pairs, one score per text, higher is more
// relevant; the document text is retrieval.ProductText of the product, as
// in training. New(Config) picks a backend by Config.Kind ("unknown
// reranker %q" otherwise):
//
//   - KindONNX (onnx.go): a BERT-family cross-encoder exported to ONNX
//     (config.json with one label, vocab.txt, model.onnx: input_ids,
//     attention_mask, token_type_ids -> logits [batch, 1]) loaded with
//     inference.LoadModel; on CPU model.int8.onnx instead when the
//     directory has one (Config.ModelFile; see Int8 below). Pairs are
//     tokenized [CLS] query [SEP] text [SEP] (token types 0/1,
//     longest-first truncation to the model's max length,
//     inference.Tokenizer.EncodePair), sorted by length, and run in batches
//     of at most Config.BatchSize (8 on CPU) split evenly, run by up to one
//     goroutine per session of the model's pool (default one session per
//     core), the caller's included. At most Config.MaxInflight calls
//     (default 4 × sessions) run or wait for a session; one more fails at
//     once with an error wrapping inference.ErrBusy, so load is shed, never
//     queued without bound. Device "cuda" loads model.onnx with ONNX
//     Runtime's CUDA provider; when that fails (the CPU-only runtime "make
//     ort" fetches has no CUDA) and a CPU load succeeds, it logs one slog
//     warning with the CUDA error and runs on CPU; ONNX.Device and
//     ONNX.ModelFile report what runs.
//   - KindRemote (remote.go): POST Config.URL with {"query","texts"},
//     answered by [{"index","score"}] in any order (Hugging Face
//     text-embeddings-inference's /rerank, and training/'s reference
//     server); every index must appear once with a finite score. Each call
//     is bounded by Config.Timeout (300 ms) and the response by
//     Config.MaxResponseBytes (1 MiB); an optional bearer token is sent.
//     Every failure that is not the caller's context ending wraps
//     ErrUnavailable (a timeout also wraps context.DeadlineExceeded).
//
// Reason maps an error to a metric label: timeout, busy, unavailable,
// canceled or error.
//
// # Blend
//
// Ranker.Rank takes the first TopK (50) hits, best first, and computes per
// candidate (Features):
//
//	Rerank       reranker score, min-max normalised over the TopK candidates to [0, 1]
//	Retrieval    retrieval score, min-max normalised over the same candidates to [0, 1]
//	Personal     Personalizer.Boost (events.Profile.Boost), clamped to [0, 1]
//	Availability 0 in stock or unknown, -0.5 preorder, -1 out of stock
//	Rules        summed weights of the matching boost rules (brand, category, product id)
//
//	Score = Weights.Rerank·Rerank + Weights.Retrieval·Retrieval
//	      + Weights.Personal·Personal + Weights.Availability·Availability + Rules
//
// Min-max rather than z-scores: the features then share the [0, 1] scale of
// Boost, a weight reads as "the most this feature can move an item", and
// both BM25 and reciprocal-rank-fusion scores map the same way. A feature
// whose values are all equal over the candidates is 0 for all. Sponsored
// rules then add their boost to at most Rules.MaxSponsored (1) candidates,
// those that score best with it, and mark exactly those Sponsored (the UI
// must label them); a sponsored product beyond that cap ranks on its own
// merit, unmarked. The candidates are sorted by Score (ties keep retrieval
// order); hits beyond TopK follow in retrieval order, unblended.
// Out-of-stock products are demoted, not removed: filters belong to
// retrieval. DefaultWeights are documented starting values until tuned on
// the dev judgments.
//
// # Fallback
//
// Rank never fails a turn for a reranker problem. When Score fails (busy,
// timeout, remote down, wrong number of scores, a non-finite score) the
// Rerank feature is 0 for every candidate, so the order is the retrieval
// order with personal, availability and rule features (sponsored
// placements included) still applied, and Result.Fallback is true with
// Result.Cause the error, for the caller's metric (Reason(Cause)). Rank
// returns an error only when ctx has ended (ctx.Err()) or a hit has no
// product. A nil Reranker blends without the cross-encoder and is not a
// fallback.
//
// # Concurrency and cost
//
// ONNX, Remote and Ranker are safe for concurrent use; Ranker is immutable
// after NewRanker, and no context is stored. Rank costs one Score call plus
// about 35 µs for 50 candidates (texts, normalisation, features, rules,
// sort; BenchmarkRank50). An ONNX Score of 50 pairs costs 50 tokenizations
// (a few µs each, bounded by the max length) and ONNX Runtime work
// proportional to 50 × max length × layers × hidden²: for models/reranker
// about 9 ms of CPU with the int8 graph against 17–18 ms with the float one
// (BenchmarkRerank50FloatVsInt8; BenchmarkRerank50 measures the default;
// BENCHMARKS.md has the figures). Each session runs its batches on the
// calling thread (one intra-op thread); one session of two intra-op
// threads, spinning or not, and larger batches measured no faster. A Remote Score is one HTTP round
// trip on a pooled connection (up to 64 idle connections kept).
//
// # Int8
//
// model.int8.onnx is model.onnx with each weight MatMul replaced by ONNX
// Runtime's DynamicQuantizeMatMul (training/quantize.py: int8 weights,
// 7-bit symmetric per output column, activations quantized to uint8 per
// call). It is the CPU default because it costs about half the CPU time
// of the float graph for the same ranking: on models/reranker and the dev
// judgments, Spearman ≥ 0.97 per query against model.onnx
// (TestRerankerInt8Agreement, which fails on a stale or lossier file) and
// the same nDCG@10 at the default blend. Because activations are
// quantized over a whole batch, padding included, a pair's score moves a
// little with the pairs that share its batch (up to 0.11 logit between
// batches of 1, 8 and 50 on the demo candidates); like all scores it is
// comparable within one call only. CUDA loads model.onnx
// (ONNX Runtime's dynamic int8 ops are CPU kernels). Re-run quantize.py
// after every re-export of model.onnx.
//
// # Rules file
//
// LoadRules reads the JSON form of Rules (see Rules) strictly: unknown
// fields, type errors (with line), trailing data and invalid rules are
// errors naming the field, such as "boosts[2].weight". testdata/rules.json
// is an example.
package ranking
