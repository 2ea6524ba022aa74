// Package inference runs BERT-family ONNX encoders for the assistant:
// ONNX Runtime set-up, a WordPiece tokenizer, a session pool and
// micro-batching.
//
// # Runtime
//
// Init loads the ONNX Runtime shared library once per process, found from
// RuntimeConfig.LibPath (--ort-lib), $ASSISTANT_ORT_LIB, or
// third_party/onnxruntime/libonnxruntime.so.1 (filled by "make ort", i.e.
// scripts/fetch-ort.sh) in the working directory, a parent of it, or beside
// the executable. A missing or unloadable library is one error matching
// ErrNoRuntime that names the fix.
//
// # Tokenizer
//
// LoadTokenizer reads a standard BERT vocab.txt and tokenizer_config.json
// and reproduces the training pipeline's Python BertTokenizer id for id
// (TestTokenizerParity runs models/intent/golden/tokens.jsonl). A Tokenizer
// is immutable and safe for concurrent use. Encode on an ASCII utterance
// costs one allocation (the three result slices share it) and one map
// lookup per candidate word piece; non-ASCII text adds NFC/NFD passes over
// pooled buffers.
//
// # Model, pool and batching
//
// LoadModel loads any Hugging Face ONNX export (input_ids, attention_mask,
// optional token_type_ids -> logits) with labels from config.json id2label,
// into a pool of ModelOptions.Sessions sessions (default GOMAXPROCS, one
// intra-op thread each: on 2 cores this beat 1×2, 2×2 and 4×1 in
// BenchmarkClassifyParallel). Model.Logits is safe for concurrent use: it
// takes a free session (waiting, or returning ctx.Err()), pads the batch to
// its longest sequence and runs it; padded rows give the same logits as
// unpadded ones to within float rounding (TestIntentModelParity).
//
// Batcher sits in front of a Model for concurrent single requests. When
// nothing is queued and a session is free, a request runs at once on the
// caller's goroutine (lowest latency: no hand-off, nothing to batch with).
// Otherwise it joins a bounded queue; one worker per session takes the next
// request, and everything queued by the time it holds a session (up to
// MaxBatch, optionally waiting MaxWait for more) runs as one padded batch.
// A full queue returns ErrBusy at once, never a growing pile of goroutines.
// A request whose context ends while queued returns ctx.Err() and is
// dropped before it runs. Batcher is safe for concurrent use; per request
// the hot path costs tokenization (done by the caller), at most two channel
// hand-offs and its share of one ONNX Runtime call. Close the Batcher before
// its Model; Model.Close waits for running batches.
package inference
