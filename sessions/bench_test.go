package sessions

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redistest"
)

// benchBackends opens each backend for a benchmark.
func benchBackends(b *testing.B, f func(b *testing.B, s Store)) {
	b.Run("embedded", func(b *testing.B) {
		f(b, openEmbeddedT(b, b.TempDir(), time.Hour))
	})
	b.Run("redis", func(b *testing.B) {
		addr := redistest.Addr(b)
		prefix := redistest.Prefix(b)
		redistest.Cleanup(b, addr, prefix)
		f(b, openRedisT(b, addr, prefix, time.Hour))
	})
}

func benchTurn(i int) Turn {
	return Turn{ID: fmt.Sprint("b", i), ReplyTo: "m", Role: RoleBot, Text: "Here are three running shoes under 100 euros that match your filters.",
		Products: []ProductRef{
			{ID: "p1", Title: "Racer 3", Brand: "Acme", Price: 89.5, Currency: "EUR", Score: 0.9},
			{ID: "p2", Title: "Trail 2", Brand: "Acme", Price: 79, Currency: "EUR", Score: 0.8},
			{ID: "p3", Title: "Road 1", Brand: "Zed", Price: 99, Currency: "EUR", Score: 0.7},
		}}
}

// BenchmarkAppend measures one Append of a shopper turn and a bot turn with
// three products, the write of one chat turn.
func BenchmarkAppend(b *testing.B) {
	benchBackends(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		id := NewID()
		mustNil(b, s.Create(ctx, Session{ID: id}))
		q := Turn{ID: "m", Role: RoleShopper, Text: "red running shoes under 100"}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := s.Append(ctx, id, q, benchTurn(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHistory measures reading the last 20 turns of a 200-turn session,
// the read of one chat turn.
func BenchmarkHistory(b *testing.B) {
	benchBackends(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		id := NewID()
		mustNil(b, s.Create(ctx, Session{ID: id}))
		for i := range 100 {
			mustNil(b, s.Append(ctx, id, Turn{ID: "m", Role: RoleShopper, Text: "q"}, benchTurn(i)))
		}
		b.ReportAllocs()
		for b.Loop() {
			h, err := s.History(ctx, id, 20)
			if err != nil || len(h) != 20 {
				b.Fatal(len(h), err)
			}
		}
	})
}
