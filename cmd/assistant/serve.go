package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/audit"
	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/internal/limit"
	"github.com/shopassist/shopassist/internal/redisbus"
	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/orders"
	"github.com/shopassist/shopassist/policies"
	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/ranking"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
	"github.com/shopassist/shopassist/web"
)

type serveConfig struct {
	addr            string
	dataDir         string
	redisURL        string
	sessionTTL      time.Duration
	turnTimeout     time.Duration
	shutdownTimeout time.Duration
	products        int
	allowedOrigins  string
	logLevel        string
	intentModel     string
	ortLib          string
	adminToken      string
	eventsStream    string
	eventsMaxLen    int64
	eventsQueue     int
	eventsConsumers int
	eventsHalfLife  time.Duration
	personalize     float64
	searchModel     string
	denseWeight     float64
	qdrantAddr      string
	qdrantColl      string
	qdrantAPIKey    string
	qdrantTLS       bool
	cacheEntries    int
	keyFile         string
	production      bool
	ipRate          float64
	ipBurst         int
	trustProxy      bool
	rank            rankFlags
	currency        string
	ordersFile      string
	policiesDir     string
	operatorPass    string
	llmBaseURL      string
	llmModel        string
	llmAPIKey       string
	llmFirstToken   time.Duration
	pseudonymKey    string
	operatorsFile   string
	auditLog        string
	maxConns        int
	messageRate     float64
	eventsTTL       time.Duration
	eventsMaxAge    time.Duration
}

