package retrieval

import (
	"math"
	"slices"
)

// Judgments maps a product ID to its graded relevance for one query
// (0 irrelevant … 3 exact). A product that is not in the map is unjudged.
type Judgments map[string]int

// NDCG returns nDCG@k of a ranked list of product IDs: gain 2^rating − 1,
// discount log2(rank+1), unjudged products gain 0, and the ideal ranking is
// built from all judged products of the query (not only those retrieved).
// It returns 0 when no judged product has a positive rating.
func NDCG(ranked []string, judged Judgments, k int) float64 {
	if k <= 0 {
		return 0
	}
	var dcg float64
	for i, id := range ranked[:min(k, len(ranked))] {
		if r := judged[id]; r > 0 {
			dcg += gain(r) / math.Log2(float64(i+2))
		}
	}
	ratings := make([]int, 0, len(judged))
	for _, r := range judged {
		if r > 0 {
			ratings = append(ratings, r)
		}
	}
	slices.Sort(ratings)
	slices.Reverse(ratings)
	var ideal float64
	for i, r := range ratings[:min(k, len(ratings))] {
		ideal += gain(r) / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// Recall returns recall@k of a ranked list of product IDs: the share of the
// products judged at least minRating that appear in the first k. The second
// result is false when the query has no such product (recall undefined;
// leave the query out of the mean).
func Recall(ranked []string, judged Judgments, k, minRating int) (float64, bool) {
	var relevant, found int
	for _, r := range judged {
		if r >= minRating {
			relevant++
		}
	}
	if relevant == 0 {
		return 0, false
	}
	for _, id := range ranked[:min(max(k, 0), len(ranked))] {
		if r, ok := judged[id]; ok && r >= minRating {
			found++
		}
	}
	return float64(found) / float64(relevant), true
}

func gain(rating int) float64 { return math.Exp2(float64(rating)) - 1 }

// NDCGJudged returns nDCG'@k (Sakai's condensed list): NDCG after dropping
// unjudged products from the ranking, before the cut at k. It rewards a
// ranking for the judged products it orders well and is blind to unjudged
// ones, which matters when judgments were pooled from another engine.
func NDCGJudged(ranked []string, judged Judgments, k int) float64 {
	condensed := make([]string, 0, min(len(ranked), k))
	for _, id := range ranked {
		if len(condensed) == k {
			break
		}
		if _, ok := judged[id]; ok {
			condensed = append(condensed, id)
		}
	}
	return NDCG(condensed, judged, k)
}

// Precision returns P@k: the share of the first k ranks (k, not the number
// of results, is the denominator) holding a product judged at least
// minRating; unjudged products count as not relevant.
func Precision(ranked []string, judged Judgments, k, minRating int) float64 {
	if k <= 0 {
		return 0
	}
	var found int
	for _, id := range ranked[:min(k, len(ranked))] {
		if r, ok := judged[id]; ok && r >= minRating {
			found++
		}
	}
	return float64(found) / float64(k)
}
