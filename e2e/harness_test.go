package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/audit"
	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/inference"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
	"github.com/shopassist/shopassist/web"
)

// operatorPassword is the password of every operator account of the test
// servers: Ada (admin), Alex (agent) and Sam (viewer).
const operatorPassword = "e2e operator password"

var (
	accountsOnce sync.Once
	accounts     *web.Accounts
	accountsErr  error
)

// operatorAccounts writes an accounts file as an admin would, with
// AccountLine, and loads it with LoadAccounts (once per test binary:
// bcrypt is slow on purpose).
func operatorAccounts(t *testing.T) *web.Accounts {
	t.Helper()
	accountsOnce.Do(func() {
		text := "# e2e operators\n"
		for _, a := range [][2]string{{"Ada", "admin"}, {"Alex", "agent"}, {"Sam", "viewer"}} {
			line, err := web.AccountLine(a[0], a[1], operatorPassword)
			if err != nil {
				accountsErr = err
				return
			}
			text += line + "\n"
		}
		path := filepath.Join(os.TempDir(), fmt.Sprintf("shopassist-e2e-operators-%d", os.Getpid()))
		if accountsErr = os.WriteFile(path, []byte(text), 0o600); accountsErr != nil {
			return
		}
		defer os.Remove(path)
		accounts, accountsErr = web.LoadAccounts(path)
	})
	if accountsErr != nil {
		t.Fatal(accountsErr)
	}
	return accounts
}

// shadow is the JavaScript expression of the widget's shadow root.
const shadow = `document.getElementById('shopassist-widget').shadowRoot`

var (
	demoOnce  sync.Once
	demoIndex retrieval.Index
	demoErr   error

	intentsOnce sync.Once
	intents     *intent.Classifier
	intentsErr  error
)

// catalogueIndex is the demo catalogue (Icecat, about 19,000 products)
// indexed once per test binary.
func catalogueIndex(t *testing.T) retrieval.Index {
	t.Helper()
	demoOnce.Do(func() {
		ctx := context.Background()
		products, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
		if err != nil {
			demoErr = fmt.Errorf("demo catalogue: %w", err)
			return
		}
		idx, err := retrieval.New(retrieval.Config{})
		if err != nil {
			demoErr = err
			return
		}
		if err := idx.Upsert(ctx, products); err != nil {
			demoErr = fmt.Errorf("index: %w", err)
			return
		}
		demoIndex = idx
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoIndex
}

// classifier is the committed intent model. With required, a missing ONNX
// Runtime skips the test (fails under $CI); otherwise the server answers
// every message as a product search without it.
func classifier(t *testing.T, required bool) chat.IntentClassifier {
	t.Helper()
	if required {
		inferencetest.RequireRuntime(t)
	} else if err := inference.Init(inference.RuntimeConfig{}); err != nil {
		t.Logf("no intent model (%v): every message is a product search", err)
		return nil
	}
	intentsOnce.Do(func() { intents, intentsErr = intent.Load("../models/intent", intent.Config{}) })
	if intentsErr != nil {
		t.Fatal(intentsErr)
	}
	return intents
}

// eventLog is an events.Stream that records what the widget sends.
type eventLog struct {
	mu  sync.Mutex
	evs []events.Event
}

func (l *eventLog) Publish(_ context.Context, evs []events.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, evs...)
	return nil
}

func (l *eventLog) Consume(ctx context.Context, _ events.ApplyFunc) error {
	<-ctx.Done()
	return ctx.Err()
}

func (l *eventLog) Close() error { return nil }

// find returns the recorded events of type typ.
func (l *eventLog) find(typ events.Type) []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []events.Event
	for _, e := range l.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// switchListener is a listener whose connections a test can cut, as a
// network failure would (no close frame), and which can refuse new ones for
// a while.
type switchListener struct {
	net.Listener
	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func (l *switchListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.down {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		return &trackedConn{Conn: c, l: l}, nil
	}
}

// cut closes every open connection and, with down, refuses new ones until
// up is called.
func (l *switchListener) cut(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
	for c := range l.conns {
		c.Close()
	}
	clear(l.conns)
}

func (l *switchListener) up() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	l *switchListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c.Conn)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// env is a server as `assistant serve` mounts it, in the test process.
type env struct {
	url    string
	chat   *chat.Server
	store  sessions.Store
	events *eventLog
	audit  *audit.Memory
	ln     *switchListener
}

type envOptions struct {
	// requireIntents skips the test without ONNX Runtime (fails under $CI);
	// otherwise the intent model is used when it loads.
	requireIntents bool
	// wrapStore, when set, wraps the session store the chat server uses.
	wrapStore func(sessions.Store) sessions.Store
	// llm, when set, words the answers (streamed as token frames).
	llm *llm.Client
	// config, when set, adjusts the chat server's configuration.
	config func(*chat.Config)
}

func newEnv(t *testing.T, opt envOptions) *env {
	t.Helper()
	store, err := sessions.New(context.Background(), sessions.Config{DataDir: t.TempDir(), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, events: &eventLog{}, audit: audit.NewMemory(0)}
	idx := catalogueIndex(t)
	auth, err := web.NewOperatorAuth("", web.WithAccounts(operatorAccounts(t)), web.WithAudit(e.audit))
	if err != nil {
		t.Fatal(err)
	}
	entry, err := privacy.GenerateKey("e2e")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := privacy.ParseKeys(entry)
	if err != nil {
		t.Fatal(err)
	}
	cfg := chat.Config{}
	if opt.config != nil {
		opt.config(&cfg)
	}
	configureOperators(&cfg, auth)
	chatStore := store
	if opt.wrapStore != nil {
		chatStore = opt.wrapStore(store)
	}
	e.chat, err = chat.NewServer(cfg, chat.Deps{
		Store:   chatStore,
		Index:   idx,
		Intents: classifier(t, opt.requireIntents),
		Events:  e.events,
		LLM:     opt.llm,
		Keys:    keys,
		Audit:   e.audit,
		Metrics: chat.NewMetrics(prometheus.NewRegistry()),
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The routes of cmd/assistant/serve.go that a browser uses.
	mux := http.NewServeMux()
	mux.Handle("/ws", e.chat)
	mux.Handle("/api/search", chat.SearchHandler(idx))
	mountOperatorAPI(mux, e.chat)
	mux.Handle("/console/", web.ConsoleHandler(auth))
	mux.Handle("/", web.Handler())

	hs := httptest.NewUnstartedServer(mux)
	e.ln = &switchListener{Listener: hs.Listener, conns: map[net.Conn]struct{}{}}
	hs.Listener = e.ln
	hs.Start()
	e.url = hs.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.chat.Shutdown(ctx)
		e.ln.cut(false)
		hs.Close()
	})
	return e
}

// chromium finds the browser: $CHROMIUM, else chromium on the PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
	}
	t.Skip("no Chromium found (apt-get install chromium, or set $CHROMIUM); skipping the browser tests")
	return ""
}

