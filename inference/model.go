package inference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"
)

// Hugging Face input and output names.
const (
	InputIDs      = "input_ids"
	AttentionMask = "attention_mask"
	TokenTypeIDs  = "token_type_ids"
	OutputLogits  = "logits"
)

// ModelOptions tunes LoadModel. Zero values take the defaults named.
type ModelOptions struct {
	// Sessions is the pool size: the number of batches that run at once.
	// Default runtime.GOMAXPROCS(0): the cores this process may use (Go
	// 1.25+ follows the cgroup CPU limit).
	Sessions int
	// IntraOpThreads per session. Default RuntimeConfig.IntraOpThreads, else 1.
	IntraOpThreads int
	// MaxLength caps the tokens per sequence. Default config.json max_length,
	// else tokenizer model_max_length, else max_position_embeddings, else 512;
	// never above max_position_embeddings.
	MaxLength int
	// ModelFile inside the directory. Default "model.onnx".
	ModelFile string
	// Device is "cpu" or "cuda". Default RuntimeConfig.Device, else "cpu".
	Device string
}

// ModelConfig is what LoadModel read from config.json.
type ModelConfig struct {
	Labels       []string // index = class id, from id2label
	MaxLength    int      // effective tokens per sequence
	OOSLabel     string   // "oos_label", "" if absent
	OOSThreshold float64  // "oos_threshold", valid if HasThreshold
	HasThreshold bool
}

// Model is a BERT-family sequence classifier exported to ONNX with Hugging
// Face names (input_ids, attention_mask, optional token_type_ids -> logits),
// its tokenizer, and a pool of ONNX Runtime sessions.
//
// A Model is safe for concurrent use. Logits blocks until a session is free
// (or ctx ends); for many small concurrent requests use a Batcher in front.
type Model struct {
	tok       *Tokenizer
	cfg       ModelConfig
	hasTypes  bool
	inputs    []string
	numLabels int
	pool      chan *session
	sessions  []*session
	closed    atomic.Bool
	// testHook, if set, runs before each batch with its size (tests use it
	// to hold sessions busy deterministically).
	testHook func(batch int)
}

type session struct {
	s   *ort.DynamicAdvancedSession
	ids []int64
	typ []int64
	msk []int64
	out []float32
}

// hfConfig is the part of a Hugging Face config.json that inference reads;
// max_length, oos_label and oos_threshold are this project's additions.
type hfConfig struct {
	ID2Label     map[string]string `json:"id2label"`
	Label2ID     map[string]int    `json:"label2id"`
	MaxLength    int               `json:"max_length"`
	MaxPosition  int               `json:"max_position_embeddings"`
	OOSLabel     string            `json:"oos_label"`
	OOSThreshold *float64          `json:"oos_threshold"`
}

