package sessions

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openEmbeddedT(t testing.TB, dir string, ttl time.Duration) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(Config{DataDir: dir, TTL: ttl, SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestEmbeddedContract(t *testing.T) {
	runContract(t, func(t *testing.T, ttl time.Duration) (Store, func() Store) {
		dir := t.TempDir()
		return openEmbeddedT(t, dir, ttl), func() Store { return openEmbeddedT(t, dir, ttl) }
	})
}

// rawHas reports whether any trace of id is left in the file.
func rawHas(t *testing.T, e *Embedded, id string) bool {
	t.Helper()
	found := false
	err := e.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSessions).Get([]byte(id)) != nil || tx.Bucket(bucketTurns).Bucket([]byte(id)) != nil {
			found = true
		}
		return tx.Bucket(bucketUpdated).ForEach(func(k, _ []byte) error {
			if string(k[8:]) == id {
				found = true
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestEmbeddedSweeperDeletesExpired(t *testing.T) {
	ctx := context.Background()
	e := openEmbeddedT(t, t.TempDir(), time.Hour)
	old, live := NewID(), NewID()
	mustNil(t, e.Create(ctx, Session{ID: old, UpdatedAt: time.Now().Add(-2 * time.Hour)}))
	mustNil(t, e.Create(ctx, Session{ID: live}))
	mustNil(t, e.Append(ctx, live, Turn{ID: "m1", Role: RoleShopper, Text: "hi"}))
	// Write turns under the old id directly, as if it had a transcript.
	mustNil(t, e.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketTurns).CreateBucket([]byte(old))
		if err != nil {
			return err
		}
		return b.Put(u64(1), []byte(`{"id":"x"}`))
	}))
	deadline := time.Now().Add(expiryWait)
	for rawHas(t, e, old) {
		if time.Now().After(deadline) {
			t.Fatalf("sweeper (every 50ms) left expired %s on disk after %v", old, expiryWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !rawHas(t, e, live) {
		t.Fatal("sweeper deleted a live session")
	}
	h, err := e.History(ctx, live, 0)
	mustNil(t, err)
	if len(h) != 1 {
		t.Fatalf("live history = %v", h)
	}
}

func TestEmbeddedSweepBatches(t *testing.T) {
	ctx := context.Background()
	e, err := OpenEmbedded(Config{DataDir: t.TempDir(), TTL: time.Hour, SweepInterval: time.Hour})
	mustNil(t, err)
	defer e.Close()
	n := sweepBatch + 7
	past := time.Now().Add(-2 * time.Hour)
	mustNil(t, e.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			s := Session{ID: NewID(), CreatedAt: past, UpdatedAt: past.Add(time.Duration(i))}
			if err := e.put(tx, s); err != nil {
				return err
			}
		}
		return nil
	}))
	mustNil(t, e.Create(ctx, Session{ID: "live"}))
	got, err := e.sweep()
	mustNil(t, err)
	if got != n {
		t.Fatalf("sweep deleted %d, want %d", got, n)
	}
	if _, err := e.Get(ctx, "live"); err != nil {
		t.Fatalf("live session after sweep: %v", err)
	}
}

func TestEmbeddedSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	_ = openEmbeddedT(t, dir, time.Hour)
	// bbolt's flock is per open file description, so a second Open in the
	// same process conflicts like a second process would.
	_, err := OpenEmbedded(Config{DataDir: dir})
	if err == nil || !errors.Is(err, bolt.ErrTimeout) {
		t.Fatalf("second open of %s: %v, want a timeout naming the lock", filepath.Join(dir, EmbeddedFile), err)
	}
}

func TestEmbeddedClosed(t *testing.T) {
	ctx := context.Background()
	e, err := OpenEmbedded(Config{DataDir: t.TempDir()})
	mustNil(t, err)
	mustNil(t, e.Create(ctx, Session{ID: "a"}))
	mustNil(t, e.Close())
	mustNil(t, e.Close()) // idempotent
	if err := e.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping after Close: %v, want ErrUnavailable", err)
	}
	if err := e.Append(ctx, "a", Turn{ID: "m"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append after Close: %v, want ErrUnavailable", err)
	}
	if _, err := e.Get(ctx, "a"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get after Close: %v, want ErrUnavailable", err)
	}
}

func TestEmbeddedIndexKeyOrder(t *testing.T) {
	a := time.Unix(0, -5)
	b := time.Unix(0, 5)
	c := time.Unix(1_800_000_000, 0)
	ka, kb, kc := indexKey(a, "x"), indexKey(b, "x"), indexKey(c, "x")
	if string(ka) >= string(kb) || string(kb) >= string(kc) {
		t.Fatal("index keys do not sort by time")
	}
	for _, tm := range []time.Time{a, b, c} {
		if got := indexTime(indexKey(tm, "id")); !got.Equal(tm) {
			t.Fatalf("indexTime(indexKey(%v)) = %v", tm, got)
		}
	}
}
