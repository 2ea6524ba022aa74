package retrieval

import (
	"fmt"
	"math"
)

// Config selects and tunes an Index backend.
type Config struct {
	// Backend is "embedded" (the default when empty): the in-process BM25
	// index, hybrid with HNSW when Encoder is set; or "qdrant": vectors in
	// Qdrant at QdrantAddr, BM25 in process, fused in Go.
	Backend string
	// K1 is BM25's term-frequency saturation; 0 means DefaultK1.
	K1 float64
	// B is BM25's length normalisation (0 none … 1 full), used for every
	// field; 0 means DefaultB. A tiny value such as 1e-9 turns
	// normalisation practically off.
	B float64
	// Weights are the per-field weights. The zero value means
	// DefaultWeights; otherwise a field with weight 0 is not searched.
	Weights FieldWeights
	// Scoring is "bm25f" (the default when empty: per-field term
	// frequencies are length-normalised, weighted, summed, then saturated
	// once) or "sum" (a weighted sum of independent per-field BM25 scores,
	// each with its own field IDF).
	Scoring string

	// Encoder, when set, makes the embedded index hybrid: products are
	// embedded at Upsert (in batches of EncodeBatch) into an HNSW vector
	// index, and Search fuses BM25 with vector search (see Query.Mode).
	// The Qdrant backend requires it.
	Encoder Encoder
	// EncodeBatch is how many products Upsert hands the Encoder at once.
	// Default 256.
	EncodeBatch int
	// Vector tunes the HNSW index.
	Vector VectorConfig
	// VectorFile, when set, is where the embedded index keeps its vectors
	// (e.g. DATA_DIR/vectors.hnsw): loaded by New if it exists, written by
	// Close and SaveVectors. Upserting a product whose embedded text is
	// unchanged reuses its stored vector instead of encoding it again.
	VectorFile string
	// Candidates is how deep each half of a hybrid search goes before
	// fusion (at least the K asked for). Default DefaultCandidates.
	Candidates int
	// RRFK is reciprocal rank fusion's k: a hit at rank r (from 1) adds
	// 1/(RRFK + r). Default DefaultRRFK.
	RRFK float64
	// DenseWeight multiplies the vector list's reciprocal-rank scores in
	// hybrid fusion (the BM25 list weighs 1). 0 means 1; tune it on the
	// dev judgments with eval search --dense-weight once a bi-encoder is
	// trained.
	DenseWeight float64

	// QdrantAddr is the Qdrant gRPC address, host:port (port 6334 by
	// default), for Backend "qdrant".
	QdrantAddr string
	// QdrantCollection is the collection name. Default "products".
	QdrantCollection string
	// QdrantAPIKey authenticates to Qdrant when set.
	QdrantAPIKey string
	// QdrantTLS dials Qdrant over TLS.
	QdrantTLS bool
}

// FieldWeights weights the searched product fields. Attributes weighs the
// words of the text-valued attributes (not numbers or yes/no flags); a
// term found only there keeps the idf it has in the other fields. Parts
// weighs the derived terms of the other fields: the segments of model
// numbers ("2tb" → "2", "tb") and glued hyphen chains ("hp-61" → "hp61"),
// see Tokenize.
type FieldWeights struct {
	Title, Name, Description, Brand, Attributes, Parts float64
}

// Defaults, tuned on ../shared/data/relevance/icecat_judgments_dev.csv with
// `go test -run TuneDev -tune` (quality_test.go). The nDCG@10 surface is flat
// for K1 in 0.6–1.0 with B = 0.9; B = 0.75 and K1 >= 1.3 score lower.
const (
	DefaultK1 = 1.0
	DefaultB  = 0.9
)

