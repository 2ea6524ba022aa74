package sessions

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

func keyring(t testing.TB, id string) *privacy.Keyring {
	t.Helper()
	line, err := privacy.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := privacy.ParseKeys(line)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func openEmbeddedSealed(t testing.TB, dir string, ttl time.Duration, s Sealer) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(Config{DataDir: dir, TTL: ttl, SweepInterval: 50 * time.Millisecond, Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func openRedisSealed(t testing.TB, addr, prefix string, ttl time.Duration, s Sealer) *Redis {
	t.Helper()
	r, err := OpenRedis(context.Background(), Config{RedisURL: "redis://" + addr, KeyPrefix: prefix, TTL: ttl, Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// The whole store contract holds with encryption on, for both backends.
func TestEncryptedEmbeddedContract(t *testing.T) {
	kr := keyring(t, "k1")
	runContract(t, func(t *testing.T, ttl time.Duration) (Store, func() Store) {
		dir := t.TempDir()
		return openEmbeddedSealed(t, dir, ttl, kr), func() Store { return openEmbeddedSealed(t, dir, ttl, kr) }
	})
}

func TestEncryptedRedisContract(t *testing.T) {
	addr := redistest.Addr(t)
	kr := keyring(t, "k1")
	runContract(t, func(t *testing.T, ttl time.Duration) (Store, func() Store) {
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		return openRedisSealed(t, addr, prefix, ttl, kr), func() Store { return openRedisSealed(t, addr, prefix, ttl, kr) }
	})
}

// secrets are written into a session and must not appear in storage.
var secrets = []string{"alice.secret@example.com", "+44 20 7946 0958", "221B Baker Street", "vip-tier-gold"}

func writeSecrets(t *testing.T, s Store, id string) {
	t.Helper()
	ctx := context.Background()
	mustNil(t, s.Create(ctx, Session{ID: id, UserID: secrets[0], Meta: map[string]string{"tier": secrets[3]}}))
	mustNil(t, s.Append(ctx, id, Turn{ID: "1", Role: RoleShopper, Text: "call me on " + secrets[1]}, Turn{ID: "2", Role: RoleBot, Text: "shipping to " + secrets[2] + "?"}))
	mustNil(t, s.SetMeta(ctx, id, map[string]string{"note": secrets[2]}))
}

func checkSecretsReadable(t *testing.T, s Store, id string) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != secrets[0] || got.Meta["tier"] != secrets[3] || got.Meta["note"] != secrets[2] {
		t.Fatalf("session read back as %+v", got)
	}
	turns, err := s.History(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(turns) != 2 || !strings.Contains(turns[0].Text, secrets[1]) || !strings.Contains(turns[1].Text, secrets[2]) {
		t.Fatalf("turns read back as %+v", turns)
	}
	page, err := s.List(ctx, ListOptions{})
	if err != nil || len(page.Sessions) == 0 || page.Sessions[0].UserID != secrets[0] {
		t.Fatalf("List: %+v, %v", page, err)
	}
}

// rawEmbedded returns every key and value in the bbolt file.
func rawEmbedded(t *testing.T, e *Embedded) []byte {
	t.Helper()
	var all bytes.Buffer
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			all.Write(k)
			all.Write(v)
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return walk(sub)
				}
			}
			return nil
		})
	}
	err := e.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}

func rawRedis(t *testing.T, r *Redis, id string) []byte {
	t.Helper()
	ctx := context.Background()
	var all bytes.Buffer
	h, err := r.c.HGetAll(ctx, r.sessKey(id)).Result()
	if err != nil || len(h) == 0 {
		t.Fatalf("raw session hash: %v %v", h, err)
	}
	for k, v := range h {
		all.WriteString(k + v)
	}
	l, err := r.c.LRange(ctx, r.turnsKey(id), 0, -1).Result()
	if err != nil || len(l) != 2 {
		t.Fatalf("raw turns: %v %v", l, err)
	}
	for _, v := range l {
		all.WriteString(v)
	}
	return all.Bytes()
}

func assertNoSecrets(t *testing.T, raw []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q is stored in plain text", s)
		}
	}
}

// TestEncryptedAtRest: with a key, nothing personal is stored in plain
// text by either backend, everything reads back, a store with another key
// or no key refuses to decode (ErrCorrupt), and plain records written
// before encryption was turned on stay readable.
func TestEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	kr, other := keyring(t, "k1"), keyring(t, "k2")
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		e := openEmbeddedSealed(t, dir, time.Hour, kr)
		id := NewID()
		writeSecrets(t, e, id)
		checkSecretsReadable(t, e, id)
		assertNoSecrets(t, rawEmbedded(t, e))
		mustNil(t, e.Close())
		for name, s := range map[string]Sealer{"other key": other, "no key": nil} {
			e2 := openEmbeddedSealed(t, dir, time.Hour, s)
			if _, err := e2.Get(ctx, id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: Get = %v, want ErrCorrupt", name, err)
			}
			if _, err := e2.History(ctx, id, 0); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: History = %v, want ErrCorrupt", name, err)
			}
			mustNil(t, e2.Close())
		}
		// Plain records from before encryption are read; new writes are sealed.
		plainDir := t.TempDir()
		p := openEmbeddedSealed(t, plainDir, time.Hour, nil)
		writeSecrets(t, p, id)
		mustNil(t, p.Close())
		s := openEmbeddedSealed(t, plainDir, time.Hour, kr)
		checkSecretsReadable(t, s, id)
	})
	t.Run("redis", func(t *testing.T) {
		addr := redistest.Addr(t)
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		r := openRedisSealed(t, addr, prefix, time.Hour, kr)
		id := NewID()
		writeSecrets(t, r, id)
		checkSecretsReadable(t, r, id)
		assertNoSecrets(t, rawRedis(t, r, id))
		for name, s := range map[string]Sealer{"other key": other, "no key": nil} {
			r2 := openRedisSealed(t, addr, prefix, time.Hour, s)
			if _, err := r2.Get(ctx, id); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: Get = %v, want ErrCorrupt", name, err)
			}
			if _, err := r2.History(ctx, id, 0); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: History = %v, want ErrCorrupt", name, err)
			}
		}
		// A turn copied into another session does not open there.
		id2 := NewID()
		mustNil(t, r.Create(ctx, Session{ID: id2}))
		raw, _ := r.c.LIndex(ctx, r.turnsKey(id), 0).Result()
		mustNil(t, r.c.RPush(ctx, r.turnsKey(id2), raw).Err())
		if _, err := r.History(ctx, id2, 0); !errors.Is(err, ErrCorrupt) {
			t.Errorf("moved turn: History = %v, want ErrCorrupt", err)
		}
		plainPrefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, plainPrefix)
		writeSecrets(t, openRedisSealed(t, addr, plainPrefix, time.Hour, nil), id)
		checkSecretsReadable(t, openRedisSealed(t, addr, plainPrefix, time.Hour, kr), id)
	})
}
