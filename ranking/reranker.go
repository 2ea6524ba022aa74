package ranking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shopassist/shopassist/inference"
)

// Reranker scores (query, document) pairs with a cross-encoder.
// Implementations are safe for concurrent use.
type Reranker interface {
	// Score returns one relevance score per text, in the order of texts;
	// higher is more relevant. Scores are comparable within one call only
	// (raw logits for ONNX, whatever the server returns for Remote). It
	// returns an error wrapping inference.ErrBusy when the backend is
	// saturated, ErrUnavailable when a remote backend fails, or ctx.Err().
	Score(ctx context.Context, query string, texts []string) ([]float32, error)
	// Close releases the backend; Score must not be called afterwards.
	Close() error
}

// ErrUnavailable is wrapped by every Remote error that is not the caller's
// context ending: connection refused, timeout, non-2xx status, malformed or
// incomplete response.
var ErrUnavailable = errors.New("ranking: reranker unavailable")

// Reranker kinds accepted in Config.Kind.
const (
	KindONNX   = "onnx"   // in-process cross-encoder (NewONNX)
	KindRemote = "remote" // rerank server over HTTP (NewRemote)
)

// Devices accepted in Config.Device.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
)

// Model files an onnx ModelDir may hold (see Config.ModelFile).
const (
	// ModelFileFloat is the float32 export (training/).
	ModelFileFloat = "model.onnx"
	// ModelFileInt8 is ModelFileFloat with int8 weight MatMuls
	// (training/quantize.py): the CPU default when present.
	ModelFileInt8 = "model.int8.onnx"
)

// Defaults of Config.
const (
	DefaultBatchSize        = 8
	DefaultCUDABatchSize    = 64
	DefaultCUDASessions     = 2
	DefaultTimeout          = 300 * time.Millisecond
	DefaultMaxResponseBytes = 1 << 20
)

// Config selects and tunes a Reranker. Zero fields take the defaults named.
type Config struct {
	// Kind is KindONNX or KindRemote.
	Kind string

	// ModelDir (onnx) holds config.json (one label), vocab.txt,
	// tokenizer_config.json and model.onnx (input_ids, attention_mask,
	// token_type_ids -> logits [batch, 1]). inference.Init must have run.
	ModelDir string
	// ModelFile (onnx) is the graph inside ModelDir. Default: on CPU
	// ModelFileInt8 when ModelDir has one (about half the CPU time of the
	// float graph; see doc.go), else ModelFileFloat; on CUDA
	// ModelFileFloat (ORT's dynamic int8 ops are CPU kernels: under the
	// CUDA provider they would run on the CPU, with copies), and the CPU
	// default again if CUDA fails.
	ModelFile string
	// Device (onnx) is DeviceCPU (default) or DeviceCUDA. With DeviceCUDA,
	// a runtime without the CUDA provider logs one warning and runs on CPU
	// (see ONNX.Device).
	Device string
	// Sessions (onnx) is the session pool size; default GOMAXPROCS on CPU,
	// 2 on CUDA (each CUDA session holds its own GPU memory arena).
	Sessions int
	// IntraOpThreads (onnx) per session; default inference's (1).
	IntraOpThreads int
	// BatchSize (onnx) caps the pairs in one ONNX Runtime call. Default 8
	// on CPU: pairs are sorted by length first, so small batches pad
	// little (50 demo candidates for a hidden-128, 2-layer float stand-in
	// cost 23 ms of CPU in batches of 4–8, 27 ms in 32, 38 ms in one batch
	// of 50; with the int8 graph, batches of 13 and 25 cost 1.1× and 1.25×
	// the p50 of 8), and the 7 batches spread over the session pool. 64 on
	// CUDA.
	BatchSize int
	// MaxInflight (onnx) caps the Score calls running or waiting for a
	// session at once; one more fails at once with inference.ErrBusy.
	// Default 4 × Sessions (at 200 chat turns/s on 2 cores, 2 × shed the
	// cross-encoder on 2.2 % of searches in one run, 4 × on 0.7–3.8 % in
	// three; BENCHMARKS.md).
	MaxInflight int

	// URL (remote) receives POST {"query","texts"} and answers
	// [{"index","score"}] (the /rerank API of Hugging Face
	// text-embeddings-inference), e.g. http://gpu-box:8081/rerank.
	URL string
	// Token (remote), when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Timeout (remote) bounds one Score call. Default 300 ms.
	Timeout time.Duration
	// MaxResponseBytes (remote) caps the response body. Default 1 MiB.
	MaxResponseBytes int64
	// HTTPClient (remote) sends the requests; default a client of its own
	// keeping up to 64 idle connections to the server.
	HTTPClient *http.Client

	// Logger receives the CUDA fallback warning; default slog.Default().
	Logger *slog.Logger
}

// String prints the configuration with the token masked, for start-up logs.
func (c Config) String() string {
	switch c.Kind {
	case KindONNX:
		dev := c.Device
		if dev == "" {
			dev = DeviceCPU
		}
		file := c.ModelFile
		if file == "" {
			file = "default"
		}
		return fmt.Sprintf("ranking: reranker onnx model=%s file=%s device=%s sessions=%s batch=%s max-inflight=%s",
			c.ModelDir, file, dev, orDefault(c.Sessions), orDefault(c.BatchSize), orDefault(c.MaxInflight))
	case KindRemote:
		tok := ""
		if c.Token != "" {
			tok = " token=xxxxx"
		}
		t := c.Timeout
		if t == 0 {
			t = DefaultTimeout
		}
		return fmt.Sprintf("ranking: reranker remote url=%s timeout=%v%s", redactURL(c.URL), t, tok)
	default:
		return fmt.Sprintf("ranking: reranker %q", c.Kind)
	}
}

// New returns the Reranker selected by cfg.Kind.
func New(cfg Config) (Reranker, error) {
	switch cfg.Kind {
	case KindONNX:
		o, err := NewONNX(cfg)
		if err != nil {
			return nil, err
		}
		return o, nil
	case KindRemote:
		r, err := NewRemote(cfg)
		if err != nil {
			return nil, err
		}
		return r, nil
	default:
		return nil, fmt.Errorf("unknown reranker %q", cfg.Kind)
	}
}

// Reason classifies a reranker error for a metric label: "timeout"
// (a deadline, the remote client's included), "busy" (inference.ErrBusy),
// "unavailable" (ErrUnavailable), "canceled" (context.Canceled), "error"
// otherwise, "" for nil.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, inference.ErrBusy):
		return "busy"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "error"
	}
}

func orDefault(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	return u.Redacted()
}
