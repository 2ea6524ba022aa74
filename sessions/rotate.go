package sessions

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/privacy"
)

// RotateStats reports what a key rotation did.
type RotateStats struct {
	// Sessions is the number of sessions visited (Redis may visit one twice
	// when SCAN returns it twice; each visit counts).
	Sessions int64 `json:"sessions"`
	// Records is the number of stored records examined: user ids, meta
	// values and transcript turns, sealed or plain.
	Records int64 `json:"records"`
	// Resealed is the number of records written back under the current key.
	Resealed int64 `json:"resealed"`
	// Failed is the number of records that needed rotation but do not open
	// (unknown key, tampered, not a record): left as they are.
	Failed int64 `json:"failed"`
	// Skipped is the number of records that a concurrent writer changed
	// or deleted between the read and the write-back (Redis only): left
	// as that writer left them.
	Skipped int64 `json:"skipped"`
}

// Rotator is implemented by the stores that can re-seal their records with
// the current key of their Sealer: *Embedded, *Redis, and *Buffered when
// the store it wraps is one.
type Rotator interface {
	// Rotate re-seals, with the current key, every stored record for which
	// the Sealer's NeedsRotation is true (older keys and plaintext written
	// before encryption was turned on); see the package doc, "Key
	// rotation". Records that do not open are counted as Failed and left
	// in place; Rotate goes on with the others and then returns an error
	// wrapping ErrCorrupt that names their sessions, with the stats. Without
	// a Sealer it returns an error wrapping ErrInvalid and touches nothing.
	// A backend failure or a cancelled context stops it with the stats so
	// far; what was written stays written, and running it again resumes
	// (records already under the current key are only read).
	Rotate(ctx context.Context) (RotateStats, error)
}

var (
	_ Rotator = (*Embedded)(nil)
	_ Rotator = (*Redis)(nil)
	_ Rotator = (*Buffered)(nil)
)

// rotateBatch bounds the records examined by one write transaction of
// Embedded.Rotate, and the turns read by one LRANGE of Redis.Rotate.
const rotateBatch = 500

// rotateSessions is how many sessions Redis.Rotate reads in one pipelined
// round trip (their hash and up to rotateBatch turns each).
const rotateSessions = 32

// maxNamedFailures bounds the session ids named in a rotation's error.
const maxNamedFailures = 10

var errNoSealer = fmt.Errorf("%w: no encryption key is configured: nothing to rotate to", ErrInvalid)

// resealTurn returns an encoded turn sealed with the current key when the
// sealer says it needs rotation; changed reports whether it did. A record
// that is neither a sealed record nor JSON is an error (ErrCorrupt): it
// would not read back either way. The codec must have a Sealer.
func (c codec) resealTurn(id string, b []byte) (out []byte, changed bool, err error) {
	if !c.s.NeedsRotation(b) {
		return b, false, nil
	}
	p, err := c.openTurn(id, b)
	if err != nil {
		return nil, false, err
	}
	if !privacy.IsSealed(b) && !json.Valid(p) {
		return nil, false, fmt.Errorf("%w: a turn of %q is neither sealed nor JSON", ErrCorrupt, id)
	}
	return c.sealTurn(id, p), true, nil
}

// resealString is resealTurn for a string field; "" stays "". The codec
// must have a Sealer.
func (c codec) resealString(id, field, v string) (out string, changed bool, err error) {
	if v == "" {
		return v, false, nil
	}
	if raw, ok := strings.CutPrefix(v, sealedPrefix); ok {
		if b, err := base64.RawURLEncoding.DecodeString(raw); err == nil && !c.s.NeedsRotation(b) {
			return v, false, nil
		}
	}
	p, err := c.openString(id, field, v)
	if err != nil {
		return "", false, err
	}
	return c.sealString(id, field, p), true, nil
}

// rotateFailures collects the records a rotation could not open.
type rotateFailures struct {
	first error    // the first one's error
	ids   []string // their sessions, at most maxNamedFailures, no repeats in a row
	more  int      // sessions beyond ids
	last  string
}

