package retrieval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/inference"
)

// Encoder turns text into L2-normalised embedding vectors of Dim()
// dimensions. Implementations are safe for concurrent use.
type Encoder interface {
	// EncodeQuery embeds a shopper's query.
	EncodeQuery(ctx context.Context, text string) ([]float32, error)
	// EncodeDocs embeds product texts (see ProductText), one vector each.
	EncodeDocs(ctx context.Context, texts []string) ([][]float32, error)
	// Dim is the vector dimension.
	Dim() int
}

// ProductText is the text a product is embedded from: brand, title, name
// and description joined by spaces (empty parts skipped). The training
// pipeline must build the bi-encoder's document side the same way.
func ProductText(p *catalog.Product) string {
	parts := make([]string, 0, 4)
	for _, s := range []string{p.Brand, p.Title, p.Name, p.Description} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// Pooling names accepted in a bi-encoder's config.json "pooling".
const (
	PoolingMean = "mean" // mean of the token vectors under the attention mask
	PoolingCLS  = "cls"  // the first ([CLS]) token's vector
)

// Output names of a bi-encoder export.
const (
	OutputLastHiddenState   = "last_hidden_state"  // [batch, seq, hidden], pooled here
	OutputSentenceEmbedding = "sentence_embedding" // [batch, hidden], used as is
)

// ONNXEncoderOptions tunes NewONNXEncoder. Zero values take the defaults
// named.
type ONNXEncoderOptions struct {
	// Sessions is the number of ONNX Runtime sessions (batches that run at
	// once). Default GOMAXPROCS.
	Sessions int
	// BatchSize is how many texts EncodeDocs runs per ONNX call. Default 32.
	BatchSize int
	// MaxLength caps tokens per text. Default config.json max_length, else
	// the tokenizer's model_max_length, else 512; never above
	// max_position_embeddings.
	MaxLength int
	// ModelFile inside the directory. Default "model.onnx".
	ModelFile string
}

// biEncoderConfig is the part of config.json the encoder reads.
type biEncoderConfig struct {
	Pooling     string `json:"pooling"`
	MaxLength   int    `json:"max_length"`
	MaxPosition int    `json:"max_position_embeddings"`
	HiddenSize  int    `json:"hidden_size"`
	QueryPrefix string `json:"query_prefix"`
	DocPrefix   string `json:"doc_prefix"`
}

// ONNXEncoder is a BERT-family bi-encoder exported to ONNX with Hugging
// Face names: inputs input_ids, attention_mask (and optional
// token_type_ids); output sentence_embedding [batch, hidden] used as is,
// else last_hidden_state [batch, seq, hidden] pooled as config.json
// "pooling" says ("mean" over the attention mask, the default, or "cls").
// Vectors are L2-normalised. It needs inference.Init to have loaded ONNX
// Runtime; it reuses inference's WordPiece tokenizer.
//
// inference.Model cannot serve here: it accepts only a 2-D logits output
// and requires id2label, so the encoder keeps its own session pool.
type ONNXEncoder struct {
	tok      *inference.Tokenizer
	cfg      biEncoderConfig
	maxLen   int
	batch    int
	dim      int
	output   string
	pooled   bool // output is already [batch, hidden]
	hasTypes bool
	pool     chan *ort.DynamicAdvancedSession
	sessions []*ort.DynamicAdvancedSession
	closed   atomic.Bool
}

var _ Encoder = (*ONNXEncoder)(nil)

// NewONNXEncoder loads dir/config.json, dir/vocab.txt
// (+ tokenizer_config.json) and dir/model.onnx.
func NewONNXEncoder(dir string, opts ONNXEncoderOptions) (*ONNXEncoder, error) {
	if !ort.IsInitialized() {
		return nil, fmt.Errorf("%w: inference.Init was not called", inference.ErrNoRuntime)
	}
	tok, err := inference.LoadTokenizer(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("retrieval: encoder config: %w", err)
	}
	var cfg biEncoderConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("retrieval: %s/config.json: %w", dir, err)
	}
	switch cfg.Pooling {
	case "":
		cfg.Pooling = PoolingMean
	case PoolingMean, PoolingCLS:
	default:
		return nil, fmt.Errorf("retrieval: %s/config.json: unknown pooling %q (want %q or %q)", dir, cfg.Pooling, PoolingMean, PoolingCLS)
	}
	e := &ONNXEncoder{tok: tok, cfg: cfg, batch: opts.BatchSize}
	if e.batch <= 0 {
		e.batch = 32
	}
	e.maxLen = opts.MaxLength
	if e.maxLen <= 0 {
		e.maxLen = cfg.MaxLength
	}
	if e.maxLen <= 0 {
		e.maxLen = tok.ModelMaxLength()
	}
	if e.maxLen <= 0 {
		e.maxLen = 512
	}
	if cfg.MaxPosition > 0 && e.maxLen > cfg.MaxPosition {
		e.maxLen = cfg.MaxPosition
	}
	file := opts.ModelFile
	if file == "" {
		file = "model.onnx"
	}
	path := filepath.Join(dir, file)
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("retrieval: %s: %w", path, err)
	}
	inputs := []string{inference.InputIDs, inference.AttentionMask}
	for _, in := range ins {
		switch in.Name {
		case inference.InputIDs, inference.AttentionMask:
		case inference.TokenTypeIDs:
			e.hasTypes = true
		default:
			return nil, fmt.Errorf("retrieval: %s: unexpected input %q", path, in.Name)
		}
	}
	if e.hasTypes {
		inputs = append(inputs, inference.TokenTypeIDs)
	}
	var out *ort.InputOutputInfo
	for _, want := range []string{OutputSentenceEmbedding, OutputLastHiddenState} {
		for i := range outs {
			if out == nil && outs[i].Name == want {
				out = &outs[i]
			}
		}
	}
	if out == nil {
		return nil, fmt.Errorf("retrieval: %s: no %s or %s output (has %v)", path, OutputSentenceEmbedding, OutputLastHiddenState, outputNames(outs))
	}
	e.output = out.Name
	e.pooled = out.Name == OutputSentenceEmbedding
	wantDims := 3
	if e.pooled {
		wantDims = 2
	}
	if out.DataType != ort.TensorElementDataTypeFloat || len(out.Dimensions) != wantDims {
		return nil, fmt.Errorf("retrieval: %s: output %s is %v %v, want float32 with %d dimensions", path, out.Name, out.DataType, out.Dimensions, wantDims)
	}
	e.dim = int(out.Dimensions[wantDims-1])
	if e.dim <= 0 {
		e.dim = cfg.HiddenSize
	}
	n := opts.Sessions
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("retrieval: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("retrieval: session options: %w", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("retrieval: session options: %w", err)
	}
	e.pool = make(chan *ort.DynamicAdvancedSession, n)
	for range n {
		s, err := ort.NewDynamicAdvancedSession(path, inputs, []string{e.output}, so)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("retrieval: %s: %w", path, err)
		}
		e.sessions = append(e.sessions, s)
		e.pool <- s
	}
	if e.dim <= 0 {
		// Dynamic hidden size: ask the model once.
		v, err := e.EncodeQuery(context.Background(), "dimension probe")
		if err != nil {
			e.Close()
			return nil, err
		}
		e.dim = len(v)
	}
	return e, nil
}