// LoadModel loads dir/config.json, dir/vocab.txt (+ tokenizer_config.json)
// and dir/model.onnx into a pool of sessions. Init must have succeeded.
func LoadModel(dir string, opts ModelOptions) (*Model, error) {
	rcfg, ok := runtimeConfig()
	if !ok {
		return nil, fmt.Errorf("%w: inference.Init was not called", ErrNoRuntime)
	}
	tok, err := LoadTokenizer(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := readModelConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if opts.MaxLength > 0 {
		cfg.MaxLength = opts.MaxLength
	}
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = tok.ModelMaxLength()
	}
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = 512
	}
	if p := cfg.maxPosition; p > 0 && cfg.MaxLength > p {
		cfg.MaxLength = p
	}
	file := opts.ModelFile
	if file == "" {
		file = "model.onnx"
	}
	path := filepath.Join(dir, file)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("inference: load model: %w", err)
	}
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("inference: %s: %w", path, err)
	}
	m := &Model{tok: tok, cfg: cfg.ModelConfig}
	seen := map[string]bool{}
	for _, in := range ins {
		switch in.Name {
		case InputIDs, AttentionMask, TokenTypeIDs:
			if in.DataType != ort.TensorElementDataTypeInt64 {
				return nil, fmt.Errorf("inference: %s: input %s is %v, want int64", path, in.Name, in.DataType)
			}
			seen[in.Name] = true
		default:
			return nil, fmt.Errorf("inference: %s: unexpected input %q (want %s, %s, optional %s)", path, in.Name, InputIDs, AttentionMask, TokenTypeIDs)
		}
	}
	if !seen[InputIDs] || !seen[AttentionMask] {
		return nil, fmt.Errorf("inference: %s: needs inputs %s and %s, has %v", path, InputIDs, AttentionMask, names(ins))
	}
	m.hasTypes = seen[TokenTypeIDs]
	m.inputs = []string{InputIDs, AttentionMask}
	if m.hasTypes {
		m.inputs = append(m.inputs, TokenTypeIDs)
	}
	var out *ort.InputOutputInfo
	for i := range outs {
		if outs[i].Name == OutputLogits {
			out = &outs[i]
		}
	}
	if out == nil && len(outs) == 1 {
		out = &outs[0]
	}
	if out == nil {
		return nil, fmt.Errorf("inference: %s: no %q output (has %v)", path, OutputLogits, names(outs))
	}
	if out.DataType != ort.TensorElementDataTypeFloat || len(out.Dimensions) != 2 {
		return nil, fmt.Errorf("inference: %s: output %s is %v %v, want float32 [batch, labels]", path, out.Name, out.DataType, out.Dimensions)
	}
	m.numLabels = len(cfg.Labels)
	if d := out.Dimensions[1]; d > 0 && int(d) != m.numLabels {
		return nil, fmt.Errorf("inference: %s: %d logits but config.json id2label has %d labels", path, d, m.numLabels)
	}

	n := opts.Sessions
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	threads := opts.IntraOpThreads
	if threads <= 0 {
		threads = rcfg.IntraOpThreads
	}
	if threads <= 0 {
		threads = 1
	}
	device := opts.Device
	if device == "" {
		device = rcfg.Device
	}
	if device != "" && device != "cpu" && device != "cuda" {
		return nil, fmt.Errorf("inference: unknown device %q (want cpu or cuda)", device)
	}
	so, err := newSessionOptions(threads, device)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	m.pool = make(chan *session, n)
	for range n {
		s, err := ort.NewDynamicAdvancedSession(path, m.inputs, []string{out.Name}, so)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("inference: %s: %w", path, err)
		}
		ss := &session{s: s}
		m.sessions = append(m.sessions, ss)
		m.pool <- ss
	}
	return m, nil
}

func newSessionOptions(threads int, device string) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("inference: session options: %w", err)
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		so.Destroy()
		return nil, err
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return fail(fmt.Errorf("inference: intra-op threads: %w", err))
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return fail(fmt.Errorf("inference: inter-op threads: %w", err))
	}
	if threads > 1 {
		// Idle intra-op workers spin by default, stealing the cores other
		// sessions need; the pool already keeps the cores busy.
		if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return fail(fmt.Errorf("inference: session config: %w", err))
		}
	}
	if device == "cuda" {
		co, err := ort.NewCUDAProviderOptions()
		if err == nil {
			err = co.Update(map[string]string{"device_id": "0"})
			if err == nil {
				err = so.AppendExecutionProviderCUDA(co)
			}
			co.Destroy()
		}
		if err != nil {
			return fail(fmt.Errorf("inference: CUDA provider unavailable (%v): use --device cpu, or point --ort-lib/%s at a GPU build of onnxruntime with its CUDA provider library beside it", err, EnvORTLib))
		}
	}
	return so, nil
}

type modelConfig struct {
	ModelConfig
	maxPosition int
}

func readModelConfig(path string) (modelConfig, error) {
	var c modelConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("inference: load model config: %w", err)
	}
	var h hfConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return c, fmt.Errorf("inference: %s: %w", path, err)
	}
	if len(h.ID2Label) == 0 {
		return c, fmt.Errorf("inference: %s: no id2label", path)
	}
	ids := make([]int, 0, len(h.ID2Label))
	byID := make(map[int]string, len(h.ID2Label))
	for k, v := range h.ID2Label {
		id, err := strconv.Atoi(k)
		if err != nil {
			return c, fmt.Errorf("inference: %s: id2label key %q is not an integer", path, k)
		}
		ids = append(ids, id)
		byID[id] = v
	}
	sort.Ints(ids)
	seen := map[string]bool{}
	for i, id := range ids {
		if id != i {
			return c, fmt.Errorf("inference: %s: id2label ids must be 0..%d, missing %d", path, len(ids)-1, i)
		}
		l := byID[id]
		if seen[l] {
			return c, fmt.Errorf("inference: %s: label %q appears twice in id2label", path, l)
		}
		seen[l] = true
		if want, ok := h.Label2ID[l]; len(h.Label2ID) > 0 && (!ok || want != id) {
			return c, fmt.Errorf("inference: %s: label2id disagrees with id2label for %q", path, l)
		}
		c.Labels = append(c.Labels, l)
	}
	c.MaxLength = h.MaxLength
	c.maxPosition = h.MaxPosition
	c.OOSLabel = h.OOSLabel
	if h.OOSThreshold != nil {
		c.OOSThreshold, c.HasThreshold = *h.OOSThreshold, true
	}
	if c.OOSLabel != "" && !seen[c.OOSLabel] {
		return c, fmt.Errorf("inference: %s: oos_label %q is not in id2label", path, c.OOSLabel)
	}
	return c, nil
}

