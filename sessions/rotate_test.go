package sessions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
)

// rotationKeys are keyrings over two keys: a (key-a only), ba (key-b
// current, key-a still opening) and b (key-b only, key-a retired).
type rotationKeys struct{ a, ba, b *privacy.Keyring }

func newRotationKeys(t *testing.T) rotationKeys {
	t.Helper()
	a, err := privacy.GenerateKey("key-a")
	mustNil(t, err)
	b, err := privacy.GenerateKey("key-b")
	mustNil(t, err)
	parse := func(s string) *privacy.Keyring {
		kr, err := privacy.ParseKeys(s)
		mustNil(t, err)
		return kr
	}
	return rotationKeys{a: parse(a), ba: parse(b + "," + a), b: parse(b)}
}

// rotateBackend opens one data set of a backend, again and again, with
// the sealer given; every store is closed at the end of the test.
type rotateBackend struct {
	name  string
	setup func(t *testing.T) func(s Sealer) Store
}

var rotateBackends = []rotateBackend{
	{"embedded", func(t *testing.T) func(s Sealer) Store {
		dir := t.TempDir()
		return func(s Sealer) Store { return openEmbeddedSealed(t, dir, time.Hour, s) }
	}},
	{"redis", func(t *testing.T) func(s Sealer) Store {
		addr := redistest.Addr(t)
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		return func(s Sealer) Store { return openRedisSealed(t, addr, prefix, time.Hour, s) }
	}},
}

func rotate(t *testing.T, s Store) (RotateStats, error) {
	t.Helper()
	ro, ok := s.(Rotator)
	if !ok {
		t.Fatalf("%T is not a Rotator", s)
	}
	return ro.Rotate(context.Background())
}

// sealedKeyID returns the key id of a stored value when it is a sealed
// record (a sealed turn, or a "sealed:" string field), else ok is false.
func sealedKeyID(v []byte) (id string, ok bool) {
	if raw, cut := bytes.CutPrefix(v, []byte(sealedPrefix)); cut {
		b, err := base64.RawURLEncoding.DecodeString(string(raw))
		if err != nil {
			return "", false
		}
		v = b
	}
	if !privacy.IsSealed(v) {
		return "", false
	}
	return string(v[2 : 2+int(v[1])]), true
}

// sealedRecords reads every value the backend stores — every bucket of
// the bbolt file (and the fields inside each session's JSON), every key,
// hash field, list element and set member under the Redis prefix — and
// counts the sealed records by key id.
func sealedRecords(t *testing.T, s Store) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	see := func(v []byte) {
		if id, ok := sealedKeyID(v); ok {
			out[id]++
		}
	}
	switch st := s.(type) {
	case *Embedded:
		var walk func(name string, b *bolt.Bucket) error
		walk = func(name string, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return walk(name, b.Bucket(k))
				}
				see(k)
				if name != string(bucketSessions) {
					see(v)
					return nil
				}
				var sess Session
				if err := json.Unmarshal(v, &sess); err != nil {
					return err
				}
				see([]byte(sess.UserID))
				for _, mv := range sess.Meta {
					see([]byte(mv))
				}
				return nil
			})
		}
		mustNil(t, st.db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name), b) })
		}))
	case *Redis:
		iter := st.c.Scan(ctx, 0, redisopt.GlobEscape(st.prefix)+"*", 100).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			var vals []string
			switch typ := st.c.Type(ctx, k).Val(); typ {
			case "string":
				vals = []string{st.c.Get(ctx, k).Val()}
			case "hash":
				for f, v := range st.c.HGetAll(ctx, k).Val() {
					vals = append(vals, f, v)
				}
			case "zset":
				vals = st.c.ZRange(ctx, k, 0, -1).Val()
			case "list":
				vals = st.c.LRange(ctx, k, 0, -1).Val()
			default:
				t.Fatalf("key %s of unexpected type %s", k, typ)
			}
			for _, v := range vals {
				see([]byte(v))
			}
		}
		mustNil(t, iter.Err())
	default:
		t.Fatalf("no raw reader for %T", s)
	}
	return out
}

// rotateFixture is what TestRotate writes and reads back.
type rotateFixture struct {
	Session
	turns int
}

func turnText(id string, i int) string { return fmt.Sprintf("%s turn %d", id, i) }

