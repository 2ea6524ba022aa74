package events

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/shopassist/shopassist/privacy"
)

// A Redis profile record, P u:S, holds everything kept about shopper S in
// one string:
//
//	format (1 byte) | stamp (8 random bytes) | payload
//
// With format recordPlain the payload is the record in a compact binary
// form (profileRecord.appendTo); with recordSealed it is that, sealed by
// ProfileConfig.Sealer (privacy.Sealer: AES-256-GCM, key id inside) with
// the associated data privacy.AAD("profile", P+"u:"+S), so a record copied
// under another key does not open. The stamp is new on every write:
// Apply's commit script compares the 9-byte header it read with GETRANGE
// to detect a concurrent writer without reading or hashing the whole
// record. (A binary form, not JSON: with JSON records the consumers spent
// 21–24 µs of CPU per event on grown profiles, against 5–6 µs with this
// form; BenchmarkRedisApply with APPLY_BENCH_USERS=10000
// APPLY_BENCH_WARM=300000.)
//
// Records of the layout before (plain JSON {"ep","last","n","a"} written by
// a Lua script, starting with '{', beside the keys P rv:S, P pu:S and
// P q:S) are read as legacy records: their lists come from those keys, and
// the next write (Apply or Rotate) replaces them with one record and
// deletes the three keys.
const (
	recordPlain      byte = 2
	recordSealed     byte = 3
	recordStampLen        = 8
	recordHeaderLen       = 1 + recordStampLen
	profileAADScope       = "profile"
	maxAffinities         = 200 // strongest affinities kept per shopper
	maxRecentQueries      = 20
)

// profileRecord is a shopper's stored profile. Affinities are stored as
// Σ weight · 2^((ts − Ep)/half-life) and scaled to now on read. The JSON
// tags are those of legacy records.
type profileRecord struct {
	Ep   int64              `json:"ep"`   // decay epoch, unix ms
	Last int64              `json:"last"` // latest event ts, unix ms
	N    map[Type]int64     `json:"n"`    // events applied, by type
	A    map[string]float64 `json:"a"`    // "b:BRAND" | "c:CATEGORY" | "p:BAND" → affinity
	// RV are the product ids viewed or clicked, most recent first (by ts,
	// then by order of application), each once; RVT their ts.
	RV  []string `json:"-"`
	RVT []int64  `json:"-"`
	// PU are the product ids purchased, most recent first, each once; PUT
	// their ts.
	PU  []string `json:"-"`
	PUT []int64  `json:"-"`
	// Q are the search queries, newest first (repeats kept).
	Q []string `json:"-"`
}

var errRecord = errors.New("events: not a profile record")

// storedRecord is a profile record as read from Redis.
type storedRecord struct {
	rec *profileRecord // nil: no record
	// check is what the commit and rotate scripts compare the stored value
	// with: "" when there was no record, the 9-byte header, or the whole
	// value of a legacy record (whose first bytes are not unique).
	check string
	// legacy: a record of the former layout, whose lists are in the keys
	// P rv:S, P pu:S and P q:S (loaded by loadLegacy).
	legacy bool
}

func (r *RedisProfiles) recordKey(shopper string) string { return r.cfg.KeyPrefix + "u:" + shopper }

// needsRotation reports whether the stored value raw is not sealed with
// the current key of the Sealer (plain, legacy, or an older key); the
// caller has a Sealer.
func (r *RedisProfiles) needsRotation(raw string) bool {
	return len(raw) <= recordHeaderLen || raw[0] != recordSealed || r.cfg.Sealer.NeedsRotation([]byte(raw[recordHeaderLen:]))
}

// decodeRecord reads the value raw of key ("" when missing). A sealed
// record that does not open, or a value that is no profile record, is an
// error naming the key.
func (r *RedisProfiles) decodeRecord(key, raw string) (storedRecord, error) {
	if raw == "" {
		return storedRecord{}, nil
	}
	var out storedRecord
	rec := &profileRecord{}
	switch {
	case raw[0] == '{':
		out.check, out.legacy = raw, true
		if err := json.Unmarshal([]byte(raw), rec); err != nil {
			return out, fmt.Errorf("events: profile %s: %w: %w", key, errRecord, err)
		}
		if rec.N == nil {
			rec.N = map[Type]int64{}
		}
		if rec.A == nil {
			rec.A = map[string]float64{}
		}
	case len(raw) > recordHeaderLen && (raw[0] == recordPlain || raw[0] == recordSealed):
		out.check = raw[:recordHeaderLen]
		payload := raw[recordHeaderLen:]
		if raw[0] == recordSealed {
			if r.cfg.Sealer == nil {
				return out, fmt.Errorf("events: profile %s is encrypted and no encryption key is configured: %w", key, privacy.ErrNoKeys)
			}
			plain, err := r.cfg.Sealer.Open([]byte(payload), privacy.AAD(profileAADScope, key))
			if err != nil {
				return out, fmt.Errorf("events: profile %s: %w", key, err)
			}
			payload = string(plain)
		}
		if err := rec.decode(payload); err != nil {
			return out, fmt.Errorf("events: profile %s: %w", key, err)
		}
	default:
		return out, fmt.Errorf("%w: %s", errRecord, key)
	}
	out.rec = rec
	return out, nil
}

