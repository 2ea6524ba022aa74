// Package chat serves the shopper-facing WebSocket protocol (docs/protocol.md)
// and runs each chat turn.
//
// Each connection has exactly one reader goroutine, one writer goroutine and
// one worker that runs its turns in arrival order. All frames go through a
// send queue capped in frames and bytes: enqueueing never blocks, and a client
// that lets its queue fill is disconnected rather than allowed to grow memory.
// A turn runs under a context derived from the connection's with a deadline
// (Config.TurnTimeout), so a closed socket cancels its work. At most
// Config.MaxConcurrentTurns turns run at once across connections; a turn that
// cannot start within Config.TurnQueueWait is answered with a busy error.
//
// Protocol errors (bad JSON, unknown type, empty or oversized text, invalid
// UTF-8) are answered with an error frame and the connection stays usable; a
// frame over the read limit closes the connection with 1009. Backend errors
// are mapped to protocol codes in one place, errorFrame.
//
// Server is safe for concurrent use. The hot path of a turn is one session
// store append for the shopper's message, one index search, one append for
// the answer, and four or five small JSON frames.
package chat
