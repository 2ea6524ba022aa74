package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shopassist/shopassist/audit"
	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/policies"
	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/ranking"
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
	// MessageRate and MessageBurst are a token bucket per connection over
	// its message frames: a message beyond it gets a busy error at once
	// (the client retries later). Defaults 2 messages/s, burst 10.
	MessageRate  float64
	MessageBurst int
	// MaxConnections bounds open WebSockets; an upgrade beyond it is
	// answered 503 with Retry-After before any work. Default 20,000.
	MaxConnections int
	// MaxConcurrentTurns bounds turns running at once across connections;
	// a turn that cannot start within TurnQueueWait gets a busy error.
	// Defaults 16 × GOMAXPROCS and 100ms (at twice the sustainable rate on
	// 2 cores, answered turns stay under 300 ms p99; BENCHMARKS.md).
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
	// Currency is the store's ISO 4217 currency: price filters the shopper
	// names ("under 800") are in it, and answers write them in it. Default
	// EUR.
	Currency string
	// OperatorAuth authorises the operator API (OperatorHandler): it
	// returns the operator (name and role; web.OperatorAuth.Authorize), or
	// false to answer 401. Each endpoint then checks the role (403
	// otherwise). Nil disables the API (404).
	OperatorAuth func(r *http.Request) (Operator, bool)
	// ClientIP finds an operator request's client address for the audit
	// log. Default: the connection's address (behind a proxy, give one
	// that reads X-Forwarded-For, e.g. limit.PerIP.ClientIP).
	ClientIP func(r *http.Request) string
}

// Operator is who makes an operator API request: a name and a role
// (audit.RoleViewer, RoleAgent, RoleAdmin).
type Operator = audit.Operator

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
	if c.MessageRate <= 0 {
		c.MessageRate = 2
	}
	def(&c.MessageBurst, 10)
	def(&c.MaxConnections, 20000)
	def(&c.MaxConcurrentTurns, 16*runtime.GOMAXPROCS(0))
	defDur(&c.TurnQueueWait, 100*time.Millisecond)
	defDur(&c.WriteWait, 10*time.Second)
	defDur(&c.PongWait, 60*time.Second)
	defDur(&c.PingInterval, c.PongWait*9/10)
	if c.Currency == "" {
		c.Currency = "EUR"
	}
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
	if len(c.Currency) != 3 || strings.ToUpper(c.Currency) != c.Currency {
		return fmt.Errorf("chat: currency %q is not an ISO 4217 code", c.Currency)
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
	// Ranker, when set, is the final ranking stage of every product search:
	// it re-scores the top candidates with the cross-encoder and blends in
	// the shopper's profile and the store's rules (ranking.Ranker); then
	// PersonalizeWeight is not used (the blend's personal weight is). Nil
	// keeps the retrieval order, personalised by PersonalizeWeight.
	Ranker *ranking.Ranker
	// Orders answers order tracking, cancellation and address changes.
	// Nil answers those intents with general instructions.
	Orders orders.Service
	// Policies answers refund, delivery, payment and account questions
	// from the store's policy documents. Nil answers them with short
	// built-in texts.
	Policies *policies.Index
	// Brands are the catalogue's brand names, recognised in messages as
	// brand filters ("only Lenovo"); SetBrands replaces them when the
	// catalogue changes. Nil recognises no brands.
	Brands []string
	// LLM words grounded answers (products, policy passages) and streams
	// them as token frames. Nil answers with templates.
	LLM *llm.Client
	// Bus delivers operator messages and handoff changes to the shopper's
	// sockets and session changes to the operator stream. Nil uses an
	// in-process MemoryBus (one replica).
	Bus Bus
	// Keys, when set, seals the original of every message that redaction
	// changed, so admins can read it (see originals.go); nil keeps no
	// original at all.
	Keys *privacy.Keyring
	// Audit records every operator action (audit.Log). Nil keeps them in
	// memory only (audit.NewMemory: lost at restart).
	Audit   audit.Log
	Metrics *Metrics
	Log     *slog.Logger
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
	ranker  *ranking.Ranker
	recs    *events.Recommender // nil without profiles
	orders  orders.Service
	policy  *policies.Index
	llm     *llm.Client
	slotx   atomic.Pointer[intent.SlotExtractor]
	bus     Bus
	keys    *privacy.Keyring
	audit   audit.Log
	views   viewSeen // transcript views already audited
	metrics *Metrics
	log     *slog.Logger
	opLocks keyedMutex // serialises operator state changes per session

	upgrader websocket.Upgrader
	slots    chan struct{} // one token per running turn

	closing  atomic.Bool
	stop     chan struct{} // closed by Shutdown: ends operator streams
	stopOnce sync.Once
	mu       sync.Mutex
	conns    map[*conn]struct{}
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
		ranker:  deps.Ranker,
		orders:  deps.Orders,
		policy:  deps.Policies,
		llm:     deps.LLM,
		bus:     deps.Bus,
		keys:    deps.Keys,
		audit:   deps.Audit,
		metrics: deps.Metrics,
		log:     deps.Log,
		slots:   make(chan struct{}, cfg.MaxConcurrentTurns),
		conns:   make(map[*conn]struct{}),
		stop:    make(chan struct{}),
	}
	if s.bus == nil {
		s.bus = NewMemoryBus()
	}
	if s.audit == nil {
		s.audit = audit.NewMemory(0)
	}
	if s.cfg.ClientIP == nil {
		s.cfg.ClientIP = remoteIP
	}
	s.SetBrands(deps.Brands)
	if deps.Profiles != nil {
		idx := deps.Index
		s.recs = &events.Recommender{
			Profiles:   deps.Profiles,
			Lookup:     func(id string) (*catalog.Product, bool) { return idx.Get(context.Background(), id) },
			Candidates: events.SearchCandidates(idx),
		}
	}
	s.upgrader = websocket.Upgrader{
		// Reads reuse the HTTP server's 4 KiB buffer; write buffers come
		// from a pool and are held only while a frame is written, so an
		// idle connection holds neither (see BENCHMARKS.md, idle memory).
		ReadBufferSize:  0,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
	}
	return s, nil
}

// BrandNames returns the distinct brands of products in first-seen order,
// for Deps.Brands and SetBrands.
func BrandNames(products []catalog.Product) []string {
	seen := make(map[string]bool)
	var out []string
	for i := range products {
		if b := products[i].Brand; b != "" && !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	return out
}

// SetBrands replaces the brand names recognised in messages (call it when
// the catalogue changes). Safe for concurrent use with turns.
func (s *Server) SetBrands(brands []string) {
	s.slotx.Store(intent.NewSlotExtractor(brands))
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
	s.mu.Lock()
	full := len(s.conns) >= s.cfg.MaxConnections
	s.mu.Unlock()
	if full {
		s.metrics.errors.WithLabelValues("server_full").Inc()
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many open connections; retry in a moment", http.StatusServiceUnavailable)
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

// Shutdown stops accepting connections, ends the operator streams, lets
// each open connection finish the turns it has accepted, closes it with code
// 1001, and waits for all of them until ctx ends; connections still open
// then are cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.stopOnce.Do(func() { close(s.stop) })
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

// errOrders wraps failures of the order service other than ErrNotFound and
// ErrNotAllowed.
var errOrders = errors.New("chat: order service failed")

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
	case errors.Is(err, errOrders):
		return CodeUnavailable, "the order system is unavailable right now; please try again in a moment"
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout, "the answer took too long; please try again"
	default:
		return CodeInternal, "something went wrong on our side"
	}
}

// keyedMutex hands out one mutex per key, dropped when unused.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyedEntry)
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
