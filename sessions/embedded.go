package sessions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EmbeddedFile is the name of the embedded store's database in the data dir.
const EmbeddedFile = "sessions.db"

// Bucket layout of sessions.db:
//
//	sessions: id -> Session JSON (Turns is the number of stored turns)
//	updated:  ts(8, big-endian, sign bit flipped) + id -> nil, ordered by UpdatedAt
//	turns:    id -> nested bucket: seq(8, big-endian, from 1) -> Turn JSON
var (
	bucketSessions = []byte("sessions")
	bucketUpdated  = []byte("updated")
	bucketTurns    = []byte("turns")
)

// sweepBatch bounds the deletions of one sweep transaction, so the sweeper
// never holds the write lock for long.
const sweepBatch = 500

// Embedded is the single-node Store: a bbolt database at
// <DataDir>/sessions.db. It is safe for concurrent use; writes are
// serialised by bbolt and each write is one fsync'ed transaction.
type Embedded struct {
	db    *bolt.DB
	ttl   time.Duration
	now   func() time.Time
	codec codec

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Embedded)(nil)

// OpenEmbedded opens (creating if needed) the store in cfg.DataDir and starts
// its sweeper. It fails after a second if another process holds the file.
func OpenEmbedded(cfg Config) (*Embedded, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("sessions: embedded store needs a data dir")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("sessions: create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, EmbeddedFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("sessions: open %s: %w (is another process using this data dir?)", path, err)
		}
		return nil, fmt.Errorf("sessions: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSessions, bucketUpdated, bucketTurns} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sessions: init %s: %w", path, err)
	}
	e := &Embedded{
		codec: codec{cfg.Sealer},
		db:    db,
		ttl:   cfg.TTL,
		now:   time.Now,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go e.sweepLoop(cfg.SweepInterval)
	return e, nil
}

// Close stops the sweeper and closes the database. It is idempotent; any
// other call after Close returns ErrUnavailable.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() {
		close(e.stop)
		<-e.done
		e.closeErr = e.db.Close()
	})
	return e.closeErr
}

// Ping checks that the database is open.
func (e *Embedded) Ping(ctx context.Context) error {
	if err := e.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Create implements Store.
func (e *Embedded) Create(ctx context.Context, s Session) error {
	if err := checkID(s.ID); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := e.now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	s.Turns = 0
	s.Meta = cleanMeta(s.Meta)
	key := []byte(s.ID)
	return e.update("create", func(tx *bolt.Tx) error {
		if _, err := e.load(tx, key); err == nil {
			return fmt.Errorf("%w: session %q", ErrExists, s.ID)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		// An expired session not yet swept may hold the id: drop its remains.
		if err := deleteSession(tx, key); err != nil {
			return err
		}
		return e.put(tx, s)
	})
}

// Get implements Store.
func (e *Embedded) Get(ctx context.Context, id string) (Session, error) {
	var s Session
	err := e.view("get", func(tx *bolt.Tx) error {
		var err error
		s, err = e.load(tx, []byte(id))
		return err
	})
	return s, err
}

// Append implements Store. Zero At fields are set to now. All turns of one
// call are written in one transaction.
func (e *Embedded) Append(ctx context.Context, id string, turns ...Turn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := e.now().UTC()
	vals := make([][]byte, len(turns))
	for i, t := range turns {
		if t.At.IsZero() {
			t.At = now
		}
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("sessions: encode turn: %w", err)
		}
		vals[i] = e.codec.sealTurn(id, b)
	}
	key := []byte(id)
	return e.update("append", func(tx *bolt.Tx) error {
		s, err := e.load(tx, key)
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return nil
		}
		tb, err := tx.Bucket(bucketTurns).CreateBucketIfNotExists(key)
		if err != nil {
			return err
		}
		seq := uint64(s.Turns)
		for _, v := range vals {
			seq++
			if err := tb.Put(u64(seq), v); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketUpdated).Delete(indexKey(s.UpdatedAt, s.ID)); err != nil {
			return err
		}
		s.Turns = int(seq)
		s.UpdatedAt = now
		return e.put(tx, s)
	})
}

// History implements Store.
func (e *Embedded) History(ctx context.Context, id string, limit int) ([]Turn, error) {
	var out []Turn
	err := e.view("history", func(tx *bolt.Tx) error {
		key := []byte(id)
		s, err := e.load(tx, key)
		if err != nil {
			return err
		}
		tb := tx.Bucket(bucketTurns).Bucket(key)
		if tb == nil || s.Turns == 0 {
			out = []Turn{}
			return nil
		}
		n := s.Turns
		if limit > 0 && limit < n {
			n = limit
		}
		out = make([]Turn, n)
		c := tb.Cursor()
		i := n - 1
		for k, v := c.Last(); k != nil && i >= 0; k, v = c.Prev() {
			v, err := e.codec.openTurn(id, v)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(v, &out[i]); err != nil {
				return fmt.Errorf("decode turn %x of %q: %w", k, id, err)
			}
			i--
		}
		out = out[i+1:]
		return nil
	})
	return out, err
}

// SetMeta implements Store. It also bumps UpdatedAt, renewing the TTL.
func (e *Embedded) SetMeta(ctx context.Context, id string, kv map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := []byte(id)
	return e.update("set meta", func(tx *bolt.Tx) error {
		s, err := e.load(tx, key)
		if err != nil {
			return err
		}
		s.Meta = mergeMeta(s.Meta, kv)
		if err := tx.Bucket(bucketUpdated).Delete(indexKey(s.UpdatedAt, s.ID)); err != nil {
			return err
		}
		s.UpdatedAt = e.now().UTC()
		return e.put(tx, s)
	})
}

