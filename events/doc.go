// Package events ingests shopper behaviour (view, click, add_to_cart,
// purchase, search), carries it through a Stream to consumers that keep live
// Profiles (recency-weighted brand, category and price-band affinities,
// recently viewed, purchased) and trending counts, and uses them to
// personalise search (Personalize, Profile.Boost) and to recommend
// (Recommender, GET /api/recommendations).
//
//	POST /api/events ─ Parse/Check ─> Stream.Publish ─> Stream.Consume ─> Profiles.Apply
//	                                  (in-process queue   (XREADGROUP, apply,
//	                                   or Redis XADD)       then XACK; XAUTOCLAIM)
//
// Backends, chosen by Config.Backend and ProfileConfig.Backend:
//   - memory (default): InProcess stream (bounded queue) and MemoryProfiles;
//     single process, nothing survives a restart.
//   - redis: RedisStream and RedisProfiles, shared by any number of server
//     replicas and consumers (Redis >= 6.2; 7.0 for the lag guard).
//
// # Delivery guarantees
//
// Publish returns nil only once every event is accepted: queued in memory,
// or XADD answered by Redis (durable as Redis's persistence is configured).
// It never drops silently: a full queue, or Redis consumers lagging so far
// that MAXLEN trimming could remove undelivered entries, returns ErrBusy;
// a Redis failure returns an error wrapping ErrUnavailable (the client
// reconnects by itself once Redis is back). With Redis, an accepted event
// is applied even when its consumer crashes: entries stay pending until
// XACK, which follows a successful Apply, and a live consumer takes over
// entries idle longer than Config.ClaimIdle with XAUTOCLAIM. Delivery is
// therefore at-least-once, and Profiles.Apply is idempotent by event id
// (Redis: a Lua script records the ids in hashes per minute of the events'
// ts and applies only the new events, atomically per batch; memory:
// a seen map with expiry), so every accepted event counts exactly once as
// long as a redelivery comes within ProfileConfig.SeenTTL (default 24 h).
// Clients that retry a POST should send their own ids and timestamps:
// server-assigned ids (and, with Redis, a different ts) make a retry a new
// event. The in-process stream loses queued events when the process dies.
//
// # Personal data: pseudonyms, erasure, retention
//
// With Config.Pseudonymize (privacy.Pseudonymizer.ID), Service.Stream
// replaces every event's user and session id by its pseudonym before the
// event is published — the one path of POST /api/events and of the chat's
// event frames — and Service.Profiles looks profiles up (Get, Delete) by
// the pseudonym of the id asked for: raw ids never reach the stream or a
// profile key, and callers keep using raw ids.
//
// Service.Erase(user, its session ids) takes the matching events out of
// the stream (InProcess: still queued; Redis: every entry within MaxLen
// and MaxAge, applied or not; other shoppers' events sharing an entry are
// kept) and deletes the profiles kept under the user and under each
// session (Profiles.Delete). What stays, holding no user or session id:
// trending counts (per product) and the ids of applied events (seen
// hashes, for idempotency).
//
// Retention: a profile goes ProfileTTL (30 days) after its last event
// (Redis: key expiry; memory: read as empty at once, swept later); the
// Redis stream keeps at most about MaxLen entries and none older than
// MaxAge (7 days; each consumer trims once a minute); seen ids go after
// SeenTTL (24 h); trending buckets after 2 h (minutes) and 48 h (hours).
// The in-process stream and profiles live only as long as the process.
//
// # Concurrency
//
// Every exported type is safe for concurrent use except Generator. Any
// number of Consume loops may run against one stream (goroutines or
// processes). No method stores a context.
//
// # Hot path cost
//
// Parse: two JSON scans and a validation per row (a few µs).
// InProcess.Publish: one mutex and a copy. RedisStream.Publish: one pipelined round trip per
// call, one XADD MAXLEN ~ per Config.EntryEvents (64) events in a compact
// binary encoding. Consume: one XREADGROUP per Config.Batch entries, one
// Apply per Batch events, one XACK per read. RedisProfiles.Apply: one
// EVALSHA per batch (about 10 µs of Redis CPU per event on the shared 2-core
// test machine, see BENCH_NOTES.md): one HMGET and one HSET per seen hash
// for the ids, then per shopper of the batch a GET and a SET of its JSON
// profile and a few ZADD/LPUSH, per product a ZINCRBY into its minute
// bucket (a roll-up every 30 s folds finished minutes into hour buckets). A script
// of 500 events runs for 5–10 ms, during which Redis serves nothing else.
// Get: one pipelined round trip of 4 reads. Trending: a ZUNIONSTORE over up
// to 60 minute or 48 hour buckets (O(products in the window)), cached for
// 2 s. Profile.Boost and Personalize: map look-ups, no I/O. Recommend: Get,
// up to 9 Candidates searches and one Trending.
package events