// Hybrid fusion defaults, tuned with the committed bi-encoder on the dev
// judgments (BENCHMARKS.md, "Fusion"): each half goes 200 deep, reciprocal
// rank fusion with k = 10 (a small k trusts the top of each list), and the
// dense list weighs 0.3 of BM25's. Of the grid tried (k 10/30/60, weight
// 0.2–1, depth 100/200, and min-max score fusion) this keeps nDCG@10 near
// BM25F's while adding the most recall@100; since BM25F searches the
// attributes, 0.3 scores above 0.5 on both halves of the dev split, with the
// same recall.
const (
	DefaultCandidates  = 200
	DefaultRRFK        = 10.0
	DefaultDenseWeight = 0.3
)

// DefaultWeights are the field weights used when Config.Weights is zero.
// Name and Description at twice the Title's weight scored best on the dev
// judgments (Icecat titles are long, generated strings); Brand barely
// matters since titles repeat it; Parts between 0.25 and 1 scores the same
// on the dev queries, which have almost no model numbers, and 1 ranks
// model-number queries ("hp 61 ink") best. Attributes (the words of
// text-valued attributes, such as "Gaming" or "Full-size tablet") at 0.4
// lifted recall@100 from 0.919 to 0.952 for BM25F alone and from 0.942 to
// 0.959 hybrid, nDCG@10 about unchanged; 0.25–0.5 score alike on both
// halves of the dev split, 0.75 loses recall again (BENCHMARKS.md).
var DefaultWeights = FieldWeights{Title: 1, Name: 2, Description: 2, Brand: 1, Attributes: 0.4, Parts: 1}

// Scoring names accepted in Config.Scoring.
const (
	ScoringBM25F = "bm25f"
	ScoringSum   = "sum"
)

// New returns the Index selected by cfg.Backend.
func New(cfg Config) (Index, error) {
	switch cfg.Backend {
	case "", "embedded":
		e, err := NewEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		return e, nil
	case "qdrant":
		q, err := NewQdrant(cfg)
		if err != nil {
			return nil, err
		}
		return q, nil
	default:
		return nil, fmt.Errorf("unknown index backend %q", cfg.Backend)
	}
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.K1 == 0 {
		cfg.K1 = DefaultK1
	}
	if cfg.B == 0 {
		cfg.B = DefaultB
	}
	if cfg.Weights == (FieldWeights{}) {
		cfg.Weights = DefaultWeights
	}
	if cfg.Scoring == "" {
		cfg.Scoring = ScoringBM25F
	}
	if cfg.EncodeBatch <= 0 {
		cfg.EncodeBatch = 256
	}
	if cfg.Candidates <= 0 {
		cfg.Candidates = DefaultCandidates
	}
	if cfg.RRFK == 0 {
		cfg.RRFK = DefaultRRFK
	}
	if cfg.DenseWeight == 0 {
		cfg.DenseWeight = DefaultDenseWeight
	}
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
	switch {
	case bad(cfg.K1):
		return cfg, fmt.Errorf("retrieval: K1 %v must be a finite number >= 0", cfg.K1)
	case bad(cfg.B) || cfg.B > 1:
		return cfg, fmt.Errorf("retrieval: B %v must be in [0, 1]", cfg.B)
	case bad(cfg.Weights.Title) || bad(cfg.Weights.Name) || bad(cfg.Weights.Description) || bad(cfg.Weights.Brand) || bad(cfg.Weights.Attributes) || bad(cfg.Weights.Parts):
		return cfg, fmt.Errorf("retrieval: field weights %+v must be finite and >= 0", cfg.Weights)
	case bad(cfg.RRFK):
		return cfg, fmt.Errorf("retrieval: RRFK %v must be a finite number >= 0", cfg.RRFK)
	case bad(cfg.DenseWeight):
		return cfg, fmt.Errorf("retrieval: DenseWeight %v must be a finite number >= 0", cfg.DenseWeight)
	case cfg.Scoring != ScoringBM25F && cfg.Scoring != ScoringSum:
		return cfg, fmt.Errorf("retrieval: unknown scoring %q (want %q or %q)", cfg.Scoring, ScoringBM25F, ScoringSum)
	}
	return cfg, nil
}
