// Package chat serves the shopper-facing WebSocket protocol (docs/protocol.md),
// runs each chat turn through the dialog manager, and serves the operator
// API (OperatorHandler) for human handoff.
//
// # Connections
//
// Each connection has exactly one reader goroutine, one writer goroutine and
// one worker that runs its turns in arrival order. All frames go through a
// send queue capped in frames and bytes: enqueueing never blocks, and a client
// that lets its queue fill is disconnected rather than allowed to grow memory.
// A turn runs under a context derived from the connection's with a deadline
// (Config.TurnTimeout), so a closed socket cancels its work, an LLM stream
// included. At most Config.MaxConcurrentTurns turns run at once across
// connections; a turn that cannot start within Config.TurnQueueWait is
// answered with a busy error. A connection subscribes to its session's topic
// on the Bus, so operator messages and handoff changes reach every socket
// open on the session (on any replica, with a cross-replica Bus).
//
// Protocol errors (bad JSON, unknown type, empty or oversized text, invalid
// UTF-8) are answered with an error frame and the connection stays usable; a
// frame over the read limit closes the connection with 1009. Backend errors
// are mapped to protocol codes in one place, errorFrame.
//
// # The turn
//
// A turn reads the session's metadata (handoff state and dialog state) and
// redacts the message (privacy.Redact: e-mail addresses, phone numbers,
// card numbers, IBANs and street addresses become "[email]" …; order
// numbers stay), counting what it replaced in
// shopassist_redactions_total{kind}. From then on only the redacted text is
// used: for the intent, the dialog, search, the LLM prompt, logs and the
// stored transcript; the one exception is the address step of a change of
// delivery address, which reads the message as typed. Answers (bot and
// agent) go to the shopper as written and are stored redacted. The
// original of a redacted message is kept only with Deps.Keys, sealed in
// the session's metadata, for admins (see originals.go). While an operator
// holds the session (state agent) the turn only stores the message and
// sends done. Otherwise it classifies the intent, stores the message, and
// the dialog manager (decide) answers, in this order:
//
//  1. a pending question: a clarifying question (budget, product type), an
//     order number, a yes/no confirmation, a new delivery address — unless
//     the message is plainly about something else, which drops it;
//  2. an order number with an order word ("cancel my order 10231") picks that
//     order flow whatever the model said;
//  3. a follow-up on the products shown last ("cheaper ones", "show more",
//     "the second one", "compare the first two");
//  4. the intent: product search (a new need, or a refinement of the current
//     one: see isNewNeed; with one clarifying question when the need is a
//     bare broad product type or the results are mixed), recommendations,
//     order flows over Deps.Orders (track, cancel and change address with a
//     confirmation, refund status), policy answers from Deps.Policies,
//     handoff to a person (complaint, "talk to a human"), small talk, or the
//     out-of-scope answer.
//
// Filters come from intent.SlotExtractor (prices, brands of Deps.Brands,
// colours, sizes) and are carried across turns in the dialog state, stored
// as JSON in the session's metadata ("dialog"), until a new need replaces
// them. Prices go to retrieval.Filter; colours and sizes are search terms.
//
// The answer step (render) takes the reply — template text plus the
// products and policy passages it rests on — and, with Deps.LLM, has the LLM
// word grounded answers, streaming token frames through the send queue; the
// message frame then carries the LLM's text, or the template when the LLM
// timed out, failed or named something it was not given (counted in
// shopassist_llm_fallbacks_total). Without an LLM the template is the
// answer.
//
// # Handoff
//
// The handoff state lives in the session's metadata ("handoff",
// "operator"): bot → handoff_pending (complaint or "talk to a human") →
// agent (an operator takes over) → bot (hand back). Feedback frames are
// stored in the metadata under "fb:<message id>" (the comment redacted) and
// shown with the turn in the operator API.
//
// # Operators: roles and audit
//
// Config.OperatorAuth names the operator and role of each operator API
// request (web.OperatorAuth); each endpoint checks the role with
// audit.Role.Allows and answers 403 otherwise: viewers read, agents also
// take over, reply and hand back, admins also export, read originals and
// read the audit log. Every action and every refusal is appended to
// Deps.Audit (Server.Audit) — a transcript view once per operator and
// session per 10 minutes, since the console reloads it on every change.
// A read whose record cannot be written is refused (503); a change is done
// and its lost record counted (shopassist_audit_failures_total) and
// logged. OperatorEndpoint gives an endpoint outside this package (the
// erasure API) the same checks.
//
// # Cost
//
// Server is safe for concurrent use. The hot path of a product turn is one
// redaction of the message and one of the answer (about 1 µs each without
// personal data; see package privacy), one
// session store read (metadata), one append for the shopper's message, one
// index search, one append for the answer, one metadata write (dialog
// state, last turn), and a few small JSON frames; slot extraction and the
// dialog state's JSON cost microseconds (BenchmarkDialogLayer). The operator
// list, its text search and analytics walk the sessions (at most 10,000 per
// request).
package chat