func (f *rotateFailures) add(st *RotateStats, id string, err error) {
	st.Failed++
	if f.first == nil {
		f.first = err
	}
	if id == f.last {
		return
	}
	f.last = id
	if len(f.ids) < maxNamedFailures {
		f.ids = append(f.ids, id)
	} else {
		f.more++
	}
}

// err is nil when nothing failed, else an error wrapping ErrCorrupt naming
// the sessions.
func (f *rotateFailures) err(st RotateStats) error {
	if st.Failed == 0 {
		return nil
	}
	names := strings.Join(f.ids, ", ")
	if f.more > 0 {
		names += fmt.Sprintf(" and %d more", f.more)
	}
	return fmt.Errorf("sessions: rotate: %d records left as they were (the others are resealed), in sessions %s; first: %w", st.Failed, names, f.first)
}

// Rotate implements Rotator for the embedded store: it walks every stored
// session in key order, expired ones not yet swept included, in write
// transactions of at most rotateBatch records each (one fsync each), so
// the store stays usable by this process meanwhile. No other process can
// open the file while one holds it: rotate with the server stopped.
func (e *Embedded) Rotate(ctx context.Context) (RotateStats, error) {
	var st RotateStats
	if e.codec.s == nil {
		return st, errNoSealer
	}
	var fails rotateFailures
	var pos embeddedRotatePos
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		// Work on copies: a transaction that fails leaves them untouched.
		next, dst, dfails := pos, st, fails
		done := false
		err := e.update("rotate", func(tx *bolt.Tx) error {
			var err error
			done, err = e.rotateStep(tx, &next, &dst, &dfails)
			return err
		})
		if err != nil {
			return st, err
		}
		pos, st, fails = next, dst, dfails
		if done {
			return st, fails.err(st)
		}
	}
}

// embeddedRotatePos is where an embedded rotation stands: in session id,
// whose record (user id, meta) is done when inSession, and whose turns are
// done up to seq.
type embeddedRotatePos struct {
	id        []byte // nil: before the first session
	inSession bool
	seq       uint64
}

// rotateStep rotates up to rotateBatch records from pos on and advances
// it; done when the last session is finished.
func (e *Embedded) rotateStep(tx *bolt.Tx, pos *embeddedRotatePos, st *RotateStats, fails *rotateFailures) (done bool, err error) {
	sb, turns := tx.Bucket(bucketSessions), tx.Bucket(bucketTurns)
	// The ids are gathered before anything is written: a cursor is not
	// valid across writes to its bucket.
	var ids [][]byte
	c := sb.Cursor()
	k, _ := c.First()
	if pos.id != nil {
		k, _ = c.Seek(pos.id)
	}
	for ; k != nil && len(ids) < rotateBatch; k, _ = c.Next() {
		ids = append(ids, append([]byte(nil), k...))
	}
	if len(ids) == 0 {
		return true, nil
	}
	if pos.inSession && string(ids[0]) != string(pos.id) {
		pos.inSession = false // deleted meanwhile
	}
	budget := rotateBatch
	for _, id := range ids {
		if budget <= 0 {
			pos.id, pos.inSession = id, false
			return false, nil
		}
		if !pos.inSession {
			n, err := e.rotateRecord(sb, id, st, fails)
			if err != nil {
				return false, err
			}
			budget -= 1 + n
			pos.id, pos.inSession, pos.seq = id, true, 0
		}
		if tb := turns.Bucket(id); tb != nil {
			n, last, more, err := e.rotateTurns(tb, string(id), pos.seq, budget, st, fails)
			if err != nil {
				return false, err
			}
			budget -= n
			pos.seq = last
			if more {
				return false, nil
			}
		}
		pos.inSession = false
		// The next session starts at the first key after id.
		pos.id = append(append([]byte(nil), id...), 0)
	}
	return len(ids) < rotateBatch, nil
}

