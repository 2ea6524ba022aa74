// Package sessions keeps chat sessions: metadata (user, slots and handoff
// state as Meta) and the transcript of turns, behind the Store interface with
// two backends chosen by New:
//
//   - Embedded (default): a bbolt file <DataDir>/sessions.db; survives
//     restarts; one process at a time (a second one fails to open it).
//   - Redis (Config.RedisURL): shared by any number of chat replicas.
//
// # Contract
//
// Every Store method is safe for concurrent use. A session expires when it
// has not been updated (Create, Append, SetMeta) for Config.TTL (default 30
// days); from then on Get, Append, SetMeta and History return ErrNotFound and
// List omits it, even before its data is deleted (by the embedded sweeper
// every SweepInterval, by key expiry in Redis). Backend failures (disk error,
// Redis down or slow, cancelled context) are wrapped with ErrUnavailable, and
// errors.Is also sees the cause. Redis down: connection refused fails at
// once; an unreachable host within about (MaxRetries+1) × 2 × DialTimeout, a
// hung server within (MaxRetries+1) × ReadTimeout (timeouts 1 s, one retry by
// default), or at the caller's context deadline if sooner. The client
// reconnects by itself when Redis is back. After a timeout a Redis write may
// have been applied even though ErrUnavailable was returned (the reply was
// lost); go-redis's own retry of it is recognised and writes nothing twice.
//
// Append writes all of its turns or none and keeps them in call order;
// concurrent Appends to one session are serialised (each call's turns stay
// contiguous). List pages most recently updated first with an opaque
// cursor; a session updated while a client pages jumps to the front and is
// not repeated on later pages, others are neither repeated nor skipped.
//
// # Erasure and retention
//
// DeleteUser erases a user's sessions (metadata, transcript, index
// entries) through a user → sessions index written by Create: a bucket in
// the embedded file, a hash per user in Redis that expires with the user's
// last session. The index names a user by Config.UserKey (a keyed hash,
// e.g. the privacy pseudonymizer), by a SHA-256 of the id when records are
// encrypted and no UserKey is set, else by the plain id; the sessions keep
// the raw user id (sealed when encrypted), which DeleteUser checks before
// deleting, so a reused session id is never erased for the wrong user.
// Nothing else is kept per user: a session is gone TTL after its last
// update (Config.TTL, --session-ttl), its index entry with it. Buffered
// drops held writes and cached metadata of the erased sessions, and
// sessions of the user created during an outage that were never written.
// Erasure is logical: bbolt does not wipe freed pages, so erased bytes can
// stay in sessions.db's free space until reused (ciphertext when
// encrypted, but session ids and index keys are clear), and Redis keeps
// them in its AOF/RDB files until the next rewrite or snapshot.
//
// # Key rotation
//
// Embedded, Redis, and Buffered over either, implement Rotator. Rotate
// re-seals with the current key of Config.Sealer every stored record for
// which the Sealer's NeedsRotation is true — user ids, meta values and
// transcript turns under an older key, and those written in plain text
// before encryption was turned on — with the same associated data as
// when written, and reports RotateStats (sessions visited, records
// examined, resealed, failed, skipped). What is not sealed stays as it
// is: session ids, timestamps, counts, and the user index, whose keys
// are Config.UserKey hashes (or SHA-256) and whose values are ids and
// times. Without a Sealer, Rotate returns ErrInvalid and writes nothing.
//
// A record that does not open (unknown key, tampered, neither sealed nor
// JSON) is left in place and counted as Failed; Rotate goes on with the
// rest, since one bad record must not block rotating the others, and
// then returns an error wrapping ErrCorrupt (and the cause, such as
// privacy.ErrTampered) that names up to 10 of their sessions, together
// with the stats. Rotate is resumable and idempotent: records already
// under the current key are only read, so a run stopped by a backend
// error or a cancelled context (the stats so far are returned) is
// finished by running it again, and a run after a complete one reseals
// nothing.
//
// Procedure: put the new key first in every replica's keyring, the old
// one after it, and restart them all, so that no writer seals with the
// old key any more; run Rotate; retire the old key once a run reports
// Resealed and Failed 0. Retiring it is what makes the copies left
// behind unreadable: like erased data, overwritten ciphertext stays in
// bbolt free pages and Redis AOF/RDB files until reused or rewritten.
// The rotating process must open the store with the server's Config
// (TTL, KeyPrefix, UserKey), only the keyring changed: another UserKey
// makes the open rebuild the user index (on Redis, beside running
// replicas, losing their fresh index entries), and another TTL lets the
// embedded sweeper delete by it.
//
// Redis is rotated online, beside replicas that keep writing. Rotate
// SCANs P s:* (500 keys a call) and, per 32 sessions, reads their hashes
// and first 500 turns in one pipelined round trip and writes back in
// another: one Lua script per session that replaces a hash field or list
// element only if it still holds the value read, so a concurrent Append
// (list elements never move) or SetMeta (the field keeps the writer's
// value, counted as Skipped) is never lost, and no TTL changes. Longer
// transcripts take one LRANGE and one script per further 500 turns; a
// session that expires meanwhile is skipped, and a session that SCAN
// returns twice is visited twice. Cost: about 2 round trips per 32
// sessions, plus the SCAN over every key of the database. A DeleteUser
// racing Rotate checks again a session whose user id was resealed under
// it.
//
// The embedded store is rotated offline: bbolt is single-process and the
// server holds sessions.db, so stop the server and let the rotating
// command open the data dir itself. Rotate walks every stored session in
// id order, expired ones not yet swept included, in write transactions
// of at most 500 records (one fsync each); the store stays usable by the
// process that runs it.
//
// # Hot path cost (one chat turn: History then Append)
//
// Embedded: History is a read transaction walking the last N keys of the
// session's bucket, no lock against writers. Append is one write
// transaction (writes are serialised) ending in an fsync, so its latency is
// the disk's fsync latency.
// Redis: History is one MULTI round trip (EXISTS + LRANGE -N -1); Append and
// SetMeta are one EVALSHA round trip each (a Lua script: RPUSH, HSET,
// PEXPIREAT, ZADD, and for a session with a user an HSET on its index),
// atomic on the server. DeleteUser (not on the hot path): embedded, one
// write transaction; Redis, HKEYS, one pipelined HGET per session of the
// user and one script (again for the sessions whose stored user id
// changed meanwhile, at most 3 passes).
package sessions
