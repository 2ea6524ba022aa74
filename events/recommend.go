package events

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/retrieval"
)

// Personalize re-ranks search hits for a shopper: each hit's score becomes
// its score divided by the best hit's score (so in [0, 1] for non-negative
// scores) plus weight × p.Boost(product), and hits are stably sorted by the
// new score, best first. It returns a new slice; hits is not modified. With
// weight 0 or an empty profile the order is unchanged.
func Personalize(hits []retrieval.Hit, p Profile, weight float64) []retrieval.Hit {
	out := make([]retrieval.Hit, len(hits))
	copy(out, hits)
	if len(out) == 0 || weight == 0 {
		return out
	}
	top := 0.0
	for _, h := range out {
		top = max(top, h.Score)
	}
	if top <= 0 {
		top = 1
	}
	for i := range out {
		out[i].Score = out[i].Score/top + weight*p.Boost(out[i].Product)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// consumableWords mark products bought again and again: a purchase does not
// exclude them from recommendations. A product is consumable when one of
// these words (or its plural) is a word of its title, name or any category
// level, case-insensitively.
var consumableWords = map[string]bool{
	"ink": true, "toner": true, "cartridge": true, "battery": true, "batteries": true, "paper": true,
	"refill": true, "staple": true, "label": true, "ribbon": true, "filament": true, "drum": true,
	"envelope": true, "tape": true, "wipe": true, "cleaner": true,
}

// Consumable reports whether p is a consumable (see consumableWords): ink,
// toner, cartridges, batteries, paper, refills, staples, labels, ribbons,
// filament, drums, envelopes, tape, wipes, cleaners.
func Consumable(p *catalog.Product) bool {
	if p == nil {
		return false
	}
	check := func(s string) bool {
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if consumableWords[w] || (strings.HasSuffix(w, "s") && consumableWords[strings.TrimSuffix(w, "s")]) {
				return true
			}
		}
		return false
	}
	if check(p.Title) || check(p.Name) {
		return true
	}
	for _, c := range p.Category {
		if check(c) {
			return true
		}
	}
	return false
}

// CandidateQuery asks for candidate products: by brand, by category or by
// free text (exactly one is set).
type CandidateQuery struct {
	Brand    string
	Category string
	Text     string
	K        int
}

// Candidates finds products for Recommend; the server implements it with
// the search index (see SearchCandidates).
type Candidates func(ctx context.Context, q CandidateQuery) ([]*catalog.Product, error)

// SearchCandidates implements Candidates on a retrieval.Index: brand and
// category queries use retrieval.Filter with the brand or category as
// query text, text queries a plain search.
func SearchCandidates(ix retrieval.Index) Candidates {
	return func(ctx context.Context, q CandidateQuery) ([]*catalog.Product, error) {
		rq := retrieval.Query{Text: q.Text, K: q.K}
		switch {
		case q.Brand != "":
			rq.Text, rq.Filter.Brands = q.Brand, []string{q.Brand}
		case q.Category != "":
			rq.Text, rq.Filter.Category = q.Category, q.Category
		}
		hits, err := ix.Search(ctx, rq)
		if err != nil {
			return nil, err
		}
		out := make([]*catalog.Product, len(hits))
		for i, h := range hits {
			out[i] = h.Product
		}
		return out, nil
	}
}

// Rec is one recommendation.
type Rec struct {
	Product *catalog.Product `json:"product"`
	Score   float64          `json:"score"`
	// Reason says where it came from: "brand:<b>", "category:<c>",
	// "similar:<viewed id>" or "trending".
	Reason string `json:"reason"`
}

// Recommender answers "what would you recommend?" from a live profile.
type Recommender struct {
	Profiles   Profiles
	Lookup     ProductLookup
	Candidates Candidates
}

// ErrBadRequest marks invalid arguments (empty shopper).
var ErrBadRequest = errors.New("events: bad request")

// Recommend returns up to k products for shopper (k <= 0 means 10), best
// first. Candidates come from the profile's top 3 brands and categories,
// products similar to the 3 most recently viewed (their titles as search
// text, the viewed product itself left out) and the last day's trending
// products. Each is scored Boost + 0.2 × trending share + a source bonus
// (similar 0.3, brand/category 0.1). Products the shopper purchased are
// left out unless Consumable. Without history the answer is the trending
// list.
func (r *Recommender) Recommend(ctx context.Context, shopper string, k int) ([]Rec, error) {
	if shopper == "" {
		return nil, fmt.Errorf("%w: empty shopper id", ErrBadRequest)
	}
	if k <= 0 {
		k = 10
	}
	p, err := r.Profiles.Get(ctx, shopper)
	if err != nil {
		return nil, err
	}
	purchased := map[string]bool{}
	for _, id := range p.Purchased {
		purchased[id] = true
	}
	type cand struct {
		prod   *catalog.Product
		bonus  float64
		reason string
		trend  float64
	}
	cands := map[string]*cand{}
	var order []string
	add := func(prod *catalog.Product, bonus float64, reason string) {
		if prod == nil || (purchased[prod.ID] && !Consumable(prod)) {
			return
		}
		c := cands[prod.ID]
		if c == nil {
			c = &cand{prod: prod}
			cands[prod.ID] = c
			order = append(order, prod.ID)
		}
		if bonus > c.bonus || c.reason == "" {
			c.bonus, c.reason = max(bonus, c.bonus), reason
		}
	}
	if r.Candidates != nil {
		per := max(k, 10)
		for _, b := range TopKeys(p.Brands, 3) {
			ps, err := r.Candidates(ctx, CandidateQuery{Brand: b, K: per})
			if err != nil {
				return nil, err
			}
			for _, prod := range ps {
				add(prod, 0.1, "brand:"+b)
			}
		}
		for _, c := range TopKeys(p.Categories, 3) {
			ps, err := r.Candidates(ctx, CandidateQuery{Category: c, K: per})
			if err != nil {
				return nil, err
			}
			for _, prod := range ps {
				add(prod, 0.1, "category:"+c)
			}
		}
		for i, id := range p.RecentViews {
			if i == 3 {
				break
			}
			viewed, ok := r.lookup(id)
			if !ok {
				continue
			}
			ps, err := r.Candidates(ctx, CandidateQuery{Text: viewed.Title, K: per})
			if err != nil {
				return nil, err
			}
			for _, prod := range ps {
				if prod.ID != id {
					add(prod, 0.3, "similar:"+id)
				}
			}
		}
	}
	trend, err := r.Profiles.Trending(ctx, Day, 3*k)
	if err != nil {
		return nil, err
	}
	if len(trend) > 0 {
		top := trend[0].Score
		for _, t := range trend {
			prod, ok := r.lookup(t.ProductID)
			if !ok {
				continue
			}
			add(prod, 0, "trending")
			if c := cands[prod.ID]; c != nil && top > 0 {
				c.trend = t.Score / top
			}
		}
	}
	recs := make([]Rec, 0, len(order))
	for _, id := range order {
		c := cands[id]
		recs = append(recs, Rec{Product: c.prod, Score: p.Boost(c.prod) + 0.2*c.trend + c.bonus, Reason: c.reason})
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Score > recs[j].Score })
	if len(recs) > k {
		recs = recs[:k]
	}
	return recs, nil
}

func (r *Recommender) lookup(id string) (*catalog.Product, bool) {
	if r.Lookup == nil {
		return nil, false
	}
	p, ok := r.Lookup(id)
	return p, ok && p != nil
}