func writeFixture(t *testing.T, s Store, f rotateFixture) {
	t.Helper()
	ctx := context.Background()
	mustNil(t, s.Create(ctx, f.Session))
	for i := 0; i < f.turns; {
		var batch []Turn
		for ; i < f.turns && len(batch) < 100; i++ {
			batch = append(batch, Turn{ID: strconv.Itoa(i), Role: RoleShopper, Text: turnText(f.ID, i)})
		}
		mustNil(t, s.Append(ctx, f.ID, batch...))
	}
}

func checkFixture(t *testing.T, s Store, f rotateFixture) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Get(ctx, f.ID)
	mustNil(t, err)
	if got.UserID != f.UserID || !maps.Equal(got.Meta, f.Meta) || got.Turns != f.turns {
		t.Fatalf("session %s read back as %+v, want user %q meta %v turns %d", f.ID, got, f.UserID, f.Meta, f.turns)
	}
	h, err := s.History(ctx, f.ID, 0)
	mustNil(t, err)
	if len(h) != f.turns {
		t.Fatalf("session %s: %d turns, want %d", f.ID, len(h), f.turns)
	}
	for i, turn := range h {
		if turn.Text != turnText(f.ID, i) {
			t.Fatalf("session %s turn %d = %q", f.ID, i, turn.Text)
		}
	}
}

// records is how many records f stores: its user id, meta values, turns.
func (f rotateFixture) records() int64 {
	n := int64(len(f.Meta) + f.turns)
	if f.UserID != "" {
		n++
	}
	return n
}

// TestRotate, for both backends: sessions written under key-a, and one
// written before encryption was turned on, are all re-sealed under key-b
// by Rotate with keyring "key-b,key-a"; the stored data then holds no
// record under key-a and no plaintext record, a store with key-b alone
// reads everything back and erases users, and a second Rotate reseals
// nothing. A transcript longer than a rotation batch is rotated whole, and
// so are more sessions than a batch holds.
func TestRotate(t *testing.T) {
	keys := newRotationKeys(t)
	ctx := context.Background()
	for _, b := range rotateBackends {
		t.Run(b.name, func(t *testing.T) {
			open := b.setup(t)
			plain := rotateFixture{Session{ID: NewID(), UserID: "plain-user@example.com", Meta: map[string]string{"lang": "en"}}, 3}
			fixtures := []rotateFixture{
				{Session{ID: NewID(), UserID: "u1@example.com", Meta: map[string]string{"tier": "gold", "note": "221B"}}, 2},
				{Session{ID: NewID()}, 2*rotateBatch + 200}, // no user, no meta, a long transcript
				{Session{ID: NewID(), UserID: "u1@example.com"}, 1},
			}
			s := open(nil)
			writeFixture(t, s, plain)
			mustNil(t, s.Close())
			// More sessions than one rotation batch (embedded transaction,
			// Redis pipeline) holds: empty ones, sorted before the others
			// ('!' < base64url), so that the first embedded transaction
			// ends exactly on a full batch of sessions.
			for i := range rotateBatch + 10 {
				fixtures = append(fixtures, rotateFixture{Session{ID: fmt.Sprintf("!empty-%04d", i)}, 0})
			}
			s = open(keys.a)
			for _, f := range fixtures {
				writeFixture(t, s, f)
			}
			mustNil(t, s.Close())
			all := append([]rotateFixture{plain}, fixtures...)
			var records int64
			for _, f := range all {
				records += f.records()
			}

			s = open(keys.ba)
			st, err := rotate(t, s)
			mustNil(t, err)
			want := RotateStats{Sessions: int64(len(all)), Records: records, Resealed: records}
			if st != want {
				t.Fatalf("Rotate = %+v, want %+v", st, want)
			}
			st, err = rotate(t, s)
			mustNil(t, err)
			if want.Resealed = 0; st != want {
				t.Fatalf("second Rotate = %+v, want %+v", st, want)
			}
			mustNil(t, s.Close())

			s = open(keys.b)
			if got := sealedRecords(t, s); !maps.Equal(got, map[string]int{"key-b": int(records)}) {
				t.Fatalf("sealed records by key id: %v, want all %d under key-b (none plain, none under key-a)", got, records)
			}
			for _, f := range all {
				checkFixture(t, s, f)
			}
			ids, err := s.DeleteUser(ctx, "u1@example.com")
			mustNil(t, err)
			slices.Sort(ids)
			wantIDs := []string{fixtures[0].ID, fixtures[2].ID}
			slices.Sort(wantIDs)
			if !slices.Equal(ids, wantIDs) {
				t.Fatalf("DeleteUser(u1) = %v, want %v", ids, wantIDs)
			}
			if ids, err := s.DeleteUser(ctx, plain.UserID); err != nil || !slices.Equal(ids, []string{plain.ID}) {
				t.Fatalf("DeleteUser(plain user) = %v, %v; want [%s]", ids, err, plain.ID)
			}
		})
	}
}

