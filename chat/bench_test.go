package chat

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/demodata"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/llm/llmtest"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
)

// BenchmarkDialogLayer measures what the dialog layer adds to a turn, apart
// from the search and the answer it routes to: extracting the slots of the
// message, decoding and encoding the dialog state (a refined need with 8
// results), and the two session-store calls it needs — reading the
// session's metadata before the turn and writing the new state after it —
// with each backend.
func BenchmarkDialogLayer(b *testing.B) {
	d, err := demoCatalogue()
	if err != nil {
		b.Fatal(err)
	}
	x := intent.NewSlotExtractor(d.brands)
	msgs := []string{"a Lenovo laptop under $800", "only Dell or HP", "any in black?", "between 20 and 50 euros", "cheaper ones", "the second one", "27\" monitor", "where is my order 10231?"}
	st := dialogState{Need: "laptop", Type: "laptop", Filters: filters{MaxPrice: 80000, Brands: []string{"Lenovo", "DELL"}, Colors: []string{"black"}},
		Results: []string{"77741506", "77741532", "77679326", "78503112", "77913925", "77913963", "77913920", "78599096"}, Clarified: true, Act: "refine"}
	meta := map[string]string{metaDialog: st.encode(), metaLastText: "Here are 8 products", metaLastRole: "bot"}
	b.Run("extract-slots", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			x.Extract(msgs[i%len(msgs)])
		}
	})
	b.Run("state-codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := loadDialog(meta)
			s.Page++
			_ = s.encode()
		}
	})
	for _, backend := range []string{"embedded", "redis"} {
		b.Run("store-get+setmeta/"+backend, func(b *testing.B) {
			ctx := context.Background()
			var store sessions.Store
			if backend == "redis" {
				store, err = sessions.New(ctx, sessions.Config{RedisURL: "redis://" + redistest.Addr(b), KeyPrefix: redistest.Prefix(b), TTL: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
			} else {
				store = embeddedStore(b, b.TempDir())
			}
			defer store.Close()
			if err := store.Create(ctx, sessions.Session{ID: "s"}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				got, err := store.Get(ctx, "s")
				if err != nil {
					b.Fatal(err)
				}
				s := loadDialog(got.Meta)
				s.Page = i
				if err := store.SetMeta(ctx, "s", map[string]string{metaDialog: s.encode(), metaLastText: "Here are 8 products", metaLastRole: "bot"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTurn measures one full WebSocket turn over loopback — message
// frame in, typing/intent/products/message/done out, both turns appended to
// the session store — against the 19,406-product demo catalogue, with each
// session backend and with and without the intent model, and reports p50
// and p99 per turn.
func BenchmarkTurn(b *testing.B) {
	for _, backend := range []string{"embedded", "redis"} {
		for _, withIntents := range []bool{false, true} {
			name := backend + "/search-only"
			if withIntents {
				name = backend + "/intent+search"
			}
			b.Run(name, func(b *testing.B) { benchTurn(b, backend, withIntents) })
		}
	}
}

// demoCatalogue is the demo catalogue's index and brand names, built once
// per test binary.
var demoCatalogue = sync.OnceValues(func() (demo, error) {
	ctx := context.Background()
	products, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		return demo{}, err
	}
	idx, err := retrieval.New(retrieval.Config{})
	if err != nil {
		return demo{}, err
	}
	return demo{index: idx, brands: BrandNames(products)}, idx.Upsert(ctx, products)
})

type demo struct {
	index  retrieval.Index
	brands []string
}

func demoIndex() (retrieval.Index, error) {
	d, err := demoCatalogue()
	return d.index, err
}

func benchTurn(b *testing.B, backend string, withIntents bool) {
	ctx := context.Background()
	d, err := demoCatalogue()
	if err != nil {
		b.Fatal(err)
	}
	idx := d.index
	var store sessions.Store
	if backend == "redis" {
		store, err = sessions.New(ctx, sessions.Config{RedisURL: "redis://" + redistest.Addr(b), KeyPrefix: redistest.Prefix(b), TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
	} else {
		store = embeddedStore(b, b.TempDir())
	}
	defer store.Close()
	deps := Deps{Store: store, Index: idx, Brands: d.brands, Metrics: NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if withIntents {
		deps.Intents = realClassifier(b)
	}
	srv, err := NewServer(Config{}, deps)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	queries := []string{"bluetooth speaker", "wireless headphones", "hp 61 ink", "laptop bag 15 inch", "usb c cable", "gaming mouse", "external hard drive 2tb", "canon toner"}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := ws.WriteJSON(map[string]string{"type": "message", "id": fmt.Sprint(i), "text": queries[i%len(queries)]}); err != nil {
			b.Fatal(err)
		}
		for {
			var f ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				b.Fatal(err)
			}
			if f.Type == TypeError {
				b.Fatalf("error frame %+v", f)
			}
			if f.Type == TypeDone {
				break
			}
		}
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLLMTurn measures a product turn answered through an LLM over
// loopback: a local llmtest server streams a 12-token answer with no
// delay, so the figures are the chat's and the LLM client's own cost —
// message to first token frame (ttft) and to done — not a model's. Embedded
// store, search only, 19,406 demo products.
func BenchmarkLLMTurn(b *testing.B) {
	d, err := demoCatalogue()
	if err != nil {
		b.Fatal(err)
	}
	tokens := strings.Fields("Here are a few good options for you , starting with the first one .")
	for i := range tokens {
		tokens[i] += " "
	}
	fake := llmtest.NewServer(b, llmtest.Script{Tokens: tokens})
	client, err := llm.New(llm.Config{BaseURL: fake.URL, Model: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	store := embeddedStore(b, b.TempDir())
	defer store.Close()
	srv, err := NewServer(Config{}, Deps{Store: store, Index: d.index, Brands: d.brands, LLM: client,
		Metrics: NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	queries := []string{"bluetooth speaker", "wireless headphones", "hp 61 ink", "usb c cable", "gaming mouse", "canon toner"}
	ttft := make([]time.Duration, 0, b.N)
	turn := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := ws.WriteJSON(map[string]string{"type": "message", "id": fmt.Sprint(i), "text": queries[i%len(queries)]}); err != nil {
			b.Fatal(err)
		}
		first := time.Duration(0)
		for {
			var f ServerFrame
			if err := ws.ReadJSON(&f); err != nil {
				b.Fatal(err)
			}
			if f.Type == TypeError {
				b.Fatalf("error frame %+v", f)
			}
			if f.Type == TypeToken && first == 0 {
				first = time.Since(start)
			}
			if f.Type == TypeDone {
				break
			}
		}
		if first == 0 {
			b.Fatal("no token frame: the LLM answer fell back")
		}
		ttft = append(ttft, first)
		turn = append(turn, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(ttft)
	slices.Sort(turn)
	b.ReportMetric(float64(ttft[len(ttft)/2].Microseconds())/1000, "ttft-p50-ms")
	b.ReportMetric(float64(ttft[len(ttft)*99/100].Microseconds())/1000, "ttft-p99-ms")
	b.ReportMetric(float64(turn[len(turn)/2].Microseconds())/1000, "turn-p50-ms")
}
