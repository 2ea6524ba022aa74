package inference

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy is returned (wrapped) when the request queue is full: the caller
// should shed the request (the chat layer sends a "busy" frame) rather than
// wait.
var ErrBusy = errors.New("inference: busy")

// ErrClosed is returned after Batcher.Close or Model.Close.
var ErrClosed = errors.New("inference: closed")

// BatcherConfig tunes micro-batching. Zero values take the defaults named.
type BatcherConfig struct {
	// MaxBatch caps the sequences run together. Default 32.
	MaxBatch int
	// MaxWait is how long a batch that has a session but fewer than MaxBatch
	// requests waits for more. Default 0: a free session never idles, and
	// batches form from the requests that queue while every session is
	// busy, which is when batching pays. A positive value (bounded to 10ms)
	// trades that much latency at low load for larger batches.
	MaxWait time.Duration
	// QueueSize bounds the requests waiting for a session; one more gets
	// ErrBusy at once. Default 64 per session.
	QueueSize int
}

// Batcher gathers concurrent single-sequence requests into batches for a
// Model's session pool. It is safe for concurrent use. Each request costs
// one channel send and receive plus its share of the batch's run.
type Batcher struct {
	m        *Model
	cfg      BatcherConfig
	queue    chan *request
	done     chan struct{}
	closed   atomic.Bool
	wg       sync.WaitGroup
	batches  atomic.Int64
	seqs     atomic.Int64
	accepted atomic.Int64 // requests run at once or queued (for tests)
}

type request struct {
	ctx context.Context
	enc Encoding
	res chan response // buffered: workers never block on delivery
}

type response struct {
	logits []float32
	err    error
}

// NewBatcher starts one worker per session of m.
func NewBatcher(m *Model, cfg BatcherConfig) *Batcher {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 32
	}
	cfg.MaxWait = min(max(cfg.MaxWait, 0), 10*time.Millisecond)
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64 * m.Sessions()
	}
	b := &Batcher{m: m, cfg: cfg, queue: make(chan *request, cfg.QueueSize), done: make(chan struct{})}
	for range m.Sessions() {
		b.wg.Add(1)
		go b.worker()
	}
	return b
}

// Config returns the effective configuration.
func (b *Batcher) Config() BatcherConfig { return b.cfg }

// Stats reports batches run and sequences in them, for the mean batch size.
func (b *Batcher) Stats() (batches, sequences int64) { return b.batches.Load(), b.seqs.Load() }

// Logits returns the logits of one encoding: at once on the caller's
// goroutine when nothing is queued and a session is free, else through the
// queue as part of a batch. It returns an error wrapping ErrBusy at once
// when the queue is full, and ctx.Err() if ctx ends first (a queued request
// is then dropped before it runs).
func (b *Batcher) Logits(ctx context.Context, enc Encoding) ([]float32, error) {
	if b.closed.Load() || b.m.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Fast path: nothing queued and a session free, so there is nothing to
	// batch with; run on the caller's goroutine and skip two hand-offs.
	if len(b.queue) == 0 {
		select {
		case s := <-b.m.pool:
			b.accepted.Add(1)
			out, err := b.m.run(s, []Encoding{enc})
			b.m.pool <- s
			b.batches.Add(1)
			b.seqs.Add(1)
			if err != nil {
				return nil, err
			}
			return out[0], nil
		default:
		}
	}
	r := &request{ctx: ctx, enc: enc, res: make(chan response, 1)}
	select {
	case b.queue <- r:
		b.accepted.Add(1)
	default:
		return nil, fmt.Errorf("%w: %d requests queued", ErrBusy, cap(b.queue))
	}
	select {
	case res := <-r.res:
		return res.logits, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the workers; queued requests get ErrClosed. It does not close
// the Model.
func (b *Batcher) Close() {
	if b.closed.Swap(true) {
		return
	}
	close(b.done)
	b.wg.Wait()
	for {
		select {
		case r := <-b.queue:
			r.res <- response{err: ErrClosed}
		default:
			return
		}
	}
}

func (b *Batcher) worker() {
	defer b.wg.Done()
	batch := make([]*request, 0, b.cfg.MaxBatch)
	encs := make([]Encoding, 0, b.cfg.MaxBatch)
	var timer *time.Timer
	for {
		var first *request
		select {
		case first = <-b.queue:
		case <-b.done:
			return
		}
		// Wait for a session; requests keep queueing meanwhile, so a busy
		// pool turns into bigger batches.
		var s *session
		select {
		case s = <-b.m.pool:
		case <-b.done:
			first.res <- response{err: ErrClosed}
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case r := <-b.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if len(batch) < b.cfg.MaxBatch && b.cfg.MaxWait > 0 {
			if timer == nil {
				timer = time.NewTimer(b.cfg.MaxWait)
			} else {
				timer.Reset(b.cfg.MaxWait)
			}
		wait:
			for len(batch) < b.cfg.MaxBatch {
				select {
				case r := <-b.queue:
					batch = append(batch, r)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		// Drop requests whose caller has gone.
		live := batch[:0]
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.res <- response{err: err}
				continue
			}
			live = append(live, r)
		}
		batch = live
		if len(batch) > 0 {
			encs = encs[:0]
			for _, r := range batch {
				encs = append(encs, r.enc)
			}
			out, err := b.m.run(s, encs)
			b.batches.Add(1)
			b.seqs.Add(int64(len(batch)))
			for i, r := range batch {
				if err != nil {
					r.res <- response{err: err}
				} else {
					r.res <- response{logits: out[i]}
				}
			}
		}
		b.m.pool <- s
		clear(batch)
		clear(encs)
	}
}
