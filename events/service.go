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
	// Stream and Profiles are what the edge uses (HTTP handlers, chat):
	// with Config.Pseudonymize they replace user and session ids by their
	// pseudonyms on the way in (Publish; Get and Delete by shopper id).
	Stream   Stream
	Profiles Profiles

	stream   Stream   // the backend, as the consumers see it
	profiles Profiles // the backend, keyed by stored shopper ids
	pseudo   func(string) string

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
	s := &Service{Stream: st, Profiles: ps, stream: st, profiles: ps, pseudo: scfg.Pseudonymize, cancel: cancel, owns: client == nil}
	if s.pseudo != nil {
		s.Stream = pseudoStream{Stream: st, id: s.storedID}
		s.Profiles = pseudoProfiles{Profiles: ps, id: s.storedID}
	}
	for range consumers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = st.Consume(cctx, ps.Apply)
		}()
	}
	return s, nil
}

// storedID is the id under which the backends know a user or session id:
// its pseudonym when Config.Pseudonymize is set; "" stays "".
func (s *Service) storedID(id string) string {
	if s.pseudo == nil || id == "" {
		return id
	}
	return s.pseudo(id)
}

// Erased counts what Service.Erase removed.
type Erased struct {
	// Events is the number of events taken out of the stream before being
	// applied, or (Redis) still stored in it after being applied.
	Events int `json:"events"`
	// Profiles is the number of profiles deleted: the user's, and those of
	// its sessions' anonymous events.
	Profiles int `json:"profiles"`
}

// Erase removes what the service holds of a user: the events in the
// stream whose user id is userID or whose session id is one of sessionIDs
// (Eraser; a stream without it is skipped), then the profiles kept under
// userID and under each session id (events without a user id are profiled
// by session). Raw ids are given; with Config.Pseudonymize the stored
// pseudonyms are erased. Trending counts are per product and hold no user
// or session id, so they stay. An event a consumer is applying at that
// very moment may recreate a profile after Erase returns; calling Erase
// again removes it.
func (s *Service) Erase(ctx context.Context, userID string, sessionIDs []string) (Erased, error) {
	var out Erased
	shoppers := make([]string, 0, 1+len(sessionIDs))
	sess := make(map[string]bool, len(sessionIDs))
	if userID != "" {
		shoppers = append(shoppers, s.storedID(userID))
	}
	for _, id := range sessionIDs {
		if id != "" {
			sid := s.storedID(id)
			sess[sid] = true
			shoppers = append(shoppers, sid)
		}
	}
	if len(shoppers) == 0 {
		return out, nil
	}
	user := s.storedID(userID)
	if er, ok := s.stream.(Eraser); ok {
		n, err := er.Erase(ctx, func(e *Event) bool {
			return (user != "" && e.UserID == user) || sess[e.SessionID]
		})
		out.Events = n
		if err != nil {
			return out, err
		}
	}
	for _, sh := range shoppers {
		found, err := s.profiles.Delete(ctx, sh)
		if err != nil {
			return out, err
		}
		if found {
			out.Profiles++
		}
	}
	return out, nil
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
			err = errors.Join(s.stream.Close(), s.profiles.Close())
		}
	})
	return err
}

// pseudoStream publishes events with their user and session ids replaced
// by the stored (pseudonymous) ids; the caller's slice is not modified.
type pseudoStream struct {
	Stream
	id func(string) string
}

func (p pseudoStream) Publish(ctx context.Context, evs []Event) error {
	out := make([]Event, len(evs))
	for i, e := range evs {
		e.UserID, e.SessionID = p.id(e.UserID), p.id(e.SessionID)
		out[i] = e
	}
	return p.Stream.Publish(ctx, out)
}

// pseudoProfiles looks profiles up and deletes them by stored id. Apply
// and Trending pass through: Apply takes events as the stream carries
// them, pseudonymous already.
type pseudoProfiles struct {
	Profiles
	id func(string) string
}

func (p pseudoProfiles) Get(ctx context.Context, shopper string) (Profile, error) {
	pr, err := p.Profiles.Get(ctx, p.id(shopper))
	if err != nil {
		return Profile{}, err
	}
	pr.Shopper = shopper
	return pr, nil
}

func (p pseudoProfiles) Delete(ctx context.Context, shopper string) (bool, error) {
	return p.Profiles.Delete(ctx, p.id(shopper))
}
