package events

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Service bundles what a server runs: the stream, the profile store and
// the consumer goroutines that apply one to the other.
type Service struct {
	Stream   Stream
	Profiles Profiles

	cancel context.CancelFunc
	wg     sync.WaitGroup
	owns   bool
	once   sync.Once
}

// DefaultConsumers is the number of consumer goroutines Start runs when
// asked for 0.
const DefaultConsumers = 2

// Start opens the stream (scfg) and the profile store (pcfg) and runs
// consumers goroutines (0 means DefaultConsumers) applying the stream to
// the profiles until Close. With a Redis backend, client (may be nil) is
// used instead of dialing the configured URL; Close then leaves it open
// for its owner (the sessions store).
func Start(ctx context.Context, scfg Config, pcfg ProfileConfig, consumers int, client *redis.Client) (*Service, error) {
	if consumers <= 0 {
		consumers = DefaultConsumers
	}
	st, err := NewStream(ctx, scfg, client)
	if err != nil {
		return nil, err
	}
	ps, err := NewProfiles(ctx, pcfg, client)
	if err != nil {
		if client == nil {
			_ = st.Close()
		}
		return nil, err
	}
	// Consumers run until Close, not until the caller's ctx ends.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Service{Stream: st, Profiles: ps, cancel: cancel, owns: client == nil}
	for range consumers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = st.Consume(cctx, ps.Apply)
		}()
	}
	return s, nil
}

// Close stops the consumers (an in-flight batch is left unacknowledged, to
// be claimed later), waits for them (up to Config.Block for a blocked
// XREADGROUP) and closes the backends it opened.
// Events still queued in the in-process stream are lost.
func (s *Service) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
		if s.owns {
			err = errors.Join(s.Stream.Close(), s.Profiles.Close())
		}
	})
	return err
}