// rotateRecord reseals the user id and meta values of the session stored
// under id and returns how many it examined.
func (e *Embedded) rotateRecord(sb *bolt.Bucket, id []byte, st *RotateStats, fails *rotateFailures) (int, error) {
	st.Sessions++
	var s Session
	if err := json.Unmarshal(sb.Get(id), &s); err != nil {
		fails.add(st, string(id), fmt.Errorf("%w: session %q: %w", ErrCorrupt, id, err))
		return 0, nil
	}
	n, changed := 0, false
	reseal := func(field string, v *string) {
		n++
		out, ch, err := e.codec.resealString(s.ID, field, *v)
		if err != nil {
			fails.add(st, s.ID, err)
			return
		}
		if ch {
			*v, changed = out, true
			st.Resealed++
		}
	}
	if s.UserID != "" {
		reseal("user_id", &s.UserID)
	}
	for k, v := range s.Meta {
		reseal("meta:"+k, &v)
		s.Meta[k] = v
	}
	st.Records += int64(n)
	if !changed {
		return n, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return n, err
	}
	return n, sb.Put(id, b)
}

// rotateTurns reseals up to limit turns after seq in tb and returns how
// many it examined and the seq of the last one; more when turns are left
// after them.
func (e *Embedded) rotateTurns(tb *bolt.Bucket, id string, seq uint64, limit int, st *RotateStats, fails *rotateFailures) (n int, last uint64, more bool, err error) {
	type kv struct{ k, v []byte }
	var out []kv
	last = seq
	c := tb.Cursor()
	k, v := c.Seek(u64(seq + 1))
	for ; k != nil && n < limit; k, v = c.Next() {
		n++
		last = binary.BigEndian.Uint64(k)
		sealed, changed, err := e.codec.resealTurn(id, v)
		if err != nil {
			fails.add(st, id, err)
			continue
		}
		if changed {
			out = append(out, kv{append([]byte(nil), k...), sealed})
		}
	}
	more = k != nil
	st.Records += int64(n)
	for _, r := range out {
		if err := tb.Put(r.k, r.v); err != nil {
			return n, last, more, err
		}
		st.Resealed++
	}
	return n, last, more, nil
}

// rotateScript replaces records only where they still hold the value read,
// so a concurrent write is never lost: KEYS s, t; ARGV the number H of
// hash triples, H triples (field, old, new), then list triples (index,
// old, new). It never creates a key nor changes a TTL (HSET and LSET keep
// it). Returns how many records it replaced.
var rotateScript = redis.NewScript(`
local n = 0
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
  i = i + 3
end
while i <= #ARGV do
  if redis.call('LINDEX', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('LSET', KEYS[2], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
  i = i + 3
end
return n
`)

// redisRotation is one session's pending write-back.
type redisRotation struct {
	id     string
	hash   []any // triples field, old, new
	list   []any // triples index, old, new
	nturns int   // turns read from the session's list in this page
}

func (w *redisRotation) count() int { return (len(w.hash) + len(w.list)) / 3 }

// Rotate implements Rotator for Redis. It is safe while replicas keep
// writing: it SCANs the session hashes (P s:*) in pages and, per page of
// rotateSessions sessions, reads their hashes and first rotateBatch turns
// in one pipelined round trip and writes back in another (one rotateScript
// per session, which replaces a field or list element only if it still
// holds the value read); longer transcripts take one LRANGE and one script
// per further rotateBatch turns. A session that expires meanwhile is
// skipped.
func (r *Redis) Rotate(ctx context.Context) (RotateStats, error) {
	var st RotateStats
	if r.codec.s == nil {
		return st, errNoSealer
	}
	var fails rotateFailures
	iter := r.c.Scan(ctx, 0, redisopt.GlobEscape(r.prefix+"s:")+"*", scanBatch).Iterator()
	batch := make([]string, 0, rotateSessions)
	for iter.Next(ctx) {
		batch = append(batch, strings.TrimPrefix(iter.Val(), r.prefix+"s:"))
		if len(batch) == rotateSessions {
			if err := r.rotateSessions(ctx, batch, &st, &fails); err != nil {
				return st, err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return st, unavailable("rotate", err)
	}
	if err := r.rotateSessions(ctx, batch, &st, &fails); err != nil {
		return st, err
	}
	return st, fails.err(st)
}

// rotateSessions rotates the sessions ids.
func (r *Redis) rotateSessions(ctx context.Context, ids []string, st *RotateStats, fails *rotateFailures) error {
	if len(ids) == 0 {
		return nil
	}
	hashes := make([]*redis.MapStringStringCmd, len(ids))
	lists := make([]*redis.StringSliceCmd, len(ids))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			hashes[i] = p.HGetAll(ctx, r.sessKey(id))
			lists[i] = p.LRange(ctx, r.turnsKey(id), 0, rotateBatch-1)
		}
		return nil
	})
	if err != nil {
		return unavailable("rotate", err)
	}
	var writes []*redisRotation
	var long []string // sessions with turns beyond the first page
	for i, id := range ids {
		h := hashes[i].Val()
		if len(h) == 0 {
			continue // expired since SCAN
		}
		st.Sessions++
		w := &redisRotation{id: id}
		for f, v := range h {
			field := ""
			switch {
			case f == "user_id":
				field = "user_id"
			case strings.HasPrefix(f, metaField):
				field = "meta:" + f[len(metaField):]
			default:
				continue
			}
			st.Records++
			out, changed, err := r.codec.resealString(id, field, v)
			if err != nil {
				fails.add(st, id, err)
			} else if changed {
				w.hash = append(w.hash, f, v, out)
			}
		}
		r.resealTurns(w, 0, lists[i].Val(), st, fails)
		if w.count() > 0 {
			writes = append(writes, w)
		}
		if w.nturns == rotateBatch {
			long = append(long, id)
		}
	}
	if err := r.writeRotations(ctx, writes, st); err != nil {
		return err
	}
	for _, id := range long {
		if err := r.rotateLongTranscript(ctx, id, st, fails); err != nil {
			return err
		}
	}
	return nil
}

