package chat

import (
	"context"
	"sync"
)

// Bus carries live updates between chat servers: frames for a session's
// open sockets (an operator's message, a handoff change) and session-change
// notices for the operator console's stream. The in-process MemoryBus is the
// default and reaches the sockets of this process only; a bus over Redis
// pub/sub makes the same deliveries across replicas.
//
// Delivery is best effort and at most once: a subscriber that is not
// listening when a message is published misses it (the transcript in the
// session store is the record; a reconnecting client replays it).
// Implementations are safe for concurrent use.
type Bus interface {
	// Publish sends payload to every current subscriber of topic.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe calls fn with each payload published on topic until the
	// returned function is called. fn must not block: it runs on the
	// publisher's goroutine (MemoryBus) or the bus's receive loop.
	Subscribe(topic string, fn func(payload []byte)) (unsubscribe func())
}

// Topics of the chat's bus messages.
const (
	// ChangesTopic carries a sessionChange (JSON) whenever a session gets a
	// turn or changes handoff state.
	ChangesTopic = "sessions"
)

// SessionTopic carries ServerFrames (JSON) for the open sockets of one
// session.
func SessionTopic(sessionID string) string { return "session:" + sessionID }

// MemoryBus is the in-process Bus.
type MemoryBus struct {
	mu   sync.RWMutex
	next uint64
	subs map[string]map[uint64]func([]byte)
}

var _ Bus = (*MemoryBus)(nil)

// NewMemoryBus returns an empty in-process bus.
func NewMemoryBus() *MemoryBus {
	return &MemoryBus{subs: make(map[string]map[uint64]func([]byte))}
}

// Publish implements Bus: it calls each subscriber in turn before
// returning.
func (b *MemoryBus) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	fns := make([]func([]byte), 0, len(b.subs[topic]))
	for _, fn := range b.subs[topic] {
		fns = append(fns, fn)
	}
	b.mu.RUnlock()
	for _, fn := range fns {
		fn(payload)
	}
	return nil
}

// Subscribe implements Bus.
func (b *MemoryBus) Subscribe(topic string, fn func([]byte)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := b.next
	if b.subs[topic] == nil {
		b.subs[topic] = make(map[uint64]func([]byte))
	}
	b.subs[topic][id] = fn
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			delete(b.subs[topic], id)
			if len(b.subs[topic]) == 0 {
				delete(b.subs, topic)
			}
		})
	}
}