func serveFlags(cfg *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", ":8080", "listen address")
	fs.StringVar(&cfg.dataDir, "data-dir", "./var", "directory for the embedded session store and the catalogue")
	fs.StringVar(&cfg.redisURL, "redis-url", "", "Redis URL for sessions (redis://[:password@]host:port/db); empty keeps sessions in the data dir")
	fs.DurationVar(&cfg.sessionTTL, "session-ttl", 30*24*time.Hour, "delete sessions not updated for this long")
	fs.DurationVar(&cfg.turnTimeout, "turn-timeout", 10*time.Second, "deadline of one chat turn")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM/SIGINT, how long open connections may finish their turns before they are cut")
	fs.IntVar(&cfg.products, "products", 8, "products shown in a search answer (1-100)")
	fs.StringVar(&cfg.allowedOrigins, "allowed-origins", "", "comma-separated Origin values accepted on /ws (empty accepts any)")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.adminToken, "admin-token", "", "bearer token for POST /api/catalog and GET /api/profile (empty disables both)")
	fs.StringVar(&cfg.eventsStream, "events-stream", "memory", "behaviour event stream and profiles: memory (in-process) or redis (Redis Streams, needs --redis-url)")
	fs.Int64Var(&cfg.eventsMaxLen, "events-maxlen", 100000, "Redis stream length bound in entries (XADD MAXLEN ~), each up to 64 events")
	fs.IntVar(&cfg.eventsQueue, "events-queue", 100000, "in-process event queue capacity; when full, POST /api/events answers 503")
	fs.IntVar(&cfg.eventsConsumers, "events-consumers", 2, "goroutines applying events to profiles")
	fs.DurationVar(&cfg.eventsHalfLife, "events-half-life", 24*time.Hour, "decay of profile affinities")
	fs.Float64Var(&cfg.personalize, "personalize-weight", 0.5, "weight of the shopper's profile in the search order (0 turns personalisation off)")
	fs.StringVar(&cfg.searchModel, "search-model", "models/biencoder", "directory of the bi-encoder for dense retrieval (model.onnx, config.json with pooling, vocab.txt); empty: lexical search only")
	fs.Float64Var(&cfg.denseWeight, "dense-weight", retrieval.DefaultDenseWeight, "hybrid search: weight of the dense list in reciprocal rank fusion (BM25 weighs 1)")
	fs.StringVar(&cfg.keyFile, "encryption-key-file", "", "file of encryption keys (one id:base64 32-byte key per line, the first is current; make one with `assistant keygen`) for transcripts and profiles at rest; default: the "+privacy.EnvKeys+" environment variable, else no encryption")
	cfg.rank.register(fs)
	fs.StringVar(&cfg.currency, "currency", "EUR", "the store's ISO 4217 currency: prices shoppers name (\"under 800\") are read in it")
	fs.StringVar(&cfg.ordersFile, "orders-file", "", "JSON file of orders for order tracking, cancellation and address changes (the demo format, demodata/orders.json); empty: the built-in demo orders")
	fs.StringVar(&cfg.policiesDir, "policies-dir", "", "folder of the store's policy documents (Markdown, one passage per heading) answering refund, delivery, payment and account questions; empty: the built-in demo policies")
	fs.StringVar(&cfg.operatorPass, "operator-password", "", "password of the operator console (/console) and API (/api/operator/), at least 12 characters; empty disables both (there is no default)")
	fs.StringVar(&cfg.operatorsFile, "operators-file", "", "operator accounts with roles (name:role:bcrypt-hash or name:role:token-sha256:<hex> per line, mode 0600; add lines with `assistant operator add`); --operator-password then only adds a bootstrap admin")
	fs.StringVar(&cfg.auditLog, "audit-log", "", "append-only audit log of operator actions: a file (JSON lines, fsync per record; default <data-dir>/audit.log) or \"redis\" (stream sa:audit; needs --redis-url)")
	fs.StringVar(&cfg.llmBaseURL, "llm-base-url", "", "OpenAI-compatible endpoint for worded answers, e.g. http://localhost:8000/v1 (vLLM, llama.cpp, Ollama, OpenAI); empty: template answers")
	fs.StringVar(&cfg.llmModel, "llm-model", "", "model name sent to --llm-base-url")
	fs.StringVar(&cfg.llmAPIKey, "llm-api-key", "", "API key for --llm-base-url")
	fs.DurationVar(&cfg.llmFirstToken, "llm-first-token-timeout", 8*time.Second, "fall back to the template answer when the LLM sends no token for this long")
	fs.Float64Var(&cfg.ipRate, "ip-rate", 10, "per client IP: WebSocket connections and search/recommendation requests per second (token bucket; 0 disables); over it the client gets 429")
	fs.IntVar(&cfg.ipBurst, "ip-burst", 60, "per client IP: requests allowed at once above --ip-rate")
	fs.IntVar(&cfg.maxConns, "max-connections", 20000, "open WebSockets at most; beyond, upgrades get 503 with Retry-After")
	fs.Float64Var(&cfg.messageRate, "message-rate", 2, "per connection: messages per second (token bucket, burst 10); beyond, a busy error")
	fs.BoolVar(&cfg.trustProxy, "trust-proxy", false, "take the client IP from X-Forwarded-For (only behind a proxy that sets it, such as deploy/nginx.conf)")
	fs.StringVar(&cfg.pseudonymKey, "pseudonym-key", "", "base64 of ≥ 32 random bytes (openssl rand -base64 32) keying pseudonymous user and session ids in events, profiles and the session store's user index; keep it apart from the encryption keys (rotating it changes every pseudonym); empty: ids kept as given (demo mode; --production refuses this)")
	fs.DurationVar(&cfg.eventsTTL, "events-profile-ttl", events.DefaultProfileTTL, "delete a shopper's profile this long after its last event")
	fs.DurationVar(&cfg.eventsMaxAge, "events-max-age", events.DefaultStreamMaxAge, "Redis event stream: drop entries older than this")
	fs.BoolVar(&cfg.production, "production", false, "production mode: refuse to start without an encryption key (demo mode only warns)")
	fs.IntVar(&cfg.cacheEntries, "cache-entries", retrieval.DefaultCacheEntries, "size of the in-process LRU caches of search results and query embeddings (0 turns them off); cleared on every catalogue change")
	fs.StringVar(&cfg.qdrantAddr, "qdrant-addr", "", "Qdrant gRPC address host:port (usually :6334) to keep product vectors in; empty keeps them in the data dir")
	fs.StringVar(&cfg.qdrantColl, "qdrant-collection", "products", "Qdrant collection name (created on first use)")
	fs.StringVar(&cfg.qdrantAPIKey, "qdrant-api-key", "", "Qdrant API key")
	fs.BoolVar(&cfg.qdrantTLS, "qdrant-tls", false, "dial Qdrant over TLS")
	fs.StringVar(&cfg.intentModel, "intent-model", "models/intent", "directory of the intent model (model.onnx, config.json, vocab.txt); relative paths are also tried next to the binary's folder")
	fs.StringVar(&cfg.ortLib, "ort-lib", "", "path of the ONNX Runtime shared library (default: third_party/onnxruntime/libonnxruntime.so.1, fetched by make)")
	return fs
}

