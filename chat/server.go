package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
)

// Config tunes the chat server. The zero value of a field means its default.
type Config struct {
	// TurnTimeout bounds one chat turn, from the message to done. Default 10s.
	TurnTimeout time.Duration
	// ProductsPerAnswer is how many products a search answer shows. Default 8.
	ProductsPerAnswer int
	// HistoryOnResume is how many turns a resumed session replays. Default 50.
	HistoryOnResume int
	// ReadLimit is the largest frame read, in bytes; a larger frame closes the
	// connection with 1009. It must leave room for MaxTextBytes of text with
	// JSON escaping. Default 32 KiB.
	ReadLimit int64
	// SendQueueFrames and SendQueueBytes cap a connection's send queue; a
	// client that lets it fill is disconnected. Defaults 256 frames, 1 MiB.
	SendQueueFrames int
	SendQueueBytes  int64
	// PendingTurnsPerConn is how many messages of one connection may wait
	// for their turn; more get a busy error. Default 4.
	PendingTurnsPerConn int
	// MaxConcurrentTurns bounds turns running at once across connections;
	// a turn that cannot start within TurnQueueWait gets a busy error.
	// Defaults 16 × GOMAXPROCS and 250ms.
	MaxConcurrentTurns int
	TurnQueueWait      time.Duration
	// WriteWait bounds one write; PongWait is how long a silent client is
	// kept; PingInterval must be less than PongWait. Defaults 10s, 60s, 54s.
	WriteWait    time.Duration
	PongWait     time.Duration
	PingInterval time.Duration
	// AllowedOrigins lists the Origin headers accepted on /ws (exact
	// match, e.g. "https://shop.example"). Empty accepts any origin.
	AllowedOrigins []string
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur(&c.TurnTimeout, 10*time.Second)
	def(&c.ProductsPerAnswer, 8)
	def(&c.HistoryOnResume, 50)
	if c.ReadLimit <= 0 {
		c.ReadLimit = 32 << 10
	}
	def(&c.SendQueueFrames, 256)
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = 1 << 20
	}
	def(&c.PendingTurnsPerConn, 4)
	def(&c.MaxConcurrentTurns, 16*runtime.GOMAXPROCS(0))
	defDur(&c.TurnQueueWait, 250*time.Millisecond)
	defDur(&c.WriteWait, 10*time.Second)
	defDur(&c.PongWait, 60*time.Second)
	defDur(&c.PingInterval, c.PongWait*9/10)
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.PingInterval >= c.PongWait {
		return fmt.Errorf("chat: ping interval %v must be less than pong wait %v", c.PingInterval, c.PongWait)
	}
	if c.ReadLimit < MaxTextBytes+256 {
		return fmt.Errorf("chat: read limit %d leaves no room for %d bytes of text", c.ReadLimit, MaxTextBytes)
	}
	if c.ProductsPerAnswer > 100 {
		return fmt.Errorf("chat: products per answer %d is over 100", c.ProductsPerAnswer)
	}
	return nil
}

// IntentClassifier detects what a message is about; *intent.Classifier
// implements it.
type IntentClassifier interface {
	Classify(ctx context.Context, text string) (intent.Result, error)
}

// Deps are the parts a chat server answers with.
type Deps struct {
	Store sessions.Store
	Index retrieval.Index
	// Intents classifies each message. Nil answers every message as a
	// product search.
	Intents IntentClassifier
	// Events, when set, takes the behaviour events of event frames.
	Events events.Stream
	// Profiles, when set with a PersonalizeWeight above 0, re-ranks product
	// searches for the shopper (events.Personalize).
	Profiles          events.Profiles
	PersonalizeWeight float64
	Metrics           *Metrics
	Log               *slog.Logger
}

// Server serves the chat protocol on /ws. It keeps no state beyond open
// sockets: sessions live in the sessions.Store.
type Server struct {
	cfg     Config
	store   sessions.Store
	index   retrieval.Index
	intents IntentClassifier
	events  events.Stream
	profile events.Profiles
	pweight float64
	recs    *events.Recommender // nil without profiles
	metrics *Metrics
	log     *slog.Logger

	upgrader websocket.Upgrader
	slots    chan struct{} // one token per running turn

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*conn]struct{}
}

// NewServer returns a chat server answering with deps.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Index == nil || deps.Metrics == nil || deps.Log == nil {
		return nil, errors.New("chat: Store, Index, Metrics and Log are required")
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		store:   deps.Store,
		index:   deps.Index,
		intents: deps.Intents,
		events:  deps.Events,
		profile: deps.Profiles,
		pweight: deps.PersonalizeWeight,
		metrics: deps.Metrics,
		log:     deps.Log,
		slots:   make(chan struct{}, cfg.MaxConcurrentTurns),
		conns:   make(map[*conn]struct{}),
	}
	if deps.Profiles != nil {
		idx := deps.Index
		s.recs = &events.Recommender{
			Profiles:   deps.Profiles,
			Lookup:     func(id string) (*catalog.Product, bool) { return idx.Get(context.Background(), id) },
			Candidates: events.SearchCandidates(idx),
		}
	}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     s.checkOrigin,
	}
	return s, nil
}

func (s *Server) checkOrigin(r *http.Request) bool {
	if len(s.cfg.AllowedOrigins) == 0 {
		return true
	}
	return slices.Contains(s.cfg.AllowedOrigins, r.Header.Get("Origin"))
}

// ServeHTTP upgrades the request to a WebSocket and serves it until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered with an HTTP error
	}
	c := newConn(s, ws, s.log.With("remote", r.RemoteAddr))
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.closing.Load() { // Shutdown began after the check above
		c.drain()
	}
	s.metrics.connections.Inc()
	defer func() {
		s.metrics.connections.Dec()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve()
}

// Shutdown stops accepting connections, lets each open one finish the turns
// it has accepted, closes it with code 1001, and waits for all of them until
// ctx ends; connections still open then are cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	open := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.drain()
	}
	for _, c := range open {
		select {
		case <-c.done:
		case <-ctx.Done():
			for _, c := range open {
				c.terminate()
			}
			return ctx.Err()
		}
	}
	return nil
}

// acquire takes a turn slot, waiting at most TurnQueueWait.
func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.cfg.TurnQueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) release() { <-s.slots }

var errBusy = errors.New("chat: too many turns in progress")

// errorFrame maps an error of a turn to its protocol code and a message for
// the shopper. It is the one place where internal errors become codes.
func errorFrame(err error) (code, msg string) {
	switch {
	case errors.Is(err, errBusy), errors.Is(err, inference.ErrBusy):
		return CodeBusy, "the assistant is very busy right now; please try again in a moment"
	case errors.Is(err, events.ErrBusy):
		return CodeBusy, "the assistant is very busy right now; please try again in a moment"
	case errors.Is(err, sessions.ErrUnavailable), errors.Is(err, events.ErrUnavailable):
		return CodeUnavailable, "the conversation store is unavailable; please try again in a moment"
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout, "the answer took too long; please try again"
	default:
		return CodeInternal, "something went wrong on our side"
	}
}
