package events

import (
	"context"
	"slices"
	"sync"
	"time"
)

// InProcess is the default Stream: a bounded in-memory queue. Publish never
// blocks: a batch that does not fit returns ErrBusy and nothing of it is
// queued. Events are lost if the process dies before they are applied;
// use the Redis stream when that matters.
type InProcess struct {
	mu     sync.Mutex
	q      []Event // queued, oldest first
	cap    int
	batch  int
	closed bool
	ready  chan struct{} // signalled (non-blocking) when q grows
}

var (
	_ Stream = (*InProcess)(nil)
	_ Eraser = (*InProcess)(nil)
)

// NewInProcess returns an in-process stream with cfg's QueueSize and Batch.
func NewInProcess(cfg Config) *InProcess {
	cfg = cfg.withDefaults()
	return &InProcess{cap: cfg.QueueSize, batch: cfg.Batch, ready: make(chan struct{}, 1)}
}

// Publish implements Stream. It costs one mutex and a copy of evs.
func (s *InProcess) Publish(ctx context.Context, evs []Event) error {
	if err := ctx.Err(); err != nil {
		return unavailable("publish", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if len(s.q)+len(evs) > s.cap {
		s.mu.Unlock()
		return ErrBusy
	}
	s.q = append(s.q, evs...)
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return nil
}

// Len is the number of queued events not yet taken by a consumer.
func (s *InProcess) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q)
}

// Consume implements Stream. A batch whose apply fails is put back at the
// front of the queue and retried after a pause (100 ms, doubling up to 5 s).
func (s *InProcess) Consume(ctx context.Context, apply ApplyFunc) error {
	backoff := 100 * time.Millisecond
	for {
		s.mu.Lock()
		n := min(len(s.q), s.batch)
		var b []Event
		if n > 0 {
			b = make([]Event, n)
			copy(b, s.q[:n])
			s.q = s.q[n:]
			if len(s.q) == 0 {
				s.q = nil // let the backing array go
			}
		}
		closed := s.closed
		s.mu.Unlock()
		if n == 0 {
			if closed {
				<-ctx.Done()
				return ctx.Err()
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.ready:
			case <-time.After(time.Second):
			}
			continue
		}
		if err := apply(ctx, b); err != nil {
			s.mu.Lock()
			s.q = append(b, s.q...) // back to the front, order kept
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(b) > 0 {
			select { // wake another consumer if more is queued
			case s.ready <- struct{}{}:
			default:
			}
		}
	}
}

// Erase implements Eraser: it removes matching events still queued.
func (s *InProcess) Erase(ctx context.Context, match func(*Event) bool) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable("erase", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.q)
	s.q = slices.DeleteFunc(s.q, func(e Event) bool { return match(&e) })
	return n - len(s.q), nil
}

// Close implements Stream: later Publish calls return ErrClosed.
func (s *InProcess) Close() error {
	s.mu.Lock()
	s.closed = true
	s.q = nil
	s.mu.Unlock()
	return nil
}
