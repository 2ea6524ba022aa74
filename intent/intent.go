package intent

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/shopassist/shopassist/inference"
)

// DefaultOOSLabel is used when config.json has no oos_label.
const DefaultOOSLabel = "out_of_scope"

// Config tunes Load. Zero values keep the model's settings.
type Config struct {
	// Threshold overrides config.json oos_threshold: a best-class
	// probability below it is out of scope. Neither set: 0, never rejects.
	Threshold *float64
	// OOSLabel overrides config.json oos_label (default "out_of_scope").
	OOSLabel string
	// TopK is how many classes Result.Top lists (default 3; -1 all).
	TopK int
	// Model and Batch pass through to package inference.
	Model inference.ModelOptions
	Batch inference.BatcherConfig
}

// Scored is one class and its softmax probability.
type Scored struct {
	Label string  `json:"label"`
	Prob  float64 `json:"prob"`
}

// Result is one classification.
type Result struct {
	// Label is the intent, or the OOS label when out of scope.
	Label string `json:"label"`
	// Confidence is the best class's softmax probability (the raw max),
	// also when Label is the OOS label because it fell below the threshold.
	Confidence float64 `json:"confidence"`
	// Best is the best class before the threshold is applied.
	Best string `json:"best"`
	// OutOfScope reports Label == the OOS label.
	OutOfScope bool `json:"out_of_scope"`
	// Top lists the TopK classes by probability, highest first.
	Top []Scored `json:"top,omitempty"`
}

// Classifier is an intent model with its batcher. Safe for concurrent use.
type Classifier struct {
	model     *inference.Model
	batcher   *inference.Batcher
	labels    []string // model classes, index = class id
	all       []string // labels plus the OOS label if it is not a class
	oos       string
	threshold float64
	topK      int
}

// Load loads the model in dir (config.json, vocab.txt, model.onnx). It
// needs inference.Init to have succeeded.
func Load(dir string, cfg Config) (*Classifier, error) {
	m, err := inference.LoadModel(dir, cfg.Model)
	if err != nil {
		return nil, err
	}
	mc := m.Config()
	c := &Classifier{model: m, labels: mc.Labels, oos: DefaultOOSLabel, topK: 3}
	if mc.OOSLabel != "" {
		c.oos = mc.OOSLabel
	}
	if cfg.OOSLabel != "" {
		c.oos = cfg.OOSLabel
	}
	if mc.HasThreshold {
		c.threshold = mc.OOSThreshold
	}
	if cfg.Threshold != nil {
		c.threshold = *cfg.Threshold
	}
	if c.threshold < 0 || c.threshold > 1 || math.IsNaN(c.threshold) {
		m.Close()
		return nil, fmt.Errorf("intent: OOS threshold %v outside [0, 1]", c.threshold)
	}
	if cfg.TopK != 0 {
		c.topK = cfg.TopK
	}
	if c.topK < 0 || c.topK > len(c.labels) {
		c.topK = len(c.labels)
	}
	c.all = slices.Clone(c.labels)
	if !slices.Contains(c.all, c.oos) {
		c.all = append(c.all, c.oos)
	}
	c.batcher = inference.NewBatcher(m, cfg.Batch)
	return c, nil
}

// Labels is every label Classify can return: the model's classes, plus the
// OOS label when it is a threshold outcome rather than a class.
func (c *Classifier) Labels() []string { return slices.Clone(c.all) }

// OOSLabel is the out-of-scope label.
func (c *Classifier) OOSLabel() string { return c.oos }

// Threshold is the effective out-of-scope threshold.
func (c *Classifier) Threshold() float64 { return c.threshold }

// Model exposes the underlying model (for stats and tuning).
func (c *Classifier) Model() *inference.Model { return c.model }

// Batcher exposes the batcher (for stats).
func (c *Classifier) Batcher() *inference.Batcher { return c.batcher }

// Close stops the batcher and releases the sessions.
func (c *Classifier) Close() error {
	c.batcher.Close()
	return c.model.Close()
}

// Classify labels one utterance. Errors wrap inference.ErrBusy when the
// queue is full, or are ctx.Err().
func (c *Classifier) Classify(ctx context.Context, text string) (Result, error) {
	logits, err := c.batcher.Logits(ctx, c.model.Encode(text))
	if err != nil {
		return Result{}, fmt.Errorf("intent: %w", err)
	}
	return c.decide(logits), nil
}

// chunk is the batch size ClassifyBatch runs.
const chunk = 32

// ClassifyBatch labels many utterances outside the batcher's queue (for
// offline work such as Eval): it tokenizes them all, sorts them by length so
// that each chunk of 32 pads little, and runs the chunks on all sessions in
// parallel. Results are in the order of texts.
func (c *Classifier) ClassifyBatch(ctx context.Context, texts []string) ([]Result, error) {
	encs := make([]inference.Encoding, len(texts))
	order := make([]int, len(texts))
	for i, t := range texts {
		encs[i] = c.model.Encode(t)
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return encs[order[a]].Len() < encs[order[b]].Len() })
	out := make([]Result, len(texts))
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   error
		next    int
		workers = min(c.model.Sessions(), (len(texts)+chunk-1)/chunk)
	)
	for range workers {
		wg.Go(func() {
			batch := make([]inference.Encoding, 0, chunk)
			for {
				mu.Lock()
				start := next
				next += chunk
				mu.Unlock()
				if start >= len(texts) || ctx.Err() != nil {
					return
				}
				idx := order[start:min(start+chunk, len(texts))]
				batch = batch[:0]
				for _, i := range idx {
					batch = append(batch, encs[i])
				}
				logits, err := c.model.Logits(ctx, batch)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				for k, l := range logits {
					out[idx[k]] = c.decide(l)
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = parent.Err()
	}
	if first != nil {
		return nil, fmt.Errorf("intent: %w", first)
	}
	return out, nil
}

func (c *Classifier) decide(logits []float32) Result {
	probs := softmax(logits)
	best := 0
	for i, p := range probs {
		if p > probs[best] {
			best = i
		}
	}
	r := Result{Label: c.labels[best], Best: c.labels[best], Confidence: probs[best]}
	if r.Label == c.oos || probs[best] < c.threshold {
		r.Label, r.OutOfScope = c.oos, true
	}
	if c.topK > 0 {
		idx := make([]int, len(probs))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
		r.Top = make([]Scored, c.topK)
		for i := range r.Top {
			r.Top[i] = Scored{Label: c.labels[idx[i]], Prob: probs[idx[i]]}
		}
	}
	return r
}

// softmax in float64, shifted by the max for stability.
func softmax(logits []float32) []float64 {
	out := make([]float64, len(logits))
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, float64(l))
	}
	sum := 0.0
	for i, l := range logits {
		out[i] = math.Exp(float64(l) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