func (c *serveConfig) validate() error {
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return fmt.Errorf("--addr %q: %w", c.addr, err)
	}
	if c.dataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if c.sessionTTL < time.Minute {
		return fmt.Errorf("--session-ttl %v is under a minute", c.sessionTTL)
	}
	if c.turnTimeout <= 0 || c.shutdownTimeout <= 0 {
		return errors.New("--turn-timeout and --shutdown-timeout must be positive")
	}
	if c.products < 1 || c.products > 100 {
		return fmt.Errorf("--products %d is not in 1-100", c.products)
	}
	switch c.eventsStream {
	case "memory":
	case "redis":
		if c.redisURL == "" {
			return errors.New("--events-stream redis needs --redis-url")
		}
	default:
		return fmt.Errorf("--events-stream %q: want memory or redis", c.eventsStream)
	}
	if c.eventsMaxLen < 100 || c.eventsQueue < 1 || c.eventsConsumers < 1 || c.eventsHalfLife < time.Minute {
		return errors.New("--events-maxlen ≥ 100, --events-queue ≥ 1, --events-consumers ≥ 1 and --events-half-life ≥ 1m")
	}
	if c.denseWeight <= 0 || c.denseWeight > 10 {
		return fmt.Errorf("--dense-weight %v is not in (0, 10]", c.denseWeight)
	}
	if err := c.rank.validate(); err != nil {
		return err
	}
	if c.llmBaseURL != "" && c.llmModel == "" {
		return errors.New("--llm-base-url needs --llm-model")
	}
	if c.eventsMaxAge < time.Minute || c.eventsTTL < time.Hour {
		return errors.New("--events-max-age must be ≥ 1m and --events-profile-ttl ≥ 1h")
	}
	if c.maxConns < 1 || c.messageRate <= 0 {
		return errors.New("--max-connections must be ≥ 1 and --message-rate > 0")
	}
	if c.ipRate < 0 || c.ipBurst < 1 {
		return fmt.Errorf("--ip-rate must be >= 0 and --ip-burst >= 1")
	}
	if c.cacheEntries < 0 {
		return fmt.Errorf("--cache-entries %d must be >= 0", c.cacheEntries)
	}
	if c.qdrantAddr != "" && c.searchModel == "" {
		return errors.New("--qdrant-addr needs a bi-encoder: --search-model must not be empty")
	}
	if c.personalize < 0 || c.personalize > 10 {
		return fmt.Errorf("--personalize-weight %v is not in 0-10", c.personalize)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return nil
}

