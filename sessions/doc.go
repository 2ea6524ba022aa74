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
// # Hot path cost (one chat turn: History then Append)
//
// Embedded: History is a read transaction walking the last N keys of the
// session's bucket, no lock against writers. Append is one write
// transaction (writes are serialised) ending in an fsync, so its latency is
// the disk's fsync latency.
// Redis: History is one MULTI round trip (EXISTS + LRANGE -N -1); Append and
// SetMeta are one EVALSHA round trip each (a Lua script: RPUSH, HSET,
// PEXPIREAT, ZADD), atomic on the server.
package sessions