// encodeRecord is rec's stored value under key: a new stamp, then the
// record, sealed when a Sealer is configured.
func (r *RedisProfiles) encodeRecord(key string, rec *profileRecord) []byte {
	out := make([]byte, recordHeaderLen, recordHeaderLen+rec.sizeHint())
	out[0] = recordPlain
	binary.LittleEndian.PutUint64(out[1:], rand.Uint64()) // uniqueness, not secrecy
	if r.cfg.Sealer == nil {
		return rec.appendTo(out)
	}
	out[0] = recordSealed
	return append(out, r.cfg.Sealer.Seal(rec.appendTo(nil), privacy.AAD(profileAADScope, key))...)
}

// appendTo appends the binary form of the record: varints Ep and Last,
// then the counts, affinities, recently viewed, purchased and queries,
// each as a uvarint count of items. A string is a uvarint length and its
// bytes; a count a uvarint; an affinity the 8 bytes of its float64 (little
// endian); a ts a varint.
func (p *profileRecord) appendTo(b []byte) []byte {
	b = binary.AppendVarint(b, p.Ep)
	b = binary.AppendVarint(b, p.Last)
	b = binary.AppendUvarint(b, uint64(len(p.N)))
	for t, n := range p.N {
		b = appendString(b, string(t))
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.AppendUvarint(b, uint64(len(p.A)))
	for k, v := range p.A {
		b = appendString(b, k)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	for _, l := range [...]struct {
		ids []string
		ts  []int64
	}{{p.RV, p.RVT}, {p.PU, p.PUT}} {
		b = binary.AppendUvarint(b, uint64(len(l.ids)))
		for i, id := range l.ids {
			b = appendString(b, id)
			b = binary.AppendVarint(b, l.ts[i])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(p.Q)))
	for _, q := range p.Q {
		b = appendString(b, q)
	}
	return b
}

// sizeHint is about the length of appendTo's output.
func (p *profileRecord) sizeHint() int {
	return 64 + 24*len(p.A) + 24*(len(p.RV)+len(p.PU)) + 32*len(p.Q)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// recordReader reads appendTo's output; the first error sticks.
type recordReader struct {
	s   string
	err error
}

func (d *recordReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		d.err = errRecord
		return 0
	}
	d.s = d.s[n:]
	return v
}

func (d *recordReader) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		d.err = errRecord
		return 0
	}
	d.s = d.s[n:]
	return v
}

// count reads a number of items of at least min bytes each.
func (d *recordReader) count(minBytes int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)/minBytes) {
		d.err = errRecord
		return 0
	}
	return int(n)
}

