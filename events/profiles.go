package events

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/privacy"
)

// ProductLookup finds a product by id (the server passes the search index's
// Get). Events of unknown products are still applied (counts, recently
// viewed, purchased, trending) but add no brand or category affinity.
type ProductLookup func(id string) (*catalog.Product, bool)

// TypeWeights is how much one event of each type adds to the shopper's
// affinities (before decay). Search events add none; trending counts use the
// same weights.
var TypeWeights = map[Type]float64{View: 1, Click: 2, AddToCart: 4, Purchase: 6}

// Trending windows with exact bucket support: up to 2 h in 1-minute buckets,
// up to 48 h in 1-hour buckets (the current, partial bucket included).
const (
	Hour = time.Hour
	Day  = 24 * time.Hour
)

const (
	minuteBuckets = 120 // minute buckets kept: 2 h
	hourBuckets   = 48  // hour buckets kept: 48 h
)

// Profile is a shopper's live profile as of AsOf. Affinities are
// recency-weighted sums of TypeWeights, each event's weight halved every
// half-life since it happened.
type Profile struct {
	Shopper    string             `json:"shopper"`
	Brands     map[string]float64 `json:"brands,omitempty"`      // lower-cased brand → affinity
	Categories map[string]float64 `json:"categories,omitempty"`  // lower-cased category (any path level) → affinity
	PriceBands map[string]float64 `json:"price_bands,omitempty"` // catalog.PriceBandOf value → affinity
	// RecentViews are the product ids viewed or clicked, most recent first,
	// each once.
	RecentViews []string `json:"recent_views,omitempty"`
	// Purchased are the product ids bought, most recent first.
	Purchased     []string       `json:"purchased,omitempty"`
	RecentQueries []string       `json:"recent_queries,omitempty"`
	Counts        map[Type]int64 `json:"counts,omitempty"` // events applied, by type
	LastEvent     time.Time      `json:"last_event,omitzero"`
	AsOf          time.Time      `json:"as_of"`
}

// Events is the number of events applied to the profile.
func (p Profile) Events() int64 {
	var n int64
	for _, c := range p.Counts {
		n += c
	}
	return n
}

// HasPurchased reports whether id is among the purchases.
func (p Profile) HasPurchased(id string) bool {
	for _, x := range p.Purchased {
		if x == id {
			return true
		}
	}
	return false
}

// boostHalfSat is the affinity at which a component of Boost reaches half of
// its weight: one click (2) or two views of a brand give a brand half its
// share.
const boostHalfSat = 2.0

// Boost weights of Boost's components; they sum to 1.
const (
	boostBrand    = 0.5
	boostCategory = 0.3
	boostBand     = 0.2
)

// Boost is a personalisation score in [0, 1) for prod: 0.5·s(brand) +
// 0.3·s(best matching category level) + 0.2·s(price band), where s(a) =
// a/(a+2) saturates the decayed affinity a. A shopper without history gets
// 0 for everything; nil prod gets 0.
func (p Profile) Boost(prod *catalog.Product) float64 {
	if prod == nil {
		return 0
	}
	sat := func(a float64) float64 {
		if a <= 0 {
			return 0
		}
		return a / (a + boostHalfSat)
	}
	var b float64
	if prod.Brand != "" {
		b += boostBrand * sat(p.Brands[strings.ToLower(prod.Brand)])
	}
	var cat float64
	for _, c := range prod.Category {
		cat = max(cat, p.Categories[strings.ToLower(c)])
	}
	b += boostCategory * sat(cat)
	if band := bandOf(prod, 0); band != "" {
		b += boostBand * sat(p.PriceBands[band])
	}
	return b
}

