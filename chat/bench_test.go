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
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/retrieval"
	"github.com/shopassist/shopassist/sessions"
)

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

var demoIndex = sync.OnceValues(func() (retrieval.Index, error) {
	ctx := context.Background()
	products, _, err := catalog.Load(ctx, demodata.FS, []string{demodata.IcecatGlob}, catalog.IcecatMapping(), catalog.LoadOptions{})
	if err != nil {
		return nil, err
	}
	idx, err := retrieval.New(retrieval.Config{})
	if err != nil {
		return nil, err
	}
	return idx, idx.Upsert(ctx, products)
})

func benchTurn(b *testing.B, backend string, withIntents bool) {
	ctx := context.Background()
	idx, err := demoIndex()
	if err != nil {
		b.Fatal(err)
	}
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
	deps := Deps{Store: store, Index: idx, Metrics: NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
