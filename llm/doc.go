// Package llm answers shoppers through any OpenAI-compatible chat-completions
// endpoint (OpenAI, vLLM, llama.cpp server, Ollama's /v1) with streaming,
// grounded on the products and policy passages the caller retrieved, and
// checks that the answer stays on them.
//
// # Contract
//
// A Client is safe for concurrent use; New validates its Config and makes
// no network call. Client.Stream makes one streaming POST
// {BaseURL}/chat/completions per call (one HTTP stream, on a kept-alive
// connection when one is idle) and nothing else: no retries, no caching.
//
// What is sent: the model name, max_tokens (max_completion_tokens for the
// OpenAI reasoning models go-openai knows) and temperature, and a prompt
// made of fixed rules, Request.Intent, up to 10 products (id, title, brand,
// model name, price with currency, up to 8 attributes), up to 3 policy
// passages (title, source, text cut to 1200 characters), the last 6 history
// messages (600 characters each) and the question (1000 characters). All of
// it goes to the endpoint as given: the caller must pass text already
// redacted of personal data. The API key is sent only in the Authorization
// header and never appears in errors or in Config.String.
//
// Timeouts: the first content token must arrive within
// Config.FirstTokenTimeout (default 8 s), measured from the call and
// covering connecting and the server's queue; the whole answer within
// Config.Timeout (default 30 s). The caller's context bounds both: its
// cancellation (a closed socket, the turn's deadline) closes the HTTP stream
// at once and Stream returns an error wrapping ctx.Err().
//
// Grounding: tokens are passed to onToken as they arrive, before the answer
// is complete; only then does CheckGrounded run, so a caller that streamed
// tokens to the shopper must replace them with its template when Stream
// returns ErrUngrounded. CheckGrounded is heuristic: it catches ids, model
// codes (or, with a Names, catalogue product names) and prices that were not
// given, not every invented claim.
//
// Cost on the caller's side is small next to the model's: building the
// prompt (a few kilobytes), one JSON decode per streamed chunk, and the
// guard's regular-expression scans of the answer. See BenchmarkStream.
package llm
