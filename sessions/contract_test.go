package sessions

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// storeFactory opens a fresh, empty store with the given TTL and returns a
// reopen function that opens another store on the same data (the caller
// closes the first one before reopening).
type storeFactory func(t *testing.T, ttl time.Duration) (s Store, reopen func() Store)

// expiryWait bounds how long tests wait for a short TTL to pass; generous,
// since the machine is shared: the tests assert that expiry happens, not how
// fast.
const expiryWait = 20 * time.Second

func runContract(t *testing.T, open storeFactory) {
	const hour = time.Hour
	ctx := context.Background()

	t.Run("CreateGet", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		in := Session{ID: NewID(), UserID: "u1", Meta: map[string]string{"lang": "en", "drop": ""}}
		before := time.Now()
		mustNil(t, s.Create(ctx, in))
		got, err := s.Get(ctx, in.ID)
		mustNil(t, err)
		if got.ID != in.ID || got.UserID != "u1" || got.Turns != 0 {
			t.Fatalf("got %+v", got)
		}
		if !reflect.DeepEqual(got.Meta, map[string]string{"lang": "en"}) {
			t.Fatalf("meta = %v, want lang=en only (empty values are not stored)", got.Meta)
		}
		// Timestamps default to now (stores keep at least ms precision).
		if got.CreatedAt.Before(before.Add(-time.Millisecond)) || got.UpdatedAt.Before(before.Add(-time.Millisecond)) {
			t.Fatalf("created %v updated %v, want >= %v", got.CreatedAt, got.UpdatedAt, before)
		}
		// Explicit timestamps are kept.
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s2 := Session{ID: NewID(), CreatedAt: at, UpdatedAt: time.Now().Truncate(time.Second)}
		mustNil(t, s.Create(ctx, s2))
		got2, err := s.Get(ctx, s2.ID)
		mustNil(t, err)
		if !got2.CreatedAt.Equal(at) || !got2.UpdatedAt.Equal(s2.UpdatedAt) {
			t.Fatalf("created %v updated %v, want %v %v", got2.CreatedAt, got2.UpdatedAt, at, s2.UpdatedAt)
		}
	})

	t.Run("DuplicateCreate", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id, UserID: "first"}))
		err := s.Create(ctx, Session{ID: id, UserID: "second"})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second Create: %v, want ErrExists", err)
		}
		got, err := s.Get(ctx, id)
		mustNil(t, err)
		if got.UserID != "first" {
			t.Fatalf("duplicate Create overwrote the session: %+v", got)
		}
	})

	t.Run("InvalidID", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		for _, id := range []string{"", string(make([]byte, MaxIDLen+1))} {
			if err := s.Create(ctx, Session{ID: id}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Create(id of %d bytes) = %v, want ErrInvalid", len(id), err)
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		id := NewID()
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get: %v", err)
		}
		if err := s.Append(ctx, id, Turn{ID: "m1", Role: RoleShopper, Text: "hi"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Append: %v", err)
		}
		if _, err := s.History(ctx, id, 0); !errors.Is(err, ErrNotFound) {
			t.Errorf("History: %v", err)
		}
		if err := s.SetMeta(ctx, id, map[string]string{"a": "b"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetMeta: %v", err)
		}
		// A failed Append or SetMeta must not have created anything.
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after failed writes: %v", err)
		}
		p, err := s.List(ctx, ListOptions{})
		mustNil(t, err)
		if len(p.Sessions) != 0 {
			t.Errorf("List on an empty store: %+v", p)
		}
	})

	t.Run("AppendHistory", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id}))
		created, _ := s.Get(ctx, id)
		h, err := s.History(ctx, id, 0)
		mustNil(t, err)
		if len(h) != 0 {
			t.Fatalf("history of a new session: %v", h)
		}
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		shopper := Turn{ID: "m1", Role: RoleShopper, Text: "red running shoes under 100", At: at}
		bot := Turn{ID: "b1", ReplyTo: "m1", Role: RoleBot, Text: "Here are two:", At: at.Add(time.Second), Products: []ProductRef{
			{ID: "p1", Title: "Racer", Brand: "Acme", Price: 89.5, Currency: "EUR", Image: "https://x/p1.jpg", Score: 0.93},
			{ID: "p2", Title: "Trail", Price: 99, Score: 0.81},
		}}
		mustNil(t, s.Append(ctx, id, shopper, bot))
		var want []Turn
		want = append(want, shopper, bot)
		for i := range 8 {
			tn := Turn{ID: fmt.Sprintf("m%d", i+2), Role: RoleShopper, Text: fmt.Sprint("q", i), At: at.Add(time.Duration(i+2) * time.Second)}
			mustNil(t, s.Append(ctx, id, tn))
			want = append(want, tn)
		}
		got, err := s.Get(ctx, id)
		mustNil(t, err)
		if got.Turns != len(want) {
			t.Fatalf("Turns = %d, want %d", got.Turns, len(want))
		}
		if !got.UpdatedAt.After(created.UpdatedAt) && !got.UpdatedAt.Equal(created.UpdatedAt) {
			t.Fatalf("UpdatedAt went back: %v -> %v", created.UpdatedAt, got.UpdatedAt)
		}
		all, err := s.History(ctx, id, 0)
		mustNil(t, err)
		assertTurns(t, all, want)
		last3, err := s.History(ctx, id, 3)
		mustNil(t, err)
		assertTurns(t, last3, want[len(want)-3:])
		more, err := s.History(ctx, id, 1000)
		mustNil(t, err)
		assertTurns(t, more, want)
		if !reflect.DeepEqual(all[1].Products, bot.Products) {
			t.Fatalf("products = %+v, want %+v", all[1].Products, bot.Products)
		}
		// A zero At is stamped with the append time.
		before := time.Now().Add(-time.Millisecond)
		mustNil(t, s.Append(ctx, id, Turn{ID: "m99", Role: RoleShopper, Text: "now"}))
		h1, err := s.History(ctx, id, 1)
		mustNil(t, err)
		if len(h1) != 1 || h1[0].ID != "m99" || h1[0].At.Before(before) {
			t.Fatalf("last turn = %+v, want m99 stamped after %v", h1, before)
		}
	})

	t.Run("SetMeta", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id, Meta: map[string]string{"brand": "acme", "colour": "red"}}))
		mustNil(t, s.SetMeta(ctx, id, map[string]string{"colour": "", "max_price": "100", "handoff": "pending"}))
		got, err := s.Get(ctx, id)
		mustNil(t, err)
		want := map[string]string{"brand": "acme", "max_price": "100", "handoff": "pending"}
		if !reflect.DeepEqual(got.Meta, want) {
			t.Fatalf("meta = %v, want %v", got.Meta, want)
		}
		mustNil(t, s.SetMeta(ctx, id, map[string]string{"brand": "", "max_price": "", "handoff": ""}))
		got, err = s.Get(ctx, id)
		mustNil(t, err)
		if len(got.Meta) != 0 {
			t.Fatalf("meta after deleting every key = %v", got.Meta)
		}
	})

	t.Run("ListOrderAndPaging", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		// 13 sessions over 5 distinct whole-second times, so pages split
		// ties: the order is by UpdatedAt descending, ties in a fixed order.
		base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
		want := map[string]time.Time{}
		for i := range 13 {
			id := fmt.Sprintf("s%02d-%s", i, NewID()[:6])
			upd := base.Add(time.Duration(i%5) * time.Second)
			mustNil(t, s.Create(ctx, Session{ID: id, UpdatedAt: upd}))
			want[id] = upd
		}
		for _, size := range []int{1, 2, 3, 5, 13, 50} {
			var got []Session
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatalf("size %d: paging does not end", size)
				}
				p, err := s.List(ctx, ListOptions{Cursor: cursor, Limit: size})
				mustNil(t, err)
				if len(p.Sessions) > size {
					t.Fatalf("size %d: page of %d", size, len(p.Sessions))
				}
				got = append(got, p.Sessions...)
				if p.Next == "" {
					break
				}
				if len(p.Sessions) != size {
					t.Fatalf("size %d: short page of %d before the last", size, len(p.Sessions))
				}
				cursor = p.Next
			}
			seen := map[string]bool{}
			for i, ss := range got {
				if seen[ss.ID] {
					t.Fatalf("size %d: %s listed twice", size, ss.ID)
				}
				seen[ss.ID] = true
				if !ss.UpdatedAt.Equal(want[ss.ID]) {
					t.Fatalf("size %d: %s updated %v, want %v", size, ss.ID, ss.UpdatedAt, want[ss.ID])
				}
				if i > 0 && ss.UpdatedAt.After(got[i-1].UpdatedAt) {
					t.Fatalf("size %d: not most-recent-first at %d: %v after %v", size, i, ss.UpdatedAt, got[i-1].UpdatedAt)
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("size %d: listed %d of %d sessions", size, len(seen), len(want))
			}
		}
		// Default limit and last-page cursor.
		p, err := s.List(ctx, ListOptions{})
		mustNil(t, err)
		if len(p.Sessions) != 13 || p.Next != "" {
			t.Fatalf("default page: %d sessions, next %q", len(p.Sessions), p.Next)
		}
		if _, err := s.List(ctx, ListOptions{Cursor: "%%%not-a-cursor"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("bad cursor: %v, want ErrInvalid", err)
		}
		// An Append moves a session to the front.
		oldest := p.Sessions[len(p.Sessions)-1].ID
		mustNil(t, s.Append(ctx, oldest, Turn{ID: "m1", Role: RoleShopper, Text: "back"}))
		p, err = s.List(ctx, ListOptions{Limit: 1})
		mustNil(t, err)
		if len(p.Sessions) != 1 || p.Sessions[0].ID != oldest || p.Sessions[0].Turns != 1 {
			t.Fatalf("after Append, first = %+v, want %s with 1 turn", p.Sessions, oldest)
		}
	})

	t.Run("ConcurrentAppends", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id}))
		const workers, calls = 8, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*calls)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range calls {
					q := Turn{ID: fmt.Sprintf("w%d-c%d-q", w, c), Role: RoleShopper, Text: "q"}
					a := Turn{ID: fmt.Sprintf("w%d-c%d-a", w, c), ReplyTo: q.ID, Role: RoleBot, Text: "a"}
					if err := s.Append(ctx, id, q, a); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, id)
		mustNil(t, err)
		if got.Turns != workers*calls*2 {
			t.Fatalf("Turns = %d, want %d", got.Turns, workers*calls*2)
		}
		h, err := s.History(ctx, id, 0)
		mustNil(t, err)
		if len(h) != workers*calls*2 {
			t.Fatalf("history has %d turns, want %d", len(h), workers*calls*2)
		}
		next := make([]int, workers) // next call expected per worker
		for i := 0; i < len(h); i += 2 {
			var w, c int
			if _, err := fmt.Sscanf(h[i].ID, "w%d-c%d-q", &w, &c); err != nil {
				t.Fatalf("turn %d = %q: want a question first (an Append was split): %v", i, h[i].ID, err)
			}
			if h[i+1].ReplyTo != h[i].ID {
				t.Fatalf("turn %d = %+v does not follow its question %q: an Append was split", i+1, h[i+1], h[i].ID)
			}
			if c != next[w] {
				t.Fatalf("worker %d: call %d stored where %d was expected", w, c, next[w])
			}
			next[w]++
		}
	})

	t.Run("ExpiredOnCreate", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		old := Session{ID: NewID(), UpdatedAt: time.Now().Add(-hour - time.Minute)}
		mustNil(t, s.Create(ctx, old))
		live := Session{ID: NewID()}
		mustNil(t, s.Create(ctx, live))
		assertGone(t, s, old.ID)
		p, err := s.List(ctx, ListOptions{})
		mustNil(t, err)
		if len(p.Sessions) != 1 || p.Sessions[0].ID != live.ID {
			t.Fatalf("List = %+v, want only %s", p.Sessions, live.ID)
		}
		// The id of an expired session can be used again.
		mustNil(t, s.Create(ctx, Session{ID: old.ID, UserID: "again"}))
		got, err := s.Get(ctx, old.ID)
		mustNil(t, err)
		h, err := s.History(ctx, old.ID, 0)
		mustNil(t, err)
		if got.UserID != "again" || got.Turns != 0 || len(h) != 0 {
			t.Fatalf("re-created session %+v with %d turns", got, len(h))
		}
	})

	t.Run("TTLExpiry", func(t *testing.T) {
		t.Parallel()
		const ttl = time.Second
		s, _ := open(t, ttl)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id}))
		mustNil(t, s.Append(ctx, id, Turn{ID: "m1", Role: RoleShopper, Text: "hi"}))
		deadline := time.Now().Add(expiryWait)
		for {
			_, err := s.Get(ctx, id)
			if errors.Is(err, ErrNotFound) {
				break
			}
			mustNil(t, err)
			if time.Now().After(deadline) {
				t.Fatalf("session still there %v after its %v TTL", expiryWait, ttl)
			}
			time.Sleep(100 * time.Millisecond)
		}
		assertGone(t, s, id)
	})

	t.Run("AppendRenewsTTL", func(t *testing.T) {
		t.Parallel()
		// Created 5s before a 6s TTL: it would expire in 1s. The Append
		// renews it for 6s; checked 2.5s later (slack 3.5s on each side).
		const ttl = 6 * time.Second
		s, _ := open(t, ttl)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id, UpdatedAt: time.Now().Add(-5 * time.Second)}))
		mustNil(t, s.Append(ctx, id, Turn{ID: "m1", Role: RoleShopper, Text: "still here"}))
		time.Sleep(2500 * time.Millisecond)
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get after the original expiry: %v (Append did not renew the TTL)", err)
		}
		h, err := s.History(ctx, id, 0)
		mustNil(t, err)
		if got.Turns != 1 || len(h) != 1 {
			t.Fatalf("renewed session has %d turns, history %d", got.Turns, len(h))
		}
	})

	t.Run("SurvivesReopen", func(t *testing.T) {
		t.Parallel()
		s, reopen := open(t, hour)
		id := NewID()
		mustNil(t, s.Create(ctx, Session{ID: id, UserID: "u", Meta: map[string]string{"k": "v"}}))
		want := []Turn{
			{ID: "m1", Role: RoleShopper, Text: "hello", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			{ID: "b1", ReplyTo: "m1", Role: RoleBot, Text: "hi", At: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC),
				Products: []ProductRef{{ID: "p", Title: "T", Price: 1}}},
		}
		mustNil(t, s.Append(ctx, id, want...))
		mustNil(t, s.Close())
		s2 := reopen()
		got, err := s2.Get(ctx, id)
		mustNil(t, err)
		if got.UserID != "u" || got.Turns != 2 || got.Meta["k"] != "v" {
			t.Fatalf("after reopen: %+v", got)
		}
		h, err := s2.History(ctx, id, 0)
		mustNil(t, err)
		assertTurns(t, h, want)
		mustNil(t, s2.Ping(ctx))
	})

	t.Run("DeleteUser", func(t *testing.T) {
		t.Parallel()
		s, reopen := open(t, hour)
		turn := Turn{ID: "m1", Role: RoleShopper, Text: "my address is 1 Main St"}
		a1, a2, b1, anon := NewID(), NewID(), NewID(), NewID()
		mustNil(t, s.Create(ctx, Session{ID: a1, UserID: "alice", Meta: map[string]string{"lang": "en"}}))
		mustNil(t, s.Append(ctx, a1, turn))
		mustNil(t, s.SetMeta(ctx, a1, map[string]string{"handoff": "pending"}))
		mustNil(t, s.Create(ctx, Session{ID: a2, UserID: "alice"}))
		mustNil(t, s.Create(ctx, Session{ID: b1, UserID: "bob"}))
		mustNil(t, s.Append(ctx, b1, turn))
		mustNil(t, s.Create(ctx, Session{ID: anon}))
		// A session id of alice's that expired and was taken by bob: bob's.
		reused := NewID()
		mustNil(t, s.Create(ctx, Session{ID: reused, UserID: "alice", UpdatedAt: time.Now().Add(-hour - time.Minute)}))
		mustNil(t, s.Create(ctx, Session{ID: reused, UserID: "bob"}))

		if _, err := s.DeleteUser(ctx, ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("DeleteUser(\"\") = %v, want ErrInvalid", err)
		}
		ids, err := s.DeleteUser(ctx, "alice")
		mustNil(t, err)
		slices.Sort(ids)
		want := []string{a1, a2}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("DeleteUser(alice) = %v, want %v", ids, want)
		}
		assertGone(t, s, a1)
		assertGone(t, s, a2)
		for _, id := range []string{b1, reused, anon} {
			if _, err := s.Get(ctx, id); err != nil {
				t.Fatalf("Get(%s) after erasing alice: %v", id, err)
			}
		}
		if h, err := s.History(ctx, b1, 0); err != nil || len(h) != 1 {
			t.Fatalf("bob's history after erasing alice: %v, %v", h, err)
		}
		ids, err = s.DeleteUser(ctx, "alice")
		if err != nil || len(ids) != 0 {
			t.Fatalf("second DeleteUser(alice) = %v, %v; want none", ids, err)
		}
		// The index survives a restart.
		a3 := NewID()
		mustNil(t, s.Create(ctx, Session{ID: a3, UserID: "alice"}))
		mustNil(t, s.Close())
		s2 := reopen()
		ids, err = s2.DeleteUser(ctx, "alice")
		if err != nil || !slices.Equal(ids, []string{a3}) {
			t.Fatalf("DeleteUser(alice) after reopen = %v, %v; want [%s]", ids, err, a3)
		}
		ids, err = s2.DeleteUser(ctx, "bob")
		slices.Sort(ids)
		want = []string{b1, reused}
		slices.Sort(want)
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("DeleteUser(bob) = %v, %v; want %v", ids, err, want)
		}
		if _, err := s2.Get(ctx, anon); err != nil {
			t.Fatalf("anonymous session after erasing both users: %v", err)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		s, _ := open(t, hour)
		mustNil(t, s.Ping(ctx))
	})
}

func assertGone(t *testing.T, s Store, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get expired: %v, want ErrNotFound", err)
	}
	if _, err := s.History(ctx, id, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("History expired: %v, want ErrNotFound", err)
	}
	if err := s.Append(ctx, id, Turn{ID: "late", Role: RoleShopper}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Append expired: %v, want ErrNotFound", err)
	}
	if err := s.SetMeta(ctx, id, map[string]string{"a": "b"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetMeta expired: %v, want ErrNotFound", err)
	}
	p, err := s.List(ctx, ListOptions{Limit: 1000})
	mustNil(t, err)
	for _, ss := range p.Sessions {
		if ss.ID == id {
			t.Errorf("List still shows expired %s", id)
		}
	}
}

func assertTurns(t *testing.T, got, want []Turn) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d turns, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Fatalf("turn %d At = %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("turn %d = %+v, want %+v", i, g, w)
		}
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
