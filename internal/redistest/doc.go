// Package redistest starts and shares Redis servers for the project's tests.
//
// Addr gives every Redis test a server: $REDIS_ADDR when set (make test
// starts a throwaway server and exports it), else one private redis-server
// per test binary, started on first use on a free loopback port without
// persistence and killed with the binary. Tests sharing a server isolate
// their keys with Prefix (unique per test and run) and may delete them with
// Cleanup.
//
// Start gives a fault test its own server, which it may Stop (SIGKILL, like a
// crash) and Restart on the same port; with Persistent the data survives
// (append-only file fsync'ed on every write, under t.TempDir()).
//
// When no redis-server binary is found, Addr and Start skip the test, naming
// make test, unless $CI is non-empty: then they fail it, so CI never
// silently skips Redis tests.
//
// All functions are safe for concurrent use by parallel tests; a Server's
// methods are safe to call from several goroutines. Starting a server costs
// tens of milliseconds; Addr pays it once per binary.
package redistest
