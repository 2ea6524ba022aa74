// Package intent classifies shopper utterances into the intents of an ONNX
// sequence classifier (see package inference), with an out-of-scope
// threshold, and evaluates it on labelled CSV files.
//
// A Classifier is safe for concurrent use. Classify tokenizes on the
// caller's goroutine (about a microsecond for a short ASCII utterance) and
// sends the encoding through an inference.Batcher, so concurrent calls
// share ONNX Runtime runs; when the batcher's queue is full it returns an
// error wrapping inference.ErrBusy at once. ClassifyBatch (used by Eval)
// bypasses the batcher and runs chunks of 32 on all sessions in parallel.
//
// Out of scope: the model's softmax is taken over all its classes; if the
// best class is the OOS label, or its probability is below the threshold
// (config.json oos_threshold, overridden by Config.Threshold), the result's
// Label is the OOS label. Confidence is always the raw best probability and
// Best the class it belongs to, so callers can see how close a rejection was.
package intent