func (c *serveConfig) origins() []string {
	var out []string
	for _, o := range strings.Split(c.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

func runServe(ctx context.Context, stop context.CancelFunc, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := serveFlags(&cfg)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.logLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	log.Info("starting assistant serve", effectiveConfig(fs)...)

	if err := os.MkdirAll(cfg.dataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	keys, err := loadKeys(cfg)
	switch {
	case err != nil:
		return err
	case keys == nil && cfg.production:
		return fmt.Errorf("--production needs an encryption key: --encryption-key-file or %s (make one with `assistant keygen`)", privacy.EnvKeys)
	case keys == nil:
		log.Warn("transcripts, profiles and events are stored unencrypted: set --encryption-key-file or " + privacy.EnvKeys + " (demo mode; --production refuses this)")
	default:
		log.Info("transcripts, profiles and events encrypted at rest", "keys", keys.String())
	}
	var sealer sessions.Sealer
	if keys != nil {
		sealer = keys
	}
	pseudo, err := loadPseudonymizer(cfg, log)
	if err != nil {
		return err
	}
	raw, err := sessions.New(ctx, sessions.Config{DataDir: cfg.dataDir, RedisURL: cfg.redisURL, TTL: cfg.sessionTTL, Sealer: sealer, UserKey: pseudo})
	if err != nil {
		return fmt.Errorf("session store: %w", err)
	}
	// Keep chatting through a session-store outage: writes are held in
	// memory and flushed when it is back (sessions.Buffered). Its Close
	// flushes once more and closes raw.
	buffered := sessions.NewBuffered(raw, sessions.BufferConfig{Log: log})
	defer buffered.Close()
	var store sessions.Store = buffered

	products, err := catalog.OpenStore(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("catalogue store: %w", err)
	}
	defer products.Close()

	a := &app{log: log, store: store, products: products, adminToken: cfg.adminToken, caches: retrieval.NewCacheCollector(), pseudo: pseudo,
		perIP: limit.NewPerIP(limit.Config{Rate: cfg.ipRate, Burst: cfg.ipBurst, TrustForwardedFor: cfg.trustProxy})}
	var client *redis.Client // shared with the session store when it is Redis
	if rs, ok := raw.(*sessions.Redis); ok {
		client = rs.Client()
		// Replicas share operator messages and session changes over Redis.
		bus := redisbus.New(client, "sa:bus:", log)
		defer bus.Close()
		a.bus = bus
	}
	if a.audit, err = openAuditLog(cfg, client); err != nil {
		return err
	}
	defer a.audit.Close()
	a.keys = keys
	if cfg.operatorPass != "" || cfg.operatorsFile != "" {
		opts := []web.AuthOption{web.WithAudit(a.audit), web.WithClientIP(a.perIP.ClientIP)}
		if cfg.operatorsFile != "" {
			accts, err := web.LoadAccounts(cfg.operatorsFile)
			if err != nil {
				return fmt.Errorf("--operators-file: %w", err)
			}
			opts = append(opts, web.WithAccounts(accts))
		}
		if a.auth, err = web.NewOperatorAuth(cfg.operatorPass, opts...); err != nil {
			return fmt.Errorf("operator sign-in: %w", err)
		}
	}
	a.events, err = events.Start(ctx,
		events.Config{Backend: cfg.eventsStream, RedisURL: cfg.redisURL, MaxLen: cfg.eventsMaxLen, QueueSize: cfg.eventsQueue, MaxAge: cfg.eventsMaxAge, Pseudonymize: pseudo, Sealer: sealer, Log: log},
		events.ProfileConfig{Backend: cfg.eventsStream, RedisURL: cfg.redisURL, HalfLife: cfg.eventsHalfLife, ProfileTTL: cfg.eventsTTL, Lookup: a.lookup, Sealer: sealer},
		cfg.eventsConsumers, client)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer a.events.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), a.caches,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "assistant_rate_limited_total", Help: "Requests refused with 429 by the per-IP limit."}, func() float64 { return float64(a.perIP.Limited()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "assistant_session_store_degraded", Help: "1 while the session store is down and writes are held in memory."}, func() float64 {
			if buffered.Degraded() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "assistant_session_store_held_turns", Help: "Transcript turns held in memory, waiting for the session store."}, func() float64 { return float64(buffered.Held()) }))
	metrics := chat.NewMetrics(reg)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.routes(reg),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	loadErr := make(chan error, 1)
	go func() { loadErr <- a.load(ctx, cfg, metrics) }()

	select {
	case err := <-serveErr:
		return err
	case err := <-loadErr:
		if err != nil {
			_ = srv.Close()
			return err
		}
		select {
		case err := <-serveErr:
			return err
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	// From here a second SIGINT/SIGTERM kills the process at once.
	stop()
	log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(sctx) }()
	if cs := a.chat.Load(); cs != nil {
		if err := cs.Shutdown(sctx); err != nil {
			log.Warn("connections cut at the shutdown deadline", "err", err)
		}
	}
	if err := <-done; err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if idx := a.index.Load(); idx != nil {
		// Saves the embedded index's vectors for the next start.
		if err := (*idx).Close(); err != nil {
			log.Warn("closing the search index", "err", err)
		}
	}
	log.Info("stopped")
	return nil
}

// app holds what the HTTP routes serve. The chat server and the index are
// set once the catalogue is loaded; until then /ws and /api/search answer
// 503 and /readyz is false.
type app struct {
	log        *slog.Logger
	store      sessions.Store
	products   *catalog.Store
	adminToken string
	events     *events.Service
	index      atomic.Pointer[retrieval.Index]
	chat       atomic.Pointer[chat.Server]
	probe      string // a query /readyz runs against the index
	modelErr   error  // why the intent model is not loaded; set before chat
	searchErr  error  // why the bi-encoder is not loaded; set before chat
	caches     *retrieval.CacheCollector
	perIP      *limit.PerIP
	auth       *web.OperatorAuth // nil: no console, no operator API
	audit      audit.Log
	keys       *privacy.Keyring    // nil: no encryption, no originals kept
	pseudo     func(string) string // nil: ids kept as given
	bus        chat.Bus            // nil: in-process
	operator   atomic.Pointer[http.Handler]
	rankErr    error // why the cross-encoder is not loaded; set before chat

	// demoIDs are the built-in demo products served while the data dir has
	// no catalogue; the first uploaded catalogue replaces them.
	demoMu  sync.Mutex
	demoIDs []string
}

func (a *app) load(ctx context.Context, cfg serveConfig, metrics *chat.Metrics) error {
	start := time.Now()
	products, err := a.products.All()
	if err != nil {
		return fmt.Errorf("catalogue: %w", err)
	}
	source := "data dir"
	if len(products) == 0 {
		// Nothing ingested yet: serve the demo store built into the binary.
		source = "built-in demo"
		products, _, err = catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
		if err != nil {
			return fmt.Errorf("demo catalogue: %w", err)
		}
		for i := range products {
			a.demoIDs = append(a.demoIDs, products[i].ID)
		}
	}
	if len(products) == 0 {
		return errors.New("catalogue: no products loaded")
	}
	index, err := a.newIndex(ctx, cfg)
	if err != nil {
		return err
	}
	if err := index.Upsert(ctx, products); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if e, ok := index.(*retrieval.Embedded); ok {
		// Keep the embeddings even if the process dies before Close.
		if err := e.SaveVectors(); err != nil {
			a.log.Warn("vectors not saved; they will be computed again at the next start", "err", err)
		}
	}
	if cfg.cacheEntries > 0 {
		c := retrieval.NewCachedIndex(index, cfg.cacheEntries)
		a.caches.Add("search", c.Stats)
		index = c
	}
	deps := chat.Deps{
		Store:             a.store,
		Index:             index,
		Events:            a.events.Stream,
		Profiles:          a.events.Profiles,
		PersonalizeWeight: cfg.personalize,
		Brands:            chat.BrandNames(products),
		Bus:               a.bus,
		Metrics:           metrics,
		Log:               a.log,
	}
	if deps.Orders, deps.Policies, err = loadStoreDocs(cfg); err != nil {
		return err
	}
	if deps.Ranker, err = a.loadRanker(cfg); err != nil {
		return err
	}
	deps.Keys = a.keys
	deps.Audit = a.audit
	if cfg.llmBaseURL != "" {
		if deps.LLM, err = llm.New(llm.Config{BaseURL: cfg.llmBaseURL, Model: cfg.llmModel, APIKey: cfg.llmAPIKey, FirstTokenTimeout: cfg.llmFirstToken}); err != nil {
			return fmt.Errorf("llm: %w", err)
		}
		a.log.Info("LLM answers", "llm", deps.LLM.Config().String())
	}
	if clf, err := loadIntents(cfg); err != nil {
		// Serve product search without intents, and say why /readyz fails,
		// rather than exit into a crash loop.
		a.modelErr = err
		a.log.Error("intent model not loaded; answering every message as a product search", "err", err)
	} else {
		deps.Intents = clf
		a.log.Info("intent model loaded", "dir", cfg.intentModel, "labels", len(clf.Labels()), "oos_threshold", clf.Threshold())
	}
	ccfg := chat.Config{
		TurnTimeout:       cfg.turnTimeout,
		ProductsPerAnswer: cfg.products,
		AllowedOrigins:    cfg.origins(),
		Currency:          cfg.currency,
		ClientIP:          a.perIP.ClientIP,
		MaxConnections:    cfg.maxConns,
		MessageRate:       cfg.messageRate,
	}
	if a.auth != nil {
		ccfg.OperatorAuth = a.auth.Authorize
	}
	cs, err := chat.NewServer(ccfg, deps)
	if err != nil {
		return err
	}
	op := cs.OperatorHandler()
	a.operator.Store(&op)
	a.probe = products[0].Brand
	if a.probe == "" {
		a.probe = products[0].Title
	}
	a.index.Store(&index)
	a.chat.Store(cs)
	a.log.Info("catalogue indexed", "source", source, "products", index.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// newIndex builds the search index: hybrid BM25 + dense over the
// bi-encoder when --search-model loads, with vectors in the data dir (a
// file named after the model's fingerprint, so another model never reuses
// them) or in Qdrant; lexical only when --search-model is empty. A model
// that fails to load leaves lexical search serving and /readyz false, with
// the reason, rather than a crash loop; with --qdrant-addr it is fatal.
func (a *app) newIndex(ctx context.Context, cfg serveConfig) (retrieval.Index, error) {
	if cfg.searchModel == "" {
		a.log.Info("no --search-model: lexical search only")
		return retrieval.New(retrieval.Config{})
	}
	dir := resolveDir(cfg.searchModel)
	enc, fp, err := loadEncoder(cfg, dir)
	if err != nil {
		if cfg.qdrantAddr != "" {
			return nil, fmt.Errorf("search model: %w", err)
		}
		a.searchErr = err
		a.log.Error("search model not loaded; lexical search only", "err", err)
		return retrieval.New(retrieval.Config{})
	}
	var qenc retrieval.Encoder = enc
	if cfg.cacheEntries > 0 {
		c := retrieval.NewCachedEncoder(enc, cfg.cacheEntries)
		a.caches.Add("query_embedding", c.Stats)
		qenc = c
	}
	rc := retrieval.Config{Encoder: qenc, DenseWeight: cfg.denseWeight}
	if cfg.qdrantAddr != "" {
		rc.Backend, rc.QdrantAddr, rc.QdrantCollection, rc.QdrantAPIKey, rc.QdrantTLS = "qdrant", cfg.qdrantAddr, cfg.qdrantColl, cfg.qdrantAPIKey, cfg.qdrantTLS
	} else {
		rc.VectorFile = filepath.Join(cfg.dataDir, "vectors-"+fp+".hnsw")
		removeStaleVectors(a.log, cfg.dataDir, rc.VectorFile)
	}
	idx, err := retrieval.New(rc)
	if err != nil {
		enc.Close()
		return nil, err
	}
	a.log.Info("hybrid search", "model", dir, "dim", enc.Dim(), "pooling", enc.Pooling(), "backend", map[bool]string{true: "qdrant", false: "embedded"}[cfg.qdrantAddr != ""], "vectors", rc.VectorFile)
	return idx, nil
}

// loadEncoder starts ONNX Runtime and loads the bi-encoder in dir; fp
// fingerprints the model (config.json, vocab.txt and model.onnx).
func loadEncoder(cfg serveConfig, dir string) (enc *retrieval.ONNXEncoder, fp string, err error) {
	if err := inference.Init(inference.RuntimeConfig{LibPath: cfg.ortLib}); err != nil {
		return nil, "", err
	}
	h := sha256.New()
	for _, name := range []string{"config.json", "vocab.txt", "model.onnx"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, "", err
		}
	}
	enc, err = retrieval.NewONNXEncoder(dir, retrieval.ONNXEncoderOptions{})
	if err != nil {
		return nil, "", err
	}
	return enc, hex.EncodeToString(h.Sum(nil)[:6]), nil
}

// removeStaleVectors deletes the vector files of other models in dataDir.
func removeStaleVectors(log *slog.Logger, dataDir, keep string) {
	old, _ := filepath.Glob(filepath.Join(dataDir, "vectors-*.hnsw"))
	for _, f := range old {
		if f != keep {
			if err := os.Remove(f); err == nil {
				log.Info("removed the vectors of another search model", "file", f)
			}
		}
	}
}

// loadStoreDocs loads the order service and the policy documents: the
// files the flags name, else the built-in demo ones.
func loadStoreDocs(cfg serveConfig) (orders.Service, *policies.Index, error) {
	data := demodata.Orders()
	if cfg.ordersFile != "" {
		var err error
		if data, err = os.ReadFile(cfg.ordersFile); err != nil {
			return nil, nil, fmt.Errorf("--orders-file: %w", err)
		}
	}
	ord, err := orders.LoadDemo(data)
	if err != nil {
		return nil, nil, fmt.Errorf("orders: %w", err)
	}
	docs := demodata.Policies()
	if cfg.policiesDir != "" {
		docs = os.DirFS(cfg.policiesDir)
	}
	pol, err := policies.Load(docs)
	if err != nil {
		return nil, nil, fmt.Errorf("policies: %w", err)
	}
	return ord, pol, nil
}

// loadRanker builds the final ranking stage. A cross-encoder that cannot
// be loaded leaves the blend without it (retrieval, profile and rules) and
// /readyz false with the reason; bad weights or rules stop the server.
func (a *app) loadRanker(cfg serveConfig) (*ranking.Ranker, error) {
	rf := cfg.rank
	rf.ortLib = cfg.ortLib
	rr, err := rf.reranker(a.log)
	if err != nil {
		a.rankErr = err
		a.log.Error("cross-encoder not loaded; products ranked without it", "err", err)
		rr = nil
	} else if rr != nil {
		a.log.Info("cross-encoder reranking", "reranker", rerankerName(rf, rr))
	}
	if !strings.Contains(rf.weights, "personal") {
		// --personalize-weight sets the profile's weight in the blend.
		rf.weights = strings.TrimPrefix(rf.weights+",personal="+strconv.FormatFloat(cfg.personalize, 'g', -1, 64), ",")
	}
	rk, err := rf.ranker(rr)
	if err != nil {
		return nil, err
	}
	return rk, nil
}

func rerankerName(rf rankFlags, rr ranking.Reranker) string {
	if rf.url != "" {
		return "remote " + redisopt.MaskURL(rf.url)
	}
	if o, ok := rr.(*ranking.ONNX); ok {
		// What runs, not what was asked: CUDA falls back to CPU, and CPU
		// prefers the int8 graph.
		return filepath.Join(rf.model, o.ModelFile()) + " on " + o.Device()
	}
	return rf.model + " on " + rf.device
}

// loadPseudonymizer reads --pseudonym-key: nil (ids kept as given) when
// empty, which --production refuses.
func loadPseudonymizer(cfg serveConfig, log *slog.Logger) (func(string) string, error) {
	if cfg.pseudonymKey == "" {
		if cfg.production {
			return nil, errors.New("--production needs --pseudonym-key (base64 of ≥ 32 random bytes)")
		}
		log.Warn("user and session ids are stored as given in events and profiles: set --pseudonym-key (demo mode; --production refuses this)")
		return nil, nil
	}
	secret, err := base64.StdEncoding.DecodeString(cfg.pseudonymKey)
	if err != nil {
		return nil, errors.New("--pseudonym-key: not standard base64")
	}
	pz, err := privacy.NewPseudonymizer(secret)
	if err != nil {
		return nil, fmt.Errorf("--pseudonym-key: %w", err)
	}
	return pz.ID, nil
}

// auditErase records an erasure request (issued with the admin token).
// auditErase records an erasure made with the admin token. The user id is
// kept pseudonymised (the audit log must not keep what was erased).
func (a *app) auditErase(ctx context.Context, action, userID string, counts any) {
	res, _ := counts.(eraseResult)
	target, outcome := "", audit.OK
	if a.pseudo != nil {
		target = a.pseudo(userID)
	}
	if res.Error != "" {
		outcome = audit.Failed
	}
	err := a.audit.Append(ctx, audit.Record{Operator: "admin-token", Role: audit.RoleAdmin, Action: audit.Action(action), Outcome: outcome, Target: target,
		Detail: fmt.Sprintf("%d sessions, %d events, %d profiles", res.Sessions, res.Events, res.Profiles)})
	if err != nil {
		a.log.Error("audit log: erasure not recorded", "err", err)
	}
}

// openAuditLog opens the audit log --audit-log names.
func openAuditLog(cfg serveConfig, client *redis.Client) (audit.Log, error) {
	if cfg.auditLog == "redis" {
		if client == nil {
			return nil, errors.New("--audit-log redis needs --redis-url")
		}
		return audit.NewRedis(client, audit.DefaultStream), nil
	}
	path := cfg.auditLog
	if path == "" {
		path = filepath.Join(cfg.dataDir, "audit.log")
	}
	l, err := audit.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("--audit-log: %w", err)
	}
	return l, nil
}

// loadKeys reads the encryption keyring: --encryption-key-file, else the
// environment; nil when neither is set.
func loadKeys(cfg serveConfig) (*privacy.Keyring, error) {
	if cfg.keyFile != "" {
		k, err := privacy.LoadKeyFile(cfg.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--encryption-key-file: %w", err)
		}
		return k, nil
	}
	k, err := privacy.KeysFromEnv()
	if errors.Is(err, privacy.ErrNoKeys) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", privacy.EnvKeys, err)
	}
	return k, nil
}