// resealTurns adds to w the turns of page (starting at list index start)
// that need rotation.
func (r *Redis) resealTurns(w *redisRotation, start int64, page []string, st *RotateStats, fails *rotateFailures) {
	w.nturns = len(page)
	for j, v := range page {
		st.Records++
		out, changed, err := r.codec.resealTurn(w.id, []byte(v))
		if err != nil {
			fails.add(st, w.id, err)
		} else if changed {
			w.list = append(w.list, start+int64(j), v, out)
		}
	}
}

// rotateLongTranscript rotates the turns of id from index rotateBatch on,
// one page at a time, until a page is short (turns appended meanwhile are
// visited too).
func (r *Redis) rotateLongTranscript(ctx context.Context, id string, st *RotateStats, fails *rotateFailures) error {
	for start := int64(rotateBatch); ; start += rotateBatch {
		page, err := r.c.LRange(ctx, r.turnsKey(id), start, start+rotateBatch-1).Result()
		if err != nil {
			return unavailable("rotate", err)
		}
		w := &redisRotation{id: id}
		r.resealTurns(w, start, page, st, fails)
		if w.count() > 0 {
			if err := r.writeRotations(ctx, []*redisRotation{w}, st); err != nil {
				return err
			}
		}
		if len(page) < rotateBatch {
			return nil
		}
	}
}

// writeRotations runs rotateScript for each of ws in one pipelined round
// trip and counts what was replaced and what had changed meanwhile.
func (r *Redis) writeRotations(ctx context.Context, ws []*redisRotation, st *RotateStats) error {
	if len(ws) == 0 {
		return nil
	}
	cmds := make([]*redis.Cmd, len(ws))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range ws {
			args := make([]any, 0, 1+len(w.hash)+len(w.list))
			args = append(args, len(w.hash)/3)
			args = append(append(args, w.hash...), w.list...)
			cmds[i] = rotateScript.Eval(ctx, p, []string{r.sessKey(w.id), r.turnsKey(w.id)}, args...)
		}
		return nil
	})
	if err != nil {
		return unavailable("rotate", err)
	}
	for i, w := range ws {
		n, err := cmds[i].Int64()
		if err != nil {
			return unavailable("rotate", err)
		}
		st.Resealed += n
		st.Skipped += int64(w.count()) - n
	}
	return nil
}

// Rotate implements Rotator by rotating the wrapped store. Held writes are
// not part of it: they are sealed with the current key when written.
func (b *Buffered) Rotate(ctx context.Context) (RotateStats, error) {
	ro, ok := b.Store.(Rotator)
	if !ok {
		return RotateStats{}, errors.New("sessions: rotate: the store behind the buffer cannot rotate keys")
	}
	return ro.Rotate(ctx)
}