// str returns a substring of the record (no copy).
func (d *recordReader) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.s)) {
		d.err = errRecord
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

func (d *recordReader) float() float64 {
	if d.err != nil || len(d.s) < 8 {
		d.err = errRecord
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64([]byte(d.s[:8])))
	d.s = d.s[8:]
	return v
}

// decode reads appendTo's output. Its strings share s's memory.
func (p *profileRecord) decode(s string) error {
	d := &recordReader{s: s}
	p.Ep, p.Last = d.varint(), d.varint()
	n := d.count(2)
	p.N = make(map[Type]int64, n)
	for range n {
		t := Type(d.str())
		p.N[t] = int64(d.uvarint())
	}
	n = d.count(9)
	p.A = make(map[string]float64, n)
	for range n {
		k := d.str()
		p.A[k] = d.float()
	}
	for _, l := range [...]struct {
		ids *[]string
		ts  *[]int64
	}{{&p.RV, &p.RVT}, {&p.PU, &p.PUT}} {
		n = d.count(2)
		*l.ids, *l.ts = make([]string, n), make([]int64, n)
		for i := range n {
			(*l.ids)[i], (*l.ts)[i] = d.str(), d.varint()
		}
	}
	n = d.count(1)
	p.Q = make([]string, n)
	for i := range n {
		p.Q[i] = d.str()
	}
	if d.err == nil && d.s != "" {
		d.err = errRecord
	}
	if d.err != nil {
		return fmt.Errorf("%w: truncated or malformed", errRecord)
	}
	return nil
}

// newRecord is the record of a shopper's first event, at ts.
func newRecord(ts int64) *profileRecord {
	return &profileRecord{Ep: ts, N: map[Type]int64{}, A: map[string]float64{}}
}

// apply adds one event (not applied before) to the record: the same
// arithmetic as the former Lua script. affs are the event's affinity fields
// ("b:BRAND", "c:CATEGORY", "p:BAND"), hl the half-life in ms.
func (p *profileRecord) apply(e *Event, affs []string, hl float64, rmax, pmax int) {
	ts := e.TS.UnixMilli()
	if x := float64(ts-p.Ep) / hl; x > rescaleAfter {
		s := math.Exp2(-x)
		for k, v := range p.A {
			if v *= s; v > 1e-12 {
				p.A[k] = v
			} else {
				delete(p.A, k)
			}
		}
		p.Ep = ts
	}
	p.N[e.Type]++
	p.Last = max(p.Last, ts)
	if w := TypeWeights[e.Type]; w > 0 {
		sw := w * math.Exp2(float64(ts-p.Ep)/hl)
		for _, k := range affs {
			p.A[k] += sw
		}
	}
	switch e.Type {
	case View, Click:
		p.RV, p.RVT = touch(p.RV, p.RVT, e.ProductID, ts, rmax)
	case Purchase:
		p.PU, p.PUT = touch(p.PU, p.PUT, e.ProductID, ts, pmax)
	case Search:
		if e.Query != "" {
			q := make([]string, 0, min(len(p.Q)+1, maxRecentQueries))
			p.Q = append(append(q, e.Query), p.Q[:min(len(p.Q), maxRecentQueries-1)]...)
		}
	}
}

// touch records id at ts in a list kept most recent first (ties: the one
// touched last first), each id once with its latest ts, at most n long. An
// id already there with a later ts stays as it is.
func touch(ids []string, tss []int64, id string, ts int64, n int) ([]string, []int64) {
	for i, x := range ids {
		if x == id {
			if tss[i] > ts {
				return ids, tss
			}
			ids = append(ids[:i], ids[i+1:]...)
			tss = append(tss[:i], tss[i+1:]...)
			break
		}
	}
	at := sort.Search(len(tss), func(i int) bool { return tss[i] <= ts })
	ids = append(ids, "")
	copy(ids[at+1:], ids[at:])
	ids[at] = id
	tss = append(tss, 0)
	copy(tss[at+1:], tss[at:])
	tss[at] = ts
	if len(ids) > n {
		ids, tss = ids[:n], tss[:n]
	}
	return ids, tss
}

// capAffinities keeps the maxAffinities strongest affinities (ties by
// key).
func (p *profileRecord) capAffinities() {
	if len(p.A) <= maxAffinities {
		return
	}
	keys := make([]string, 0, len(p.A))
	for k := range p.A {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if p.A[keys[i]] != p.A[keys[j]] {
			return p.A[keys[i]] > p.A[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys[maxAffinities:] {
		delete(p.A, k)
	}
}

// profile is the record as a Profile as of now (affinities decayed to
// now).
func (p *profileRecord) profile(out *Profile, hl float64) {
	now := out.AsOf.UnixMilli()
	f := math.Exp2(-float64(now-p.Ep) / hl)
	out.Brands, out.Categories, out.PriceBands = map[string]float64{}, map[string]float64{}, map[string]float64{}
	for k, x := range p.A {
		if len(k) < 3 {
			continue
		}
		switch k[:2] {
		case "b:":
			out.Brands[k[2:]] = x * f
		case "c:":
			out.Categories[k[2:]] = x * f
		case "p:":
			out.PriceBands[k[2:]] = x * f
		}
	}
	out.Counts = make(map[Type]int64, len(p.N))
	for t, n := range p.N {
		out.Counts[t] = n
	}
	if p.Last > 0 {
		out.LastEvent = time.UnixMilli(p.Last)
	}
	out.RecentViews = append([]string(nil), p.RV...)
	out.Purchased = append([]string(nil), p.PU...)
	out.RecentQueries = append([]string(nil), p.Q...)
}
