package ranking

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/shopassist/shopassist/inference"
)

// ONNX is the in-process cross-encoder: an inference.Model with one logit
// per (query, text) pair, tokenized [CLS] query [SEP] text [SEP] with token
// types 0/1 and longest-first truncation to the model's max length.
// It is safe for concurrent use.
type ONNX struct {
	m      *inference.Model
	tok    *inference.Tokenizer
	maxLen int
	batch  int
	device string
	file   string
	// slots holds one token per Score call in flight (running or waiting
	// for a session); a full channel means ErrBusy.
	slots chan struct{}
	// testHook, if set, runs once a Score call holds its slot (tests use it
	// to keep calls in flight deterministically).
	testHook func()
}

var _ Reranker = (*ONNX)(nil)

// NewONNX loads cfg.ModelFile of cfg.ModelDir (see Config.ModelFile for
// the default). With cfg.Device DeviceCUDA it first tries ONNX Runtime's
// CUDA provider; if that load fails and a CPU load succeeds, it logs one
// warning naming the CUDA error and runs on CPU (ONNX.Device and
// ONNX.ModelFile say what runs).
func NewONNX(cfg Config) (*ONNX, error) {
	if cfg.ModelDir == "" {
		return nil, fmt.Errorf("ranking: onnx reranker needs a model directory")
	}
	switch cfg.Device {
	case "", DeviceCPU, DeviceCUDA:
	default:
		return nil, fmt.Errorf("ranking: unknown rerank device %q (want cpu or cuda)", cfg.Device)
	}
	if cfg.BatchSize < 0 || cfg.MaxInflight < 0 || cfg.Sessions < 0 || cfg.IntraOpThreads < 0 {
		return nil, fmt.Errorf("ranking: onnx reranker sizes must not be negative")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// The int8 graph only on CPU: ORT's dynamic int8 ops are CPU kernels.
	cpuFile, gpuFile := cfg.ModelFile, cfg.ModelFile
	if cfg.ModelFile == "" {
		cpuFile, gpuFile = ModelFileFloat, ModelFileFloat
		if _, err := os.Stat(filepath.Join(cfg.ModelDir, ModelFileInt8)); err == nil {
			cpuFile = ModelFileInt8
		}
	}
	opts := inference.ModelOptions{Sessions: cfg.Sessions, IntraOpThreads: cfg.IntraOpThreads, Device: DeviceCPU, ModelFile: cpuFile}
	device, file := DeviceCPU, cpuFile
	var m *inference.Model
	if cfg.Device == DeviceCUDA {
		gopts := opts
		gopts.Device, gopts.ModelFile = DeviceCUDA, gpuFile
		if gopts.Sessions == 0 {
			gopts.Sessions = DefaultCUDASessions
		}
		gm, gerr := inference.LoadModel(cfg.ModelDir, gopts)
		if gerr == nil {
			m, device, file = gm, DeviceCUDA, gpuFile
		} else {
			cm, cerr := inference.LoadModel(cfg.ModelDir, opts)
			if cerr != nil {
				return nil, fmt.Errorf("ranking: load reranker %s: %w", cfg.ModelDir, cerr)
			}
			log.Warn("ranking: CUDA requested but unavailable, reranking on CPU", "model", cfg.ModelDir, "file", cpuFile, "err", gerr)
			m = cm
		}
	} else {
		cm, err := inference.LoadModel(cfg.ModelDir, opts)
		if err != nil {
			return nil, fmt.Errorf("ranking: load reranker %s: %w", cfg.ModelDir, err)
		}
		m = cm
	}
	if n := len(m.Config().Labels); n != 1 {
		m.Close()
		return nil, fmt.Errorf("ranking: %s: a cross-encoder has one logit, config.json id2label has %d labels", cfg.ModelDir, n)
	}
	o := &ONNX{m: m, tok: m.Tokenizer(), maxLen: m.Config().MaxLength, batch: cfg.BatchSize, device: device, file: file}
	if o.batch == 0 {
		o.batch = DefaultBatchSize
		if device == DeviceCUDA {
			o.batch = DefaultCUDABatchSize
		}
	}
	inflight := cfg.MaxInflight
	if inflight == 0 {
		inflight = 4 * m.Sessions()
	}
	o.slots = make(chan struct{}, inflight)
	return o, nil
}

// Device is the device the model runs on: DeviceCPU or DeviceCUDA.
func (o *ONNX) Device() string { return o.device }

// ModelFile is the graph file loaded from the model directory, such as
// ModelFileInt8.
func (o *ONNX) ModelFile() string { return o.file }

// MaxLength is the token budget of one pair, specials included.
func (o *ONNX) MaxLength() int { return o.maxLen }

// Score tokenizes each pair, sorts the pairs by length so that a batch pads
// little, and runs them in batches of at most Config.BatchSize split
// evenly, on up to one goroutine per pool session (the caller's included).
// It fails at once with an error wrapping inference.ErrBusy when
// Config.MaxInflight calls are already in flight, and returns ctx.Err() if
// ctx ends while waiting for a session.
func (o *ONNX) Score(ctx context.Context, query string, texts []string) ([]float32, error) {
	if len(texts) == 0 {
		return []float32{}, nil
	}
	select {
	case o.slots <- struct{}{}:
	default:
		return nil, fmt.Errorf("ranking: onnx reranker: %w: %d calls in flight", inference.ErrBusy, cap(o.slots))
	}
	defer func() { <-o.slots }()
	if o.testHook != nil {
		o.testHook()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	encs := make([]inference.Encoding, len(texts))
	order := make([]int, len(texts))
	for i, t := range texts {
		encs[i] = o.tok.EncodePair(query, t, o.maxLen)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return encs[a].Len() - encs[b].Len() })
	sorted := make([]inference.Encoding, len(encs))
	for i, j := range order {
		sorted[i] = encs[j]
	}
	n := len(sorted)
	nb := (n + o.batch - 1) / o.batch
	size := (n + nb - 1) / nb // even batches of at most o.batch
	nb = (n + size - 1) / size
	scores := make([]float32, n)
	// Up to one worker per session (the caller is one) takes the next
	// batch until none is left or a batch fails.
	var next atomic.Int64
	work := func() error {
		for {
			lo := int(next.Add(1)-1) * size
			if lo >= n {
				return nil
			}
			hi := min(lo+size, n)
			rows, err := o.m.Logits(ctx, sorted[lo:hi])
			if err != nil {
				return err
			}
			for k, row := range rows {
				scores[order[lo+k]] = row[0]
			}
		}
	}
	workers := min(nb, o.m.Sessions())
	errs := make(chan error, workers)
	for range workers - 1 {
		go func() { errs <- work() }()
	}
	first := work()
	for range workers - 1 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ranking: onnx rerank: %w", first)
	}
	return scores, nil
}

// Close waits for running batches, then releases the model's sessions.
func (o *ONNX) Close() error { return o.m.Close() }
