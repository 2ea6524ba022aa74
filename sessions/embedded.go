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
//	users:    uvarint(len(K)) + K + id -> nil, K = Config.UserKey(user id),
//	          for DeleteUser; written by Create, removed with the session
//	meta:     "user_key" -> UserKey(probe), to notice a changed key function
var (
	bucketSessions = []byte("sessions")
	bucketUpdated  = []byte("updated")
	bucketTurns    = []byte("turns")
	bucketUsers    = []byte("users")
	bucketMeta     = []byte("meta")
	metaUserKey    = []byte("user_key")
)

// sweepBatch bounds the deletions of one sweep transaction, so the sweeper
// never holds the write lock for long.
const sweepBatch = 500

// Embedded is the single-node Store: a bbolt database at
// <DataDir>/sessions.db. It is safe for concurrent use; writes are
// serialised by bbolt and each write is one fsync'ed transaction.
type Embedded struct {
	db      *bolt.DB
	ttl     time.Duration
	now     func() time.Time
	codec   codec
	userKey func(string) string

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Embedded)(nil)

// OpenEmbedded opens (creating if needed) the store in cfg.DataDir and starts
// its sweeper. It fails after a second if another process holds the file.
// When the file has no user index yet, or one built with another
// Config.UserKey (or encryption setting), the index is rebuilt from the
// sessions in the same transaction: one pass over them, opening each
// sealed user id (sessions whose user id cannot be opened are left out).
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
	e := &Embedded{
		codec:   codec{cfg.Sealer},
		userKey: cfg.userKeyFunc(),
		db:      db,
		ttl:     cfg.TTL,
		now:     time.Now,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSessions, bucketUpdated, bucketTurns, bucketUsers, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return e.checkUserIndex(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sessions: init %s: %w", path, err)
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
		if err := e.deleteSession(tx, key); err != nil {
			return err
		}
		if s.UserID != "" {
			if err := tx.Bucket(bucketUsers).Put(userIndexKey(e.userKey(s.UserID), s.ID), nil); err != nil {
				return err
			}
		}
		return e.put(tx, s)
	})
}

// DeleteUser implements Store: one write transaction.
func (e *Embedded) DeleteUser(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, fmt.Errorf("%w: empty user id", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := userIndexKey(e.userKey(userID), "")
	var deleted []string
	unreadable := 0
	err := e.update("delete user", func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUsers)
		var entries [][]byte
		c := ub.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			entries = append(entries, append([]byte(nil), k...))
		}
		for _, k := range entries {
			id := k[len(prefix):]
			owner, err := e.storedUser(tx, id)
			switch {
			case errors.Is(err, ErrNotFound):
				// Swept, or the entry outlived its session: drop it.
			case err != nil:
				unreadable++
				continue // keep the entry, so a retry with the key finds it
			case owner != userID:
				// The id was reused by another user's session.
			default:
				if err := e.deleteSession(tx, id); err != nil {
					return err
				}
				deleted = append(deleted, string(id))
			}
			if err := ub.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if unreadable > 0 {
		return deleted, fmt.Errorf("%w: %d indexed sessions kept: their user id cannot be decrypted", ErrCorrupt, unreadable)
	}
	return deleted, nil
}

// storedUser returns the opened user id of the session stored under id,
// expired or not; ErrNotFound when there is none.
func (e *Embedded) storedUser(tx *bolt.Tx, id []byte) (string, error) {
	v := tx.Bucket(bucketSessions).Get(id)
	if v == nil {
		return "", ErrNotFound
	}
	var s Session
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: session %q: %w", ErrCorrupt, id, err)
	}
	return e.codec.openString(s.ID, "user_id", s.UserID)
}

// checkUserIndex rebuilds the user index when it was built with another
// key function than the store's (or never): it clears the users bucket and
// indexes every stored session whose user id opens.
func (e *Embedded) checkUserIndex(tx *bolt.Tx) error {
	probe := []byte(e.userKey(userKeyProbe))
	mb := tx.Bucket(bucketMeta)
	if bytes.Equal(mb.Get(metaUserKey), probe) {
		return nil
	}
	if err := tx.DeleteBucket(bucketUsers); err != nil {
		return err
	}
	ub, err := tx.CreateBucket(bucketUsers)
	if err != nil {
		return err
	}
	err = tx.Bucket(bucketSessions).ForEach(func(k, _ []byte) error {
		user, err := e.storedUser(tx, k)
		if err != nil || user == "" {
			return nil // unreadable without the right key: nothing to index by
		}
		return ub.Put(userIndexKey(e.userKey(user), string(k)), nil)
	})
	if err != nil {
		return err
	}
	return mb.Put(metaUserKey, probe)
}

// userIndexKey is the users bucket key of session id under user key uk;
// with id "" it is the prefix of all of uk's entries.
func userIndexKey(uk, id string) []byte {
	k := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(uk)+len(id)), uint64(len(uk)))
	k = append(k, uk...)
	return append(k, id...)
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

// deleteSession removes every trace of id: record, transcript, list index
// entry and user index entry (unless its user id cannot be opened; then
// DeleteUser drops that entry when it finds the session gone).
func (e *Embedded) deleteSession(tx *bolt.Tx, id []byte) error {
	sb := tx.Bucket(bucketSessions)
	if v := sb.Get(id); v != nil {
		var s Session
		if json.Unmarshal(v, &s) == nil {
			if err := tx.Bucket(bucketUpdated).Delete(indexKey(s.UpdatedAt, s.ID)); err != nil {
				return err
			}
			if user, err := e.codec.openString(s.ID, "user_id", s.UserID); err == nil && user != "" {
				if err := tx.Bucket(bucketUsers).Delete(userIndexKey(e.userKey(user), s.ID)); err != nil {
					return err
				}
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
						if err := e.deleteSession(tx, id); err != nil {
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