// TestRotateWithoutKey: with no Sealer there is nothing to rotate to.
func TestRotateWithoutKey(t *testing.T) {
	for _, b := range rotateBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.setup(t)(nil)
			writeFixture(t, s, rotateFixture{Session{ID: NewID(), UserID: "u"}, 1})
			if _, err := rotate(t, s); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Rotate without a key = %v, want ErrInvalid", err)
			}
		})
	}
}

// tamper flips the last byte of turn i of session id, as stored.
func tamper(t *testing.T, s Store, id string, i int) {
	t.Helper()
	ctx := context.Background()
	switch st := s.(type) {
	case *Embedded:
		mustNil(t, st.db.Update(func(tx *bolt.Tx) error {
			tb := tx.Bucket(bucketTurns).Bucket([]byte(id))
			v := bytes.Clone(tb.Get(u64(uint64(i + 1))))
			v[len(v)-1] ^= 1
			return tb.Put(u64(uint64(i+1)), v)
		}))
	case *Redis:
		v, err := st.c.LIndex(ctx, st.turnsKey(id), int64(i)).Bytes()
		mustNil(t, err)
		v[len(v)-1] ^= 1
		mustNil(t, st.c.LSet(ctx, st.turnsKey(id), int64(i), v).Err())
	default:
		t.Fatalf("cannot tamper with %T", s)
	}
}