// TopKeys returns up to k keys of m with the highest values, highest first
// (ties by key).
func TopKeys(m map[string]float64, k int) []string {
	keys := make([]string, 0, len(m))
	for key, v := range m {
		if v > 0 {
			keys = append(keys, key)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > k {
		keys = keys[:k]
	}
	return keys
}

// TrendingItem is a product's weighted event count in a window.
type TrendingItem struct {
	ProductID string  `json:"product_id"`
	Score     float64 `json:"score"`
}

// Profiles keeps live shopper profiles and trending counts. Implementations
// are safe for concurrent use.
type Profiles interface {
	// Apply updates profiles and trending counts with evs. It is idempotent
	// by event id (an id applied within ProfileConfig.SeenTTL is skipped),
	// and a batch is applied atomically per backend call: after an error
	// some events may be applied, and applying the batch again applies each
	// of the others once.
	Apply(ctx context.Context, evs []Event) error
	// Get returns a shopper's profile as of now; an unknown shopper gets an
	// empty profile, not an error.
	Get(ctx context.Context, shopper string) (Profile, error)
	// Delete erases everything kept under shopper — affinities, counts,
	// recently viewed, purchases, recent queries — and reports whether
	// there was anything. Trending counts are per product and carry no
	// shopper, and the ids of applied events (kept SeenTTL for
	// idempotency) carry no shopper either: both stay.
	Delete(ctx context.Context, shopper string) (bool, error)
	// Trending returns the k products with the highest weighted event
	// counts over the last window (rounded up to whole minutes up to 2 h,
	// whole hours up to 48 h), best first.
	Trending(ctx context.Context, window time.Duration, k int) ([]TrendingItem, error)
	// Close releases the backend.
	Close() error
}

// Profile defaults.
const (
	DefaultHalfLife     = 24 * time.Hour
	DefaultRecentViews  = 50
	DefaultMaxPurchased = 200
	DefaultSeenTTL      = 24 * time.Hour
	DefaultProfileTTL   = 30 * 24 * time.Hour
	DefaultProfilePfx   = "sa:pr:"
)

// ProfileConfig selects and tunes the profile store. Zero fields take the
// defaults.
type ProfileConfig struct {
	// Backend is "memory" (default) or "redis".
	Backend string
	// RedisURL is used by the redis backend when no client is passed.
	RedisURL string
	// KeyPrefix prefixes every Redis key (default "sa:pr:").
	KeyPrefix string
	// HalfLife is the decay of affinities (default 24 h).
	HalfLife time.Duration
	// RecentViews and MaxPurchased bound the lists kept (defaults 50, 200).
	RecentViews, MaxPurchased int
	// SeenTTL is how long an applied event id is remembered for
	// idempotency (default 24 h). It must exceed the longest time an
	// event may wait for redelivery (consumer downtime + ClaimIdle). Redis
	// memory: about 40 bytes × events per SeenTTL.
	SeenTTL time.Duration
	// ProfileTTL: a profile without events for this long is deleted
	// (default 30 days).
	ProfileTTL time.Duration
	// Lookup resolves product ids to brand, categories and price; nil
	// means every product is unknown.
	Lookup ProductLookup
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
	// Sealer, when set (a *privacy.Keyring), encrypts the redis backend's
	// profile records at rest (AES-256-GCM; each record carries its key id,
	// so keys rotate: see RedisProfiles.Rotate). Records written without
	// one stay readable and are sealed at their next write; a record sealed
	// with a key the Sealer lacks makes Get and Apply fail (the error wraps
	// privacy.ErrUnknownKey) rather than be overwritten. Seen ids, trending
	// counts and key names (which carry shopper ids, pseudonyms with
	// Config.Pseudonymize) are not encrypted. The memory backend keeps
	// profiles in process memory only and ignores it.
	Sealer privacy.Sealer
}

// Validate reports the first invalid field.
func (c ProfileConfig) Validate() error {
	switch c.Backend {
	case "", "memory", "redis":
	default:
		return fmt.Errorf("events: unknown profile backend %q (want memory or redis)", c.Backend)
	}
	if c.HalfLife < 0 || c.SeenTTL < 0 || c.ProfileTTL < 0 || c.RecentViews < 0 || c.MaxPurchased < 0 {
		return errors.New("events: profile durations and sizes must not be negative")
	}
	if c.Backend == "redis" && c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			return fmt.Errorf("events: redis url %s: %w", redisopt.MaskURL(c.RedisURL), err)
		}
	}
	return nil
}

func (c ProfileConfig) withDefaults() ProfileConfig {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultProfilePfx
	}
	if c.HalfLife == 0 {
		c.HalfLife = DefaultHalfLife
	}
	if c.RecentViews == 0 {
		c.RecentViews = DefaultRecentViews
	}
	if c.MaxPurchased == 0 {
		c.MaxPurchased = DefaultMaxPurchased
	}
	if c.SeenTTL == 0 {
		c.SeenTTL = DefaultSeenTTL
	}
	if c.ProfileTTL == 0 {
		c.ProfileTTL = DefaultProfileTTL
	}
	if c.Lookup == nil {
		c.Lookup = func(string) (*catalog.Product, bool) { return nil, false }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// String prints the effective configuration.
func (c ProfileConfig) String() string {
	c = c.withDefaults()
	b := "memory"
	if c.Backend == "redis" {
		b = "redis " + redisopt.MaskURL(c.RedisURL) + " prefix=" + c.KeyPrefix
	}
	return fmt.Sprintf("events: profiles %s half-life=%v seen-ttl=%v profile-ttl=%v encrypted=%v", b, c.HalfLife, c.SeenTTL, c.ProfileTTL, c.Backend == "redis" && c.Sealer != nil)
}

// NewProfiles validates cfg and returns the configured store; the redis
// backend uses client when not nil, else dials cfg.RedisURL.
func NewProfiles(ctx context.Context, cfg ProfileConfig, client *redis.Client) (Profiles, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Backend != "redis" {
		return NewMemoryProfiles(cfg), nil
	}
	if client == nil {
		if cfg.RedisURL == "" {
			return nil, errors.New("events: redis profiles need a redis url")
		}
		var err error
		if client, err = redisopt.NewClient(cfg.RedisURL, DefaultRedisTimeout); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
	}
	r := NewRedisProfiles(client, cfg)
	if err := client.Ping(ctx).Err(); err != nil {
		return nil, unavailable("ping", err)
	}
	return r, nil
}

// features are what one event contributes to affinities.
type features struct {
	brand string   // lower-cased, "" when unknown
	cats  []string // lower-cased, deduplicated
	band  string
}

func featuresOf(e *Event, lookup ProductLookup) features {
	var f features
	if e.ProductID == "" {
		return f
	}
	p, ok := lookup(e.ProductID)
	if !ok || p == nil {
		if e.Price > 0 {
			f.band = catalog.PriceBandOf(e.Price, "")
		}
		return f
	}
	f.brand = strings.ToLower(p.Brand)
	for _, c := range p.Category {
		c = strings.ToLower(c)
		if c != "" && !contains(f.cats, c) {
			f.cats = append(f.cats, c)
		}
	}
	f.band = bandOf(p, e.Price)
	return f
}

// bandOf is the product's price band, else the band of fallback (an event's
// price) when positive.
func bandOf(p *catalog.Product, fallback int64) string {
	if p.PriceBand != "" {
		return p.PriceBand
	}
	if p.Price >= 0 {
		return catalog.PriceBandOf(p.Price, p.Currency)
	}
	if fallback > 0 {
		return catalog.PriceBandOf(fallback, p.Currency)
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// rescaleAfter: stored affinities are sums of w·2^((t−epoch)/halfLife);
// when t is this many half-lives past the epoch, they are rescaled to a new
// epoch so floats never overflow.
const rescaleAfter = 64
