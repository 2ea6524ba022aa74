package sessions

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// BufferConfig tunes NewBuffered. Zero fields take the defaults named.
type BufferConfig struct {
	// MaxTurns bounds the turns held while the backend is down, over all
	// sessions (default 100,000). Beyond it writes fail with
	// ErrUnavailable, as without the buffer.
	MaxTurns int
	// CacheSessions is how many sessions' metadata are remembered to answer
	// Get while the backend is down (default 50,000).
	CacheSessions int
	// RetryEvery is how often held writes are retried (default 500ms).
	RetryEvery time.Duration
	// Log receives one line when the backend goes down and one when the
	// held writes are flushed. Default slog.Default().
	Log *slog.Logger
}

// Buffered is a Store that keeps chat going while its backend is down
// (Redis stopped, a disk error): writes that fail with ErrUnavailable are
// held in memory, in order per session, and written by a background loop
// once the backend answers again; later writes to a session with held
// writes queue behind them, so a transcript never changes order. While the
// backend is down, Get answers from the metadata of sessions this process
// has seen (cached on every read and write), with held changes applied, and
// History answers with the held turns of that session (the stored ones are
// out of reach) — enough for a live conversation to go on. Sessions this
// process has never seen, List and Ping report ErrUnavailable as before.
//
// What is held is lost if the process dies before the backend returns, and
// beyond MaxTurns writes fail. A write that timed out at the backend may
// have been applied there; its retry may then store it twice. Degraded()
// and Held() expose the state for logs and metrics. Safe for concurrent
// use.
type Buffered struct {
	Store
	cfg   BufferConfig
	log   *slog.Logger
	cache *lru.Cache[string, Session]

	// flushMu is held by each flush and by DeleteUser, so an erasure
	// never races a held write of the same sessions.
	flushMu sync.Mutex

	mu      sync.Mutex
	pending map[string]*held // by session id
	order   []string         // session ids in the order they were first held
	turns   int              // held turns, all sessions

	degraded atomic.Bool
	stop     chan struct{}
	done     chan struct{}
}

// held is what one session waits to have written, in order: a Create (if
// the session was created during the outage), turns, then metadata.
type held struct {
	create *Session
	turns  []Turn
	meta   map[string]string
}

// NewBuffered wraps s. Close stops the retry loop (flushing once more) and
// closes s.
func NewBuffered(s Store, cfg BufferConfig) *Buffered {
	if cfg.MaxTurns <= 0 {
		cfg.MaxTurns = 100_000
	}
	if cfg.CacheSessions <= 0 {
		cfg.CacheSessions = 50_000
	}
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = 500 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	c, _ := lru.New[string, Session](cfg.CacheSessions)
	b := &Buffered{Store: s, cfg: cfg, log: cfg.Log, cache: c, pending: map[string]*held{}, stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

// Degraded reports whether writes are being held because the backend is
// down.
func (b *Buffered) Degraded() bool { return b.degraded.Load() }

// Held is the number of turns waiting to be written.
func (b *Buffered) Held() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.turns
}

func (b *Buffered) markDown(op string, err error) {
	if !b.degraded.Swap(true) {
		b.log.Warn("session store down: holding writes in memory and answering from what this process knows", "op", op, "err", err)
	}
}

// hold queues fn's change for id; false when the buffer is full.
func (b *Buffered) hold(id string, nturns int, fn func(h *held)) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.turns+nturns > b.cfg.MaxTurns {
		return false
	}
	h := b.pending[id]
	if h == nil {
		h = &held{}
		b.pending[id] = h
		b.order = append(b.order, id)
	}
	fn(h)
	b.turns += nturns
	return true
}

// holding reports whether id has held writes (new writes queue behind).
func (b *Buffered) holding(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending[id] != nil
}

// Create implements Store.
func (b *Buffered) Create(ctx context.Context, s Session) error {
	err := b.Store.Create(ctx, s)
	if err == nil {
		b.remember(s)
		return nil
	}
	if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
		return err
	}
	b.markDown("create", err)
	now := time.Now().UTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now
	}
	s.Meta = maps.Clone(s.Meta)
	if !b.hold(s.ID, 0, func(h *held) { c := s; h.create = &c }) {
		return err
	}
	b.remember(s)
	return nil
}

// Get implements Store.
func (b *Buffered) Get(ctx context.Context, id string) (Session, error) {
	if !b.holding(id) {
		s, err := b.Store.Get(ctx, id)
		if err == nil {
			b.remember(s)
			return s, nil
		}
		if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return s, err
		}
		b.markDown("get", err)
	}
	s, ok := b.cache.Get(id)
	if !ok {
		return Session{}, ErrUnavailable
	}
	s.Meta = maps.Clone(s.Meta)
	return s, nil
}

// Append implements Store.
func (b *Buffered) Append(ctx context.Context, id string, turns ...Turn) error {
	if !b.holding(id) {
		err := b.Store.Append(ctx, id, turns...)
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		b.markDown("append", err)
	}
	now := time.Now().UTC()
	cp := slices.Clone(turns)
	for i := range cp {
		if cp[i].At.IsZero() {
			cp[i].At = now
		}
	}
	if !b.hold(id, len(cp), func(h *held) { h.turns = append(h.turns, cp...) }) {
		return ErrUnavailable
	}
	if s, ok := b.cache.Get(id); ok {
		s.Turns += len(cp)
		s.UpdatedAt = now
		b.cache.Add(id, s)
	}
	return nil
}