// List implements Store. The cursor is the index position of the last
// session returned, so a session updated while a client pages moves to the
// front and is not returned twice; sessions not touched are neither skipped
// nor repeated.
func (e *Embedded) List(ctx context.Context, opt ListOptions) (Page, error) {
	limit := pageLimit(opt.Limit)
	var after []byte
	if opt.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opt.Cursor)
		if err != nil || len(b) < 9 {
			return Page{}, fmt.Errorf("%w: bad cursor", ErrInvalid)
		}
		after = b
	}
	page := Page{Sessions: []Session{}}
	err := e.view("list", func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketSessions)
		c := tx.Bucket(bucketUpdated).Cursor()
		var k []byte
		if after == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Seek(after)
			if k == nil {
				k, _ = c.Last()
			}
			for k != nil && bytes.Compare(k, after) >= 0 {
				k, _ = c.Prev()
			}
		}
		cutoff := e.now().Add(-e.ttl)
		var last []byte
		for ; k != nil; k, _ = c.Prev() {
			if len(k) < 9 {
				continue
			}
			if !indexTime(k).After(cutoff) {
				// Everything further back is older still: expired.
				break
			}
			if len(page.Sessions) == limit {
				page.Next = base64.RawURLEncoding.EncodeToString(last)
				break
			}
			v := sb.Get(k[8:])
			if v == nil {
				continue
			}
			var s Session
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode session %q: %w", k[8:], err)
			}
			s, err := e.codec.openSession(s)
			if err != nil {
				return err
			}
			page.Sessions = append(page.Sessions, s)
			last = append(last[:0], k...)
		}
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return page, nil
}

// load returns the live session stored under id, or ErrNotFound.
func (e *Embedded) load(tx *bolt.Tx, id []byte) (Session, error) {
	v := tx.Bucket(bucketSessions).Get(id)
	if v == nil {
		return Session{}, ErrNotFound
	}
	var s Session
	if err := json.Unmarshal(v, &s); err != nil {
		return Session{}, fmt.Errorf("decode session %q: %w", id, err)
	}
	if e.expired(s.UpdatedAt) {
		return Session{}, ErrNotFound
	}
	return e.codec.openSession(s)
}

// put writes s and its index entry.
func (e *Embedded) put(tx *bolt.Tx, s Session) error {
	b, err := json.Marshal(e.codec.sealSession(s))
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketSessions).Put([]byte(s.ID), b); err != nil {
		return err
	}
	return tx.Bucket(bucketUpdated).Put(indexKey(s.UpdatedAt, s.ID), nil)
}

func (e *Embedded) expired(updated time.Time) bool {
	return !updated.Add(e.ttl).After(e.now())
}

// deleteSession removes every trace of id.
func deleteSession(tx *bolt.Tx, id []byte) error {
	sb := tx.Bucket(bucketSessions)
	if v := sb.Get(id); v != nil {
		var s Session
		if json.Unmarshal(v, &s) == nil {
			if err := tx.Bucket(bucketUpdated).Delete(indexKey(s.UpdatedAt, s.ID)); err != nil {
				return err
			}
		}
		if err := sb.Delete(id); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketTurns).DeleteBucket(id); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return err
	}
	return nil
}

func (e *Embedded) sweepLoop(every time.Duration) {
	defer close(e.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			_, _ = e.sweep()
		}
	}
}

// sweep deletes expired sessions, oldest first, in bounded transactions, and
// returns how many it deleted.
func (e *Embedded) sweep() (int, error) {
	total := 0
	for {
		n, more := 0, false
		err := e.db.Update(func(tx *bolt.Tx) error {
			cutoff := e.now().Add(-e.ttl)
			c := tx.Bucket(bucketUpdated).Cursor()
			var ids [][]byte
			for k, _ := c.First(); k != nil && len(ids) < sweepBatch; k, _ = c.Next() {
				if len(k) < 9 || indexTime(k).After(cutoff) {
					break
				}
				ids = append(ids, append([]byte(nil), k...))
			}
			for _, k := range ids {
				// The session record may have moved on (a newer index key);
				// delete it only if this entry is its current one.
				id := k[8:]
				if v := tx.Bucket(bucketSessions).Get(id); v != nil {
					var s Session
					if json.Unmarshal(v, &s) == nil && bytes.Equal(indexKey(s.UpdatedAt, s.ID), k) {
						if err := deleteSession(tx, id); err != nil {
							return err
						}
						n++
						continue
					}
				}
				if err := tx.Bucket(bucketUpdated).Delete(k); err != nil {
					return err
				}
			}
			more = len(ids) == sweepBatch
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
		select {
		case <-e.stop:
			return total, nil
		default:
		}
	}
}

func (e *Embedded) update(op string, fn func(*bolt.Tx) error) error {
	err := e.db.Update(fn)
	return mapBoltErr(op, err)
}

func (e *Embedded) view(op string, fn func(*bolt.Tx) error) error {
	return mapBoltErr(op, e.db.View(fn))
}

func mapBoltErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrExists), errors.Is(err, ErrInvalid):
		return err
	default:
		return unavailable(op, err)
	}
}

func indexKey(t time.Time, id string) []byte {
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano())^(1<<63))
	copy(k[8:], id)
	return k
}

func indexTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k)^(1<<63))).UTC()
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func cleanMeta(m map[string]string) map[string]string {
	return mergeMeta(nil, m)
}

// mergeMeta applies kv to m (an empty value deletes the key) and returns the
// result, nil when empty.
func mergeMeta(m, kv map[string]string) map[string]string {
	for k, v := range kv {
		if v == "" {
			delete(m, k)
			continue
		}
		if m == nil {
			m = make(map[string]string, len(kv))
		}
		m[k] = v
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