func names(infos []ort.InputOutputInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// Config returns what config.json says (labels, max length, OOS fields).
func (m *Model) Config() ModelConfig { return m.cfg }

// Sessions is the pool size.
func (m *Model) Sessions() int { return len(m.sessions) }

// HasTokenTypes reports whether the ONNX graph takes token_type_ids.
func (m *Model) HasTokenTypes() bool { return m.hasTypes }

// Encode tokenizes text with the model's maximum length.
func (m *Model) Encode(text string) Encoding { return m.tok.Encode(text, m.cfg.MaxLength) }

// Logits runs one batch: it waits for a free session (or ctx), pads every
// encoding to the longest in the batch (pad id, mask 0, type 0), runs the
// graph and returns one row of len(Labels) logits per encoding.
func (m *Model) Logits(ctx context.Context, encs []Encoding) ([][]float32, error) {
	if len(encs) == 0 {
		return nil, nil
	}
	if m.closed.Load() {
		return nil, ErrClosed
	}
	var s *session
	select {
	case s = <-m.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { m.pool <- s }()
	return m.run(s, encs)
}

func (m *Model) run(s *session, encs []Encoding) ([][]float32, error) {
	if m.testHook != nil {
		m.testHook(len(encs))
	}
	b, l := len(encs), 0
	for _, e := range encs {
		if len(e.IDs) != len(e.Mask) || len(e.IDs) != len(e.TypeIDs) {
			return nil, errors.New("inference: encoding slices differ in length")
		}
		l = max(l, len(e.IDs))
	}
	if l > m.cfg.MaxLength {
		return nil, fmt.Errorf("inference: encoding of %d tokens exceeds the model's max length %d", l, m.cfg.MaxLength)
	}
	if l == 0 {
		return nil, errors.New("inference: empty encoding")
	}
	n := b * l
	s.ids = grow(s.ids, n)
	s.msk = grow(s.msk, n)
	s.typ = grow(s.typ, n)
	for i, e := range encs {
		row := i * l
		copy(s.ids[row:], e.IDs)
		copy(s.msk[row:], e.Mask)
		copy(s.typ[row:], e.TypeIDs)
		for j := row + len(e.IDs); j < row+l; j++ {
			s.ids[j], s.msk[j], s.typ[j] = m.tok.pad, 0, 0
		}
	}
	shape := ort.NewShape(int64(b), int64(l))
	vals := make([]ort.Value, 0, 3)
	defer func() {
		for _, v := range vals {
			v.Destroy()
		}
	}()
	for _, buf := range [][]int64{s.ids, s.msk, s.typ}[:len(m.inputs)] {
		t, err := ort.NewTensor(shape, buf[:n])
		if err != nil {
			return nil, fmt.Errorf("inference: input tensor: %w", err)
		}
		vals = append(vals, t)
	}
	s.out = growF(s.out, b*m.numLabels)
	out, err := ort.NewTensor(ort.NewShape(int64(b), int64(m.numLabels)), s.out[:b*m.numLabels])
	if err != nil {
		return nil, fmt.Errorf("inference: output tensor: %w", err)
	}
	defer out.Destroy()
	if err := s.s.Run(vals, []ort.Value{out}); err != nil {
		return nil, fmt.Errorf("inference: run: %w", err)
	}
	res := make([][]float32, b)
	flat := make([]float32, b*m.numLabels)
	copy(flat, s.out)
	for i := range res {
		res[i] = flat[i*m.numLabels : (i+1)*m.numLabels : (i+1)*m.numLabels]
	}
	return res, nil
}

func grow(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	return s[:n]
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Close waits for running batches to finish, then releases the sessions.
// Later Logits calls return ErrClosed. Close a Batcher before its Model.
func (m *Model) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	var errs []error
	for range m.sessions {
		s := <-m.pool
		errs = append(errs, s.s.Destroy())
	}
	return errors.Join(errs...)
}