// SetMeta implements Store.
func (b *Buffered) SetMeta(ctx context.Context, id string, kv map[string]string) error {
	if !b.holding(id) {
		err := b.Store.SetMeta(ctx, id, kv)
		if err == nil {
			b.applyMeta(id, kv)
			return nil
		}
		if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		b.markDown("set meta", err)
	}
	if !b.hold(id, 0, func(h *held) {
		if h.meta == nil {
			h.meta = map[string]string{}
		}
		maps.Copy(h.meta, kv)
	}) {
		return ErrUnavailable
	}
	b.applyMeta(id, kv)
	return nil
}

// History implements Store. While the backend is down it returns the
// session's held turns (the last limit of them).
func (b *Buffered) History(ctx context.Context, id string, limit int) ([]Turn, error) {
	turns, err := b.Store.History(ctx, id, limit)
	if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
		if err == nil {
			b.mu.Lock()
			if h := b.pending[id]; h != nil && len(h.turns) > 0 {
				turns = append(turns, h.turns...)
				if limit > 0 && len(turns) > limit {
					turns = turns[len(turns)-limit:]
				}
			}
			b.mu.Unlock()
		}
		return turns, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.pending[id]
	if h == nil {
		return nil, err
	}
	out := slices.Clone(h.turns)
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// DeleteUser implements Store. It waits for a flush in progress, erases
// the user's sessions in the backend, then drops everything this process
// holds of them: held writes of the deleted sessions, sessions of the user
// created during an outage and not written yet (their ids are added to the
// result), and cached metadata. When the backend fails (ErrUnavailable)
// nothing is dropped: erasure cannot be held for later, the caller retries.
func (b *Buffered) DeleteUser(ctx context.Context, userID string) ([]string, error) {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	ids, err := b.Store.DeleteUser(ctx, userID)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return ids, err
	}
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
	}
	b.mu.Lock()
	dropped := map[string]bool{}
	for id, h := range b.pending {
		if !gone[id] && (h.create == nil || h.create.UserID != userID) {
			continue
		}
		if !gone[id] {
			ids = append(ids, id)
			gone[id] = true
		}
		b.turns -= len(h.turns)
		delete(b.pending, id)
		dropped[id] = true
	}
	if len(dropped) > 0 {
		b.order = slices.DeleteFunc(b.order, func(id string) bool { return dropped[id] })
	}
	b.mu.Unlock()
	for _, id := range b.cache.Keys() {
		if s, ok := b.cache.Peek(id); ok && (gone[id] || s.UserID == userID) {
			b.cache.Remove(id)
		}
	}
	return ids, err
}

// remember caches a session's metadata.
func (b *Buffered) remember(s Session) {
	s.Meta = maps.Clone(s.Meta)
	b.cache.Add(s.ID, s)
}

// applyMeta merges kv into the cached metadata, like SetMeta does.
func (b *Buffered) applyMeta(id string, kv map[string]string) {
	s, ok := b.cache.Get(id)
	if !ok {
		return
	}
	s.Meta = mergeMeta(maps.Clone(s.Meta), kv)
	s.UpdatedAt = time.Now().UTC()
	b.cache.Add(id, s)
}

func (b *Buffered) loop() {
	defer close(b.done)
	t := time.NewTicker(b.cfg.RetryEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.flush()
			return
		case <-t.C:
			b.flush()
		}
	}
}

// flush writes held changes, session by session in the order they were
// first held, until the backend fails again.
func (b *Buffered) flush() {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	for {
		b.mu.Lock()
		if len(b.order) == 0 {
			b.mu.Unlock()
			if b.degraded.Swap(false) {
				b.log.Info("session store back: held writes flushed")
			}
			return
		}
		id := b.order[0]
		h := b.pending[id]
		// Write a snapshot; h keeps everything (reads still see it) and
		// gets writes arriving meanwhile, until the written part is removed.
		batch := held{create: h.create, turns: slices.Clone(h.turns), meta: maps.Clone(h.meta)}
		sentMeta := batch.meta
		b.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n := len(batch.turns)
		err := b.write(ctx, id, &batch)
		cancel()

		b.mu.Lock()
		written := n - len(batch.turns)
		h.turns = h.turns[written:]
		b.turns -= written
		if batch.create == nil {
			h.create = nil
		}
		if batch.meta == nil {
			for k, v := range sentMeta {
				if h.meta[k] == v {
					delete(h.meta, k) // not changed again meanwhile
				}
			}
			if len(h.meta) == 0 {
				h.meta = nil
			}
		}
		if err != nil {
			b.mu.Unlock()
			return // still down; retry on the next tick
		}
		if h.create == nil && len(h.turns) == 0 && h.meta == nil {
			delete(b.pending, id)
			b.order = b.order[1:]
		}
		b.mu.Unlock()
	}
}

// write applies one session's held batch, clearing each part once written
// so a failure part-way retries only the rest.
func (b *Buffered) write(ctx context.Context, id string, h *held) error {
	if h.create != nil {
		if err := b.Store.Create(ctx, *h.create); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
		h.create = nil
	}
	if len(h.turns) > 0 {
		err := b.Store.Append(ctx, id, h.turns...)
		if errors.Is(err, ErrNotFound) {
			// The session expired meanwhile: nothing to add the turns to.
			b.log.Warn("held turns dropped: their session is gone", "session", id, "turns", len(h.turns))
			err = nil
		}
		if err != nil {
			return err
		}
		h.turns = nil
	}
	if h.meta != nil {
		if err := b.Store.SetMeta(ctx, id, h.meta); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		h.meta = nil
	}
	return nil
}

// Close flushes once more, stops the retry loop and closes the backend.
func (b *Buffered) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	if n := b.Held(); n > 0 {
		b.log.Error("closing with held turns not written: the session store is still down", "turns", n)
	}
	return b.Store.Close()
}