// loadIntents starts ONNX Runtime and loads the intent model.
func loadIntents(cfg serveConfig) (*intent.Classifier, error) {
	if err := inference.Init(inference.RuntimeConfig{LibPath: cfg.ortLib}); err != nil {
		return nil, err
	}
	return intent.Load(resolveDir(cfg.intentModel), intent.Config{})
}

// resolveDir returns dir, or for a relative dir that does not exist, the
// same path under the parent of the executable's folder (bin/assistant →
// models/intent beside bin/).
func resolveDir(dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	exe, err := os.Executable()
	if err != nil {
		return dir
	}
	alt := filepath.Join(filepath.Dir(filepath.Dir(exe)), dir)
	if _, err := os.Stat(alt); err == nil {
		return alt
	}
	return dir
}

func (a *app) routes(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("/ws", a.perIP.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs := a.chat.Load()
		if cs == nil {
			http.Error(w, "starting: the catalogue is not indexed yet", http.StatusServiceUnavailable)
			return
		}
		cs.ServeHTTP(w, r)
	})))
	mux.Handle("/api/search", a.perIP.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idx := a.index.Load()
		if idx == nil {
			http.Error(w, "starting: the catalogue is not indexed yet", http.StatusServiceUnavailable)
			return
		}
		chat.SearchHandler(*idx).ServeHTTP(w, r)
	})))
	mux.Handle("/api/catalog", catalog.Handler(a.products, a.adminToken, a.catalogChanged))
	mux.Handle("POST /api/events", events.Handler(a.events.Stream, events.Limits{}, time.Now, a.log))
	mux.Handle("DELETE /api/users/{id}", eraseUserHandler(a.store, a.events, tokenAuthorizer(a.adminToken), a.auditErase))
	mux.Handle("GET /api/profile", requireToken(a.adminToken, events.ProfileHandler(a.events.Profiles)))
	mux.Handle("GET /api/recommendations", a.perIP.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idx := a.index.Load()
		if idx == nil {
			http.Error(w, "starting: the catalogue is not indexed yet", http.StatusServiceUnavailable)
			return
		}
		rec := &events.Recommender{Profiles: a.events.Profiles, Lookup: a.lookup, Candidates: events.SearchCandidates(*idx)}
		events.RecommendationsHandler(rec).ServeHTTP(w, r)
	})))
	mux.Handle("/console/", web.ConsoleHandler(a.auth))
	mux.HandleFunc("/api/operator/", func(w http.ResponseWriter, r *http.Request) {
		op := a.operator.Load()
		if op == nil {
			http.Error(w, "starting: the catalogue is not indexed yet", http.StatusServiceUnavailable)
			return
		}
		(*op).ServeHTTP(w, r)
	})
	mux.Handle("/", web.Handler())
	return mux
}

