package web

import (
	"sync"
	"time"
)

// Sign-in lockout: after lockAfter failures in a row for a key (a client
// address or an account name), sign-ins for that key are refused for
// lockBase, doubling with each further failure up to lockMax. A success
// clears the key; failures older than lockForget are forgotten.
const (
	lockAfter   = 5
	lockBase    = 30 * time.Second
	lockMax     = 15 * time.Minute
	lockForget  = time.Hour
	lockEntries = 100000 // keys tracked at most
)

// lockout counts failed sign-ins per key. Safe for concurrent use.
type lockout struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*strikes
}

type strikes struct {
	n     int       // failures in a row
	last  time.Time // of the last failure
	until time.Time // locked until
}

func newLockout(now func() time.Time) *lockout {
	return &lockout{now: now, m: map[string]*strikes{}}
}

// wait returns how long the longest lock among keys still lasts (0: none
// is locked).
func (l *lockout) wait(keys ...string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var d time.Duration
	for _, k := range keys {
		if s := l.m[k]; s != nil && s.until.After(now) {
			d = max(d, s.until.Sub(now))
		}
	}
	return d
}

// fail counts a failure for each key, locking those at lockAfter or more.
func (l *lockout) fail(keys ...string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		s := l.m[k]
		if s == nil {
			if len(l.m) >= lockEntries {
				l.sweep(now)
			}
			s = &strikes{}
			l.m[k] = s
		}
		if now.Sub(s.last) > lockForget && !s.until.After(now) {
			s.n = 0
		}
		s.n++
		s.last = now
		if s.n >= lockAfter {
			d := lockMax
			if shift := s.n - lockAfter; shift < 10 {
				d = min(lockBase<<shift, lockMax)
			}
			s.until = now.Add(d)
		}
	}
}

// reset clears keys after a successful sign-in.
func (l *lockout) reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}

// sweep makes room: it drops forgotten keys and, when that is not enough,
// every key that is not locked (locks are kept). l.mu must be held.
func (l *lockout) sweep(now time.Time) {
	for k, s := range l.m {
		if now.Sub(s.last) > lockForget && !s.until.After(now) {
			delete(l.m, k)
		}
	}
	if len(l.m) < lockEntries {
		return
	}
	for k, s := range l.m {
		if !s.until.After(now) {
			delete(l.m, k)
		}
	}
}
