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
// user and one script.
package sessions