// TestRotateTamperedRecord: a record that does not open is counted as
// failed and left as it is, the rest is rotated, and the error wraps
// ErrCorrupt naming the session.
func TestRotateTamperedRecord(t *testing.T) {
	keys := newRotationKeys(t)
	ctx := context.Background()
	for _, b := range rotateBackends {
		t.Run(b.name, func(t *testing.T) {
			open := b.setup(t)
			bad := rotateFixture{Session{ID: NewID(), UserID: "u1"}, 3}
			good := rotateFixture{Session{ID: NewID(), UserID: "u2", Meta: map[string]string{"k": "v"}}, 2}
			s := open(keys.a)
			writeFixture(t, s, bad)
			writeFixture(t, s, good)
			tamper(t, s, bad.ID, 1)
			mustNil(t, s.Close())

			s = open(keys.ba)
			records := bad.records() + good.records()
			for round, resealed := range []int64{records - 1, 0} {
				st, err := rotate(t, s)
				if !errors.Is(err, ErrCorrupt) || !errors.Is(err, privacy.ErrTampered) || !strings.Contains(err.Error(), bad.ID) {
					t.Fatalf("round %d: Rotate error = %v, want ErrCorrupt naming %s", round, err, bad.ID)
				}
				want := RotateStats{Sessions: 2, Records: records, Resealed: resealed, Failed: 1}
				if st != want {
					t.Fatalf("round %d: Rotate = %+v, want %+v", round, st, want)
				}
			}
			mustNil(t, s.Close())

			s = open(keys.b)
			if got := sealedRecords(t, s); !maps.Equal(got, map[string]int{"key-a": 1, "key-b": int(records) - 1}) {
				t.Fatalf("sealed records by key id: %v, want the tampered one under key-a, %d under key-b", got, records-1)
			}
			checkFixture(t, s, good)
			if got, err := s.Get(ctx, bad.ID); err != nil || got.UserID != "u1" {
				t.Fatalf("Get of the session with a tampered turn: %+v, %v", got, err)
			}
			if _, err := s.History(ctx, bad.ID, 0); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("History of the tampered transcript = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestRotateWhileWriting, for both backends: turns and metadata written
// while Rotate runs all survive, in order, and the records under key-a
// are all resealed (or, for a meta value overwritten meanwhile, left as
// the writer wrote it). The Redis writers use a second client, as another
// replica would.
func TestRotateWhileWriting(t *testing.T) {
	keys := newRotationKeys(t)
	ctx := context.Background()
	for _, b := range rotateBackends {
		t.Run(b.name, func(t *testing.T) {
			open := b.setup(t)
			const sessions, initial = 4, 300
			fs := make([]rotateFixture, sessions)
			s := open(keys.a)
			for i := range fs {
				fs[i] = rotateFixture{Session{ID: NewID(), Meta: map[string]string{"n": "0"}}, initial}
				writeFixture(t, s, fs[i])
			}
			mustNil(t, s.Close())

			rotator := open(keys.ba)
			writer := rotator
			if _, ok := rotator.(*Redis); ok {
				writer = open(keys.ba)
			}
			var (
				stop     = make(chan struct{})
				wg       sync.WaitGroup
				ready    sync.WaitGroup
				appended = make([]int, sessions)
				total    atomic.Int64
				errs     = make(chan error, sessions)
			)
			for i := range fs {
				wg.Add(1)
				ready.Add(1)
				go func() {
					defer wg.Done()
					id := fs[i].ID
					signalled := false
					signal := func() {
						if !signalled {
							signalled = true
							ready.Done()
						}
					}
					for n := 0; ; n++ {
						if n == 3 {
							signal()
						}
						select {
						case <-stop:
							appended[i] = n
							return
						default:
						}
						err := errors.Join(
							writer.Append(ctx, id, Turn{ID: "w" + strconv.Itoa(n), Role: RoleShopper, Text: turnText(id, initial+n)}),
							writer.SetMeta(ctx, id, map[string]string{"n": strconv.Itoa(n + 1)}),
						)
						if err != nil {
							errs <- err
							appended[i] = n
							signal()
							return
						}
						total.Add(1)
					}
				}()
			}
			ready.Wait()
			before := total.Load()
			st, err := rotate(t, rotator)
			during := total.Load() - before
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("writer: %v", err)
			}
			mustNil(t, err)
			t.Logf("%s: %d writes ran during Rotate; stats %+v", b.name, during, st)
			// The key-a records are the initial turns, never rewritten by
			// the writers, and the initial meta values, which they
			// overwrite (under key-b) before, during or after the rotation.
			if st.Failed != 0 || st.Resealed < sessions*initial || st.Resealed+st.Skipped > sessions*(initial+1) {
				t.Fatalf("Rotate = %+v, want %d turns resealed, 0 failed, at most %d meta values resealed or skipped", st, sessions*initial, sessions)
			}
			for i := range fs {
				fs[i].turns = initial + appended[i]
				fs[i].Meta = map[string]string{"n": strconv.Itoa(appended[i])}
				checkFixture(t, rotator, fs[i])
			}
			mustNil(t, writer.Close())
			mustNil(t, rotator.Close())
			s = open(keys.b)
			if got := sealedRecords(t, s); got["key-a"] != 0 {
				t.Fatalf("sealed records by key id: %v, want none under key-a", got)
			}
			for i := range fs {
				checkFixture(t, s, fs[i])
			}
		})
	}
}

// TestRedisRotateCompareAndSet: a write-back whose record changed since
// it was read (a SetMeta of another replica) leaves the new value and
// counts it as skipped, while the turn read beside it is replaced, and a
// turn appended meanwhile is kept.
func TestRedisRotateCompareAndSet(t *testing.T) {
	keys := newRotationKeys(t)
	ctx := context.Background()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	redistest.Cleanup(t, addr, prefix)
	old := openRedisSealed(t, addr, prefix, time.Hour, keys.a)
	f := rotateFixture{Session{ID: NewID(), Meta: map[string]string{"k": "v1"}}, 1}
	writeFixture(t, old, f)
	r := openRedisSealed(t, addr, prefix, time.Hour, keys.ba)

	// Read as Rotate does, let another replica write, then write back.
	meta := r.c.HGet(ctx, r.sessKey(f.ID), metaField+"k").Val()
	turn := r.c.LIndex(ctx, r.turnsKey(f.ID), 0).Val()
	newMeta, changed, err := r.codec.resealString(f.ID, "meta:k", meta)
	mustNil(t, err)
	newTurn, changed2, err := r.codec.resealTurn(f.ID, []byte(turn))
	mustNil(t, err)
	if !changed || !changed2 {
		t.Fatal("key-a records do not need rotation")
	}
	mustNil(t, old.SetMeta(ctx, f.ID, map[string]string{"k": "v2"}))
	mustNil(t, old.Append(ctx, f.ID, Turn{ID: "1", Role: RoleBot, Text: turnText(f.ID, 1)}))
	var st RotateStats
	w := &redisRotation{id: f.ID, hash: []any{metaField + "k", meta, newMeta}, list: []any{0, turn, string(newTurn)}}
	mustNil(t, r.writeRotations(ctx, []*redisRotation{w}, &st))
	if st.Resealed != 1 || st.Skipped != 1 {
		t.Fatalf("write-back = %+v, want 1 resealed (the turn), 1 skipped (the meta value)", st)
	}
	f.turns, f.Meta = 2, map[string]string{"k": "v2"}
	checkFixture(t, r, f)
	if id, _ := sealedKeyID([]byte(r.c.LIndex(ctx, r.turnsKey(f.ID), 0).Val())); id != "key-b" {
		t.Fatalf("first turn under %q after the write-back, want key-b", id)
	}
	// The session's expiry is untouched by the write-back.
	if ttl := r.c.PTTL(ctx, r.turnsKey(f.ID)).Val(); ttl <= 0 {
		t.Fatalf("turns key PTTL = %v after the write-back, want an expiry", ttl)
	}
}

// storeOnly is a Store that cannot rotate.
type storeOnly struct{ Store }

// TestBufferedRotate: Buffered rotates the store it wraps, and says so
// when that store cannot.
func TestBufferedRotate(t *testing.T) {
	keys := newRotationKeys(t)
	dir := t.TempDir()
	e := openEmbeddedSealed(t, dir, time.Hour, keys.a)
	f := rotateFixture{Session{ID: NewID(), UserID: "u"}, 2}
	writeFixture(t, e, f)
	mustNil(t, e.Close())
	quiet := BufferConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b := NewBuffered(openEmbeddedSealed(t, dir, time.Hour, keys.ba), quiet)
	t.Cleanup(func() { _ = b.Close() })
	st, err := b.Rotate(context.Background())
	mustNil(t, err)
	if want := (RotateStats{Sessions: 1, Records: 3, Resealed: 3}); st != want {
		t.Fatalf("Buffered.Rotate = %+v, want %+v", st, want)
	}
	nb := NewBuffered(storeOnly{openEmbeddedT(t, t.TempDir(), time.Hour)}, quiet)
	t.Cleanup(func() { _ = nb.Close() })
	if _, err := nb.Rotate(context.Background()); err == nil {
		t.Fatal("Rotate through a store that cannot rotate succeeded")
	}
}

// TestRedisDeleteUserDuringRotate: an erasure racing a rotation that
// re-seals the user ids it checks still erases every session of the user
// (a session whose stored user id changed under it is checked again).
func TestRedisDeleteUserDuringRotate(t *testing.T) {
	keys := newRotationKeys(t)
	ctx := context.Background()
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	redistest.Cleanup(t, addr, prefix)
	old := openRedisSealed(t, addr, prefix, time.Hour, keys.a)
	const n = 400
	for range n {
		mustNil(t, old.Create(ctx, Session{ID: NewID(), UserID: "u"}))
	}
	rotator := openRedisSealed(t, addr, prefix, time.Hour, keys.ba)
	eraser := openRedisSealed(t, addr, prefix, time.Hour, keys.ba)
	var wg sync.WaitGroup
	var st RotateStats
	var rerr error
	wg.Go(func() { st, rerr = rotator.Rotate(ctx) })
	ids, err := eraser.DeleteUser(ctx, "u")
	wg.Wait()
	mustNil(t, rerr)
	mustNil(t, err)
	if len(ids) != n {
		t.Fatalf("DeleteUser during Rotate erased %d of %d sessions (rotate: %+v)", len(ids), n, st)
	}
	if left := rotator.c.Keys(ctx, redisopt.GlobEscape(prefix)+"s:*").Val(); len(left) != 0 {
		t.Fatalf("%d sessions left after DeleteUser", len(left))
	}
}