// lookup finds a product in the search index, for profiles and
// recommendations.
func (a *app) lookup(id string) (*catalog.Product, bool) {
	idx := a.index.Load()
	if idx == nil {
		return nil, false
	}
	return (*idx).Get(context.Background(), id)
}

// requireToken guards an operator endpoint with a bearer token; an empty
// token disables the endpoint.
func requireToken(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.Error(w, "disabled: no --admin-token configured", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="assistant"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// catalogChanged keeps the search index in step with uploads to
// /api/catalog. The first upload removes the built-in demo products.
func (a *app) catalogChanged(ctx context.Context, upserted []catalog.Product, removed []string) error {
	idx := a.index.Load()
	if idx == nil {
		return errors.New("the catalogue is not indexed yet")
	}
	a.demoMu.Lock()
	demo := a.demoIDs
	a.demoIDs = nil
	a.demoMu.Unlock()
	if len(demo) > 0 {
		if err := (*idx).Delete(ctx, demo); err != nil {
			return err
		}
		a.log.Info("uploaded catalogue replaces the built-in demo", "demo_products", len(demo))
	}
	if err := (*idx).Delete(ctx, removed); err != nil {
		return err
	}
	if err := (*idx).Upsert(ctx, upserted); err != nil {
		return err
	}
	if cs := a.chat.Load(); cs != nil {
		all, err := a.products.All()
		if err != nil {
			return err
		}
		cs.SetBrands(chat.BrandNames(all))
	}
	return nil
}

// readyz is 200 only when the index answers a real query and the session
// store answers a ping.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	fail := func(reason string) {
		http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
	}
	idx := a.index.Load()
	if idx == nil {
		fail("catalogue not indexed yet")
		return
	}
	hits, err := (*idx).Search(ctx, retrieval.Query{Text: a.probe, K: 1})
	if err != nil || len(hits) == 0 {
		fail(fmt.Sprintf("index does not answer (query %q: %d hits, err %v)", a.probe, len(hits), err))
		return
	}
	if a.modelErr != nil {
		fail("intent model: " + a.modelErr.Error())
		return
	}
	if a.searchErr != nil {
		fail("search model: " + a.searchErr.Error())
		return
	}
	if a.rankErr != nil {
		fail("rerank model: " + a.rankErr.Error())
		return
	}
	if err := a.store.Ping(ctx); err != nil {
		fail("session store: " + err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ready\n")
}
