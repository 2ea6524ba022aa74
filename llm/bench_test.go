package llm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/llm/llmtest"
)

// BenchmarkStream measures the client's own cost per call against a
// zero-delay local server: prompt building, the HTTP round trip on a
// kept-alive loopback connection, SSE decoding of 20 chunks and the guard.
// ttft-ns/op is the mean time from the call to the first token.
func BenchmarkStream(b *testing.B) {
	tokens := strings.Fields(strings.Repeat("The Acme Kettle 2000 [123] costs €49.99 and boils fast. ", 3))
	for i := range tokens {
		tokens[i] += " "
	}
	srv := llmtest.NewServer(b, llmtest.Script{Tokens: tokens[:20]})
	c := newClient(b, srv, nil)
	ctx := context.Background()
	var ttft time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		first := true
		if _, err := c.Stream(ctx, kettles, func(string) {
			if first {
				ttft += time.Since(start)
				first = false
			}
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ttft.Nanoseconds())/float64(b.N), "ttft-ns/op")
}

// BenchmarkCheckGrounded measures the guard alone on a typical answer.
func BenchmarkCheckGrounded(b *testing.B) {
	answer := "The Sony WH-1000XM4 Wireless Headphones [101] cost $249.99 and last 30 h; the Bose QuietComfort 45 [102] is $1,299.00. Both ship free over 50 EUR."
	b.ReportAllocs()
	for b.Loop() {
		if err := llm.CheckGrounded(answer, headphones, nil); err != nil {
			b.Fatal(err)
		}
	}
}