// newBrowser starts a headless Chromium for the test and returns the
// context of its first tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1280, 800),
		// The demo catalogue's images are on the internet, which tests do
		// not reach: fail those requests at once.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start %s: %v", chromium(t), err)
	}
	return ctx
}

// newIncognitoTab opens a tab of the browser of parent in a new browser
// context: its own cookies and storage, as another person's browser.
func newIncognitoTab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Run binds the tab's life to its context: no deadline here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// within runs actions under a deadline; the tab outlives it.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its JSON value into T.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the expression is truthy.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, pageState(ctx))
	}
}

// pageState describes the widget for a failure message.
func pageState(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](`(() => {
		const w = document.getElementById('shopassist-widget');
		const r = w && w.shadowRoot;
		return 'URL ' + location.href + '\nwidget status: ' + (r ? r.querySelector('.st').textContent : 'no widget') +
			'\nwidget log: ' + (r ? r.querySelector('.log').innerText : '') + '\npage: ' + document.body.innerText.slice(0, 800);
	})()`))
	if err != nil {
		return "(page state unavailable: " + err.Error() + ")"
	}
	return s
}

// viewport emulates a screen of width×height CSS pixels: a phone (mobile,
// portrait) under 600 px wide, else a desktop window.
func viewport(t *testing.T, ctx context.Context, width, height int64) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile)
	}
	within(t, ctx, 10*time.Second, "set viewport", chromedp.EmulateViewport(width, height, opts...))
	// Let the layout settle after the resize: two animation frames.
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("layout: %v", err)
	}
}

// shot saves a PNG of the tab at width×height into artifacts/screenshots.
func shot(t *testing.T, ctx context.Context, name string, width, height int64) {
	t.Helper()
	viewport(t, ctx, width, height)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
