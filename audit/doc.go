// Package audit says what each operator role may do and keeps an
// append-only record of what operators did.
//
// # Roles
//
// An Operator (a console account, an API token, or the bootstrap admin of
// --operator-password) has a Role: RoleViewer reads conversations,
// transcripts and analytics; RoleAgent also takes conversations over,
// replies and hands them back; RoleAdmin also exports transcripts, reads
// the originals of redacted messages, erases users and reads this log.
// Role.Allows is the one table of who may do which Action; package chat
// enforces it per endpoint of the operator API and package web tells the
// console, which hides what the role cannot do.
//
// # The log
//
// A Log appends Records (time, operator, role, action, outcome, session,
// target, client address) and reads the most recent ones back, newest
// first. Two homes, one factory (New):
//
//   - File: JSON lines in a file opened with O_APPEND and mode 0600,
//     fsync'ed after every record (operator actions are a few per minute;
//     each one durable before the response beats batching). One process
//     per file: replicas each write their own, or share Redis.
//   - Redis: XADD to a stream (default "sa:audit") without MAXLEN; the
//     application never trims or deletes entries, so the log is
//     append-only from its side (anyone with Redis access can still delete
//     it: ship it elsewhere for tamper evidence).
//
// Memory keeps the last records in a ring, for tests and for a server run
// without a configured log (lost at restart).
//
// Records hold no personal data of shoppers: session ids and message ids
// only, and for an erasure the pseudonymous user id (privacy.Pseudonymizer),
// so the log can prove an erasure without keeping who was erased. Failed
// sign-ins name an account only when it exists (a password typed into the
// name field is never logged).
//
// Every Log is safe for concurrent use. Append costs one write and one
// fsync (File), one round trip (Redis) or a lock (Memory); Recent reads
// back from the end (File reads only the file's tail).
package audit
