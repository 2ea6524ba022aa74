// Package redisbus is the Redis pub/sub implementation of chat.Bus: the
// way several `assistant serve` replicas sharing one Redis tell each other
// about session changes and deliver an operator's message to whichever
// replica holds the shopper's socket.
//
// Each Bus holds one Redis connection subscribed (PSUBSCRIBE) to every
// channel under its prefix and dispatches each message to the local
// subscribers of its topic, in the order Redis delivered them, from one
// receive goroutine. A message published by this process reaches its own
// subscribers the same way (through Redis, once). Delivery is at most
// once, like Redis pub/sub itself: a replica that is disconnected while a
// message is published misses it (the shopper's transcript in the session
// store is the durable record; the bus only makes it live). go-redis
// re-subscribes by itself after Redis comes back.
//
// Safe for concurrent use. Subscriber functions must not block: they run on
// the receive goroutine.
package redisbus

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Bus is a chat.Bus over Redis pub/sub.
type Bus struct {
	c      *redis.Client
	prefix string
	ps     *redis.PubSub
	log    *slog.Logger
	done   chan struct{}
	ready  chan struct{} // closed at the first subscription confirmation

	mu   sync.RWMutex
	next uint64
	subs map[string]map[uint64]func([]byte)
}

// New subscribes to prefix+"*" on c and starts dispatching. prefix
// namespaces the channels (e.g. "assistant:bus:"), so deployments sharing a
// Redis do not hear each other. It does not wait for Redis: until the
// subscription is live, messages published elsewhere are missed.
func New(c *redis.Client, prefix string, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{c: c, prefix: prefix, log: log, done: make(chan struct{}), ready: make(chan struct{}), subs: map[string]map[uint64]func([]byte){}}
	b.ps = c.PSubscribe(context.Background(), prefix+"*")
	go b.receive()
	return b
}

// Ready waits until the subscription is confirmed by Redis (tests and
// start-up use it to not miss the first messages).
func (b *Bus) Ready(ctx context.Context) error {
	select {
	case <-b.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bus) receive() {
	defer close(b.done)
	confirmed := false
	for m := range b.ps.ChannelWithSubscriptions(redis.WithChannelSize(4096)) {
		var msg *redis.Message
		switch m := m.(type) {
		case *redis.Subscription:
			if !confirmed {
				confirmed = true
				close(b.ready)
			} else {
				b.log.Info("bus re-subscribed to Redis", "pattern", m.Channel)
			}
			continue
		case *redis.Message:
			msg = m
		default:
			continue
		}
		topic, ok := strings.CutPrefix(msg.Channel, b.prefix)
		if !ok {
			continue
		}
		b.mu.RLock()
		fns := make([]func([]byte), 0, len(b.subs[topic]))
		for _, fn := range b.subs[topic] {
			fns = append(fns, fn)
		}
		b.mu.RUnlock()
		payload := []byte(msg.Payload)
		for _, fn := range fns {
			fn(payload)
		}
	}
}

// Publish sends payload to the subscribers of topic in every process on
// this Redis and prefix. It fails when Redis is unreachable.
func (b *Bus) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.c.Publish(ctx, b.prefix+topic, payload).Err()
}

// Subscribe calls fn with each payload published on topic until the
// returned function is called.
func (b *Bus) Subscribe(topic string, fn func(payload []byte)) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := b.next
	if b.subs[topic] == nil {
		b.subs[topic] = map[uint64]func([]byte){}
	}
	b.subs[topic][id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs[topic], id)
		if len(b.subs[topic]) == 0 {
			delete(b.subs, topic)
		}
	}
}

// Close ends the subscription and waits for the receive goroutine.
func (b *Bus) Close() error {
	err := b.ps.Close()
	<-b.done
	return err
}