func outputNames(infos []ort.InputOutputInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

// Dim is the embedding size.
func (e *ONNXEncoder) Dim() int { return e.dim }

// Pooling is the pooling in use ("mean" or "cls"; ignored when the model
// outputs sentence_embedding).
func (e *ONNXEncoder) Pooling() string { return e.cfg.Pooling }

// EncodeQuery embeds one query (with config.json's query_prefix, if any).
func (e *ONNXEncoder) EncodeQuery(ctx context.Context, text string) ([]float32, error) {
	out, err := e.run(ctx, []inference.Encoding{e.tok.Encode(e.cfg.QueryPrefix+text, e.maxLen)})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EncodeDocs embeds texts in batches of BatchSize (with config.json's
// doc_prefix, if any), running batches on all sessions at once. Texts are
// sorted by length inside the call so each batch pads little; results come
// back in input order.
func (e *ONNXEncoder) EncodeDocs(ctx context.Context, texts []string) ([][]float32, error) {
	encs := make([]inference.Encoding, len(texts))
	order := make([]int, len(texts))
	for i, t := range texts {
		encs[i] = e.tok.Encode(e.cfg.DocPrefix+t, e.maxLen)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return encs[a].Len() - encs[b].Len() })
	res := make([][]float32, len(texts))
	// Batches run on up to Sessions goroutines, one session each.
	starts := make(chan int)
	errs := make(chan error, len(e.sessions))
	var wg sync.WaitGroup
	for range min(len(e.sessions), (len(order)+e.batch-1)/e.batch) {
		wg.Go(func() {
			batch := make([]inference.Encoding, 0, e.batch)
			for start := range starts {
				batch = batch[:0]
				idx := order[start:min(start+e.batch, len(order))]
				for _, i := range idx {
					batch = append(batch, encs[i])
				}
				out, err := e.run(ctx, batch)
				if err != nil {
					errs <- err
					for range starts { // drain
					}
					return
				}
				for j, i := range idx {
					res[i] = out[j]
				}
			}
		})
	}
	for start := 0; start < len(order); start += e.batch {
		starts <- start
	}
	close(starts)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return res, nil
}

// run pads a batch to its longest sequence, runs it on a free session and
// pools and normalises each row.
func (e *ONNXEncoder) run(ctx context.Context, encs []inference.Encoding) ([][]float32, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	var s *ort.DynamicAdvancedSession
	select {
	case s = <-e.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { e.pool <- s }()
	b, l := len(encs), 0
	for _, en := range encs {
		l = max(l, en.Len())
	}
	if l == 0 {
		return nil, errors.New("retrieval: empty encoding")
	}
	ids := make([]int64, b*l)
	msk := make([]int64, b*l)
	typ := make([]int64, b*l)
	for i, en := range encs {
		copy(ids[i*l:], en.IDs)
		copy(msk[i*l:], en.Mask)
		copy(typ[i*l:], en.TypeIDs)
		for j := i*l + en.Len(); j < (i+1)*l; j++ {
			ids[j] = e.tok.PadID()
		}
	}
	shape := ort.NewShape(int64(b), int64(l))
	var vals []ort.Value
	defer func() {
		for _, v := range vals {
			v.Destroy()
		}
	}()
	bufs := [][]int64{ids, msk}
	if e.hasTypes {
		bufs = append(bufs, typ)
	}
	for _, buf := range bufs {
		t, err := ort.NewTensor(shape, buf)
		if err != nil {
			return nil, fmt.Errorf("retrieval: input tensor: %w", err)
		}
		vals = append(vals, t)
	}
	outs := []ort.Value{nil}
	if err := s.Run(vals, outs); err != nil {
		return nil, fmt.Errorf("retrieval: encoder run: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("retrieval: encoder output is %T, want float32 tensor", outs[0])
	}
	data, shp := t.GetData(), t.GetShape()
	h := int(shp[len(shp)-1])
	if e.dim > 0 && h != e.dim {
		return nil, fmt.Errorf("retrieval: encoder output has %d dimensions, want %d", h, e.dim)
	}
	res := make([][]float32, b)
	flat := make([]float32, b*h)
	for i := range b {
		v := flat[i*h : (i+1)*h : (i+1)*h]
		switch {
		case e.pooled:
			copy(v, data[i*h:(i+1)*h])
		case e.cfg.Pooling == PoolingCLS:
			copy(v, data[i*l*h:i*l*h+h])
		default:
			var n float32
			for j := range l {
				if msk[i*l+j] == 0 {
					continue
				}
				n++
				row := data[(i*l+j)*h : (i*l+j+1)*h]
				for d, x := range row {
					v[d] += x
				}
			}
			if n > 0 {
				for d := range v {
					v[d] /= n
				}
			}
		}
		l2normalize(v)
		res[i] = v
	}
	return res, nil
}

// l2normalize scales v to unit length in place (a zero vector stays zero).
func l2normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// Close releases the sessions; later calls fail with ErrClosed.
func (e *ONNXEncoder) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	var errs []error
	for range e.sessions {
		s := <-e.pool
		if err := s.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
