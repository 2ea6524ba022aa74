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
// (Redis: the ids go to hashes per minute of the events' ts, and one Lua
// script records the new ids and writes the profiles they change, only if
// nothing it depends on changed since Apply read it, atomically per batch;
// memory: a seen map with expiry), so every accepted event counts exactly
// once as long as a redelivery comes within ProfileConfig.SeenTTL
// (default 24 h).
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
// # Encryption at rest
//
// With Config.Sealer and ProfileConfig.Sealer (a *privacy.Keyring from the
// key file; Start passes each config's Sealer to its backend) the Redis
// backends encrypt with AES-256-GCM, the key id stored in each record:
//   - each profile record P u:S (everything kept about a shopper:
//     affinities, counts, last event, recently viewed, purchased, recent
//     queries), bound to its key name (associated data), so a record copied
//     to another shopper's key does not open;
//   - each stream entry's payload (the events: ids, user and session ids,
//     products, queries, prices), bound to the stream key.
//
// Not encrypted: key names (they carry the shopper id, a pseudonym with
// Config.Pseudonymize), the ids of applied events (seen hashes), trending
// counts (product id → count, no shopper), stream entry ids and the
// consumer group's state. The memory backends keep everything in process
// memory, never at rest, and ignore the Sealers.
//
// Records written before a key was configured stay readable and are sealed
// at their next write (profiles) or age out (stream). A record sealed with
// a key the keyring lacks is an error, never silently dropped or
// overwritten: RedisProfiles.Get and Apply fail with an error wrapping
// privacy.ErrUnknownKey (the stream redelivers the batch later), a stream
// entry that does not open stays pending and is logged (Config.Log), and
// Erase reports it. To rotate: put the new key first in the keyring of
// every process, keeping the old ones after it; run RedisProfiles.Rotate,
// which re-seals every profile record not under the current key (safe
// while consumers apply: compare-and-set per record); stream entries
// cannot be rewritten and leave the stream by Config.MaxAge (7 days) or
// MaxLen: RedisStream.Unrotated counts those not under the current key.
// Retire the old key once both report nothing left.
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
// InProcess.Publish: one mutex and a copy. RedisStream.Publish: one
// pipelined round trip per call, one XADD MAXLEN ~ per Config.EntryEvents
// (64) events in a compact binary encoding (sealed: one AES-GCM seal per
// entry). Consume: one XREADGROUP per Config.Batch entries, one Apply per
// Batch events, one XACK per read. RedisProfiles.Apply: two round trips
// per batch: a pipeline of one HMGET per seen hash and one GET per shopper,
// then, after Go has opened, updated and sealed each shopper's record, one
// EVALSHA that re-checks the ids (HMGET) and each record's 9-byte header
// (GETRANGE), then writes the ids (HSET), the records (SET PX) and per
// product a ZINCRBY into its minute bucket (a roll-up every 30 s folds
// finished minutes into hour buckets). A commit that finds a record
// changed by a concurrent consumer re-reads and recomputes only those
// records (rarely, after 3 such commits, under a short apply lock). On the
// shared 2-core machine (BenchmarkRedisApply: 2 callers, batches of 500;
// new or grown profiles): 3.5–8 µs of Redis CPU and 3–6 µs of consumer CPU
// per event, 4–9 µs sealed, against 11–18 µs of Redis CPU for the former
// all-Lua script, which decoded and encoded JSON inside Redis. Get: one GET
// and one open. Trending: a ZUNIONSTORE over up to 60 minute or 48 hour
// buckets (O(products in the window)), cached for 2 s. Profile.Boost and
// Personalize: map look-ups, no I/O. Recommend: Get, up to 9 Candidates
// searches and one Trending.
package events
