package events

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redisopt"
)

// RotateStats reports what RedisProfiles.Rotate did.
type RotateStats struct {
	// Records is the number of profile records examined (SCAN may return a
	// key twice; each visit counts).
	Records int64 `json:"records"`
	// Resealed is the number of records written back under the current
	// key.
	Resealed int64 `json:"resealed"`
	// Failed is the number of records that needed rotation but do not open
	// (unknown key, tampered, not a record): left as they are.
	Failed int64 `json:"failed"`
	// Skipped is the number of records a concurrent writer (a consumer's
	// Apply, Delete) changed between the read and the write-back: left as
	// that writer wrote them, under its Sealer's current key.
	Skipped int64 `json:"skipped"`
}

// rotatePage is how many records Rotate reads in one round trip (MGET) and
// writes back with one script.
const rotatePage = 200

// rotateScript: ARGV 1 prefix P, then quadruples (shopper, check value,
// new value, "1" when the legacy keys rv, pu, q are to be deleted, else
// ""). Each record is replaced only if it is still the one read (see
// luaUnchanged), keeping its TTL. Returns how many it replaced.
var rotateScript = redis.NewScript(luaUnchanged + `
local P, n = ARGV[1], 0
for i = 2, #ARGV, 4 do
  local sh = ARGV[i]
  local key = P .. 'u:' .. sh
  if unchanged(key, ARGV[i + 1]) then
    redis.call('SET', key, ARGV[i + 2], 'KEEPTTL')
    if ARGV[i + 3] == '1' then redis.call('DEL', P .. 'rv:' .. sh, P .. 'pu:' .. sh, P .. 'q:' .. sh) end
    n = n + 1
  end
end
return n
`)

// Rotate re-seals, with the current key of ProfileConfig.Sealer, every
// profile record for which the Sealer's NeedsRotation is true: records
// under an older key, plain records written before a key was configured,
// and legacy records (which it also folds into one record). It is safe
// while consumers apply events: it SCANs P u:* and, per page of rotatePage
// records, reads them with one MGET and writes back with one script that
// replaces a record only if it is unchanged since the read (others are
// counted as Skipped: their writer sealed them). Records that do not open
// are counted as Failed and left; Rotate goes on with the others, then
// returns an error naming the first. Without a Sealer it returns an error
// and touches nothing. A backend failure or a cancelled context stops it
// with the stats so far; running it again resumes (records already under
// the current key are only read). Cost: O(records) reads; opening and
// sealing only those that need it.
func (r *RedisProfiles) Rotate(ctx context.Context) (RotateStats, error) {
	var st RotateStats
	if r.cfg.Sealer == nil {
		return st, errors.New("events: rotate profiles: no encryption key is configured: nothing to rotate to")
	}
	pfx := r.cfg.KeyPrefix + "u:"
	var failure error
	iter := r.c.Scan(ctx, 0, redisopt.GlobEscape(pfx)+"*", rotatePage).Iterator()
	page := make([]string, 0, rotatePage)
	for iter.Next(ctx) {
		page = append(page, strings.TrimPrefix(iter.Val(), pfx))
		if len(page) == rotatePage {
			if err := r.rotatePage(ctx, page, &st, &failure); err != nil {
				return st, err
			}
			page = page[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return st, unavailable("rotate profiles", err)
	}
	if err := r.rotatePage(ctx, page, &st, &failure); err != nil {
		return st, err
	}
	if st.Failed > 0 {
		return st, fmt.Errorf("events: rotate profiles: %d records do not open and were left as they are (first: %w)", st.Failed, failure)
	}
	return st, nil
}

// rotatePage rotates the records of shoppers; failure gets the first
// record's error that did not open.
func (r *RedisProfiles) rotatePage(ctx context.Context, shoppers []string, st *RotateStats, failure *error) error {
	if len(shoppers) == 0 {
		return nil
	}
	keys := make([]string, len(shoppers))
	for i, sh := range shoppers {
		keys[i] = r.recordKey(sh)
	}
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return unavailable("rotate profiles", err)
	}
	var recs []*storedRecord
	var of []string // their shoppers
	var legacy []*storedRecord
	var legacyOf []string
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok || raw == "" {
			continue // expired or deleted since SCAN
		}
		st.Records++
		if !r.needsRotation(raw) {
			continue
		}
		sr, err := r.decodeRecord(keys[i], raw)
		if err != nil {
			if st.Failed++; *failure == nil {
				*failure = err
			}
			continue
		}
		recs, of = append(recs, &sr), append(of, shoppers[i])
		if sr.legacy {
			legacy, legacyOf = append(legacy, &sr), append(legacyOf, shoppers[i])
		}
	}
	if len(recs) == 0 {
		return nil
	}
	if len(legacy) > 0 {
		if err := r.loadLegacy(ctx, legacyOf, legacy); err != nil {
			return err
		}
	}
	args := make([]any, 0, 1+4*len(recs))
	args = append(args, r.cfg.KeyPrefix)
	for i, sr := range recs {
		del := ""
		if sr.legacy {
			del = "1"
		}
		args = append(args, of[i], sr.check, r.encodeRecord(r.recordKey(of[i]), sr.rec), del)
	}
	n, err := rotateScript.Run(ctx, r.c, nil, args...).Int64()
	if err != nil {
		return unavailable("rotate profiles", err)
	}
	st.Resealed += n
	st.Skipped += int64(len(recs)) - n
	return nil
}
