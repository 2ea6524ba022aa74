package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultFirstTokenTimeout = 8 * time.Second
	DefaultTimeout           = 30 * time.Second
	DefaultMaxTokens         = 400
	DefaultTemperature       = 0.2
)

// Sentinel errors; Stream's errors wrap them with %w.
var (
	// ErrTimeout: no token within Config.FirstTokenTimeout, or the answer was
	// not complete within Config.Timeout.
	ErrTimeout = errors.New("llm: timeout")
	// ErrUngrounded: the answer names a product, id or price that is not among
	// those it was given (see CheckGrounded). Stream returns the full text
	// with it; the caller answers with its template instead.
	ErrUngrounded = errors.New("llm: answer not grounded")
	// ErrUnavailable: the endpoint could not be reached, answered with an
	// HTTP error status, broke the stream, or gave an empty answer.
	ErrUnavailable = errors.New("llm: endpoint unavailable")
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// BaseURL of an OpenAI-compatible API, up to and including the version
	// path, e.g. "http://localhost:8000/v1" (vLLM), "http://localhost:11434/v1"
	// (Ollama), "https://api.openai.com/v1". Required.
	BaseURL string
	// Model name as the server knows it. Required.
	Model string
	// APIKey, sent as "Authorization: Bearer <APIKey>" when non-empty (local
	// servers usually need none). Never logged nor put in errors.
	APIKey string
	// FirstTokenTimeout bounds the wait for the first content token,
	// connecting included (default 8 s); Timeout bounds the whole answer
	// (default 30 s). The caller's context may end the call sooner.
	FirstTokenTimeout time.Duration
	Timeout           time.Duration
	// MaxTokens caps the answer's length in tokens (default 400).
	MaxTokens int
	// Temperature, 0 < t ≤ 2 (default 0.2). Zero takes the default.
	Temperature float32
	// Names, when set, lets the guard recognise products of the whole
	// catalogue named in an answer (see CheckGrounded). Optional.
	Names Names
}

// String describes the configuration with the API key masked, for logs.
func (c Config) String() string {
	key := ""
	if c.APIKey != "" {
		key = "xxxxx"
	}
	return fmt.Sprintf("llm.Config{BaseURL:%q Model:%q APIKey:%q FirstTokenTimeout:%s Timeout:%s MaxTokens:%d Temperature:%g Names:%t}",
		c.BaseURL, c.Model, key, c.FirstTokenTimeout, c.Timeout, c.MaxTokens, c.Temperature, c.Names != nil)
}

// GoString is String, so %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// Product is a retrieved product the answer may talk about.
type Product struct {
	ID, Title, Brand string
	// Price in currency units (49.95); ≤ 0 means the price is not known.
	Price    float64
	Currency string // ISO 4217, e.g. "EUR"; may be empty
	// Attributes are key attributes ("RAM": "16 GB"); the prompt shows at
	// most maxAttributes of them, in key order.
	Attributes map[string]string
	// Name is the short model name or code ("LC51C"); optional.
	Name string
}

// Passage is a retrieved policy passage.
type Passage struct{ Source, Title, Text string }

// Message is an earlier turn of the conversation.
type Message struct {
	Role string // "shopper" | "bot" | "agent" (a human operator)
	Text string
}

// Request is what one answer is grounded on. All text must already be
// redacted by the caller: it is sent to the endpoint as given.
type Request struct {
	Question string // the shopper's current message
	Intent   string // e.g. "product_search", "refund"; optional
	Products []Product
	Policies []Passage
	// History holds earlier turns, oldest first, without the current
	// question (a last shopper turn equal to Question is ignored).
	History []Message
}

// Client asks an OpenAI-compatible endpoint for grounded, streamed answers.
// It is safe for concurrent use.
type Client struct {
	cfg Config
	api *openai.Client
	// reasoning: the model is one go-openai validates as a reasoning model
	// (o1/o3/o4/gpt-5…): it takes max_completion_tokens and no temperature.
	reasoning bool
}

// New validates cfg, applies defaults and returns a Client. It makes no
// network call.
func New(cfg Config) (*Client, error) {
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := "(unparsable)"
		if err == nil {
			shown = u.Redacted()
		}
		return nil, fmt.Errorf("llm: BaseURL %q must be an http(s) URL such as http://localhost:8000/v1", shown)
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("llm: Model is required")
	}
	switch {
	case cfg.FirstTokenTimeout < 0, cfg.Timeout < 0:
		return nil, errors.New("llm: timeouts must not be negative")
	case cfg.MaxTokens < 0:
		return nil, errors.New("llm: MaxTokens must not be negative")
	case cfg.Temperature < 0 || cfg.Temperature > 2:
		return nil, fmt.Errorf("llm: Temperature %g out of range (0, 2]", cfg.Temperature)
	}
	if cfg.FirstTokenTimeout == 0 {
		cfg.FirstTokenTimeout = DefaultFirstTokenTimeout
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = DefaultTemperature
	}

	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every turn streams from the same host: keep enough idle connections
	// that concurrent turns reuse them instead of dialling anew.
	tr.MaxIdleConnsPerHost = 64
	oc.HTTPClient = &http.Client{Transport: tr} // no Client.Timeout: the stream is bounded by ctx
	c := &Client{cfg: cfg, api: openai.NewClientWithConfig(oc)}

	// go-openai refuses max_tokens and temperature for the OpenAI reasoning
	// models it knows; ask those with max_completion_tokens instead.
	if openai.NewReasoningValidator().Validate(c.chatRequest(nil)) != nil {
		c.reasoning = true
		if err := openai.NewReasoningValidator().Validate(c.chatRequest(nil)); err != nil {
			return nil, fmt.Errorf("llm: model %q: %w", cfg.Model, err)
		}
	}
	return c, nil
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

func (c *Client) chatRequest(msgs []openai.ChatCompletionMessage) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{Model: c.cfg.Model, Messages: msgs, Stream: true}
	if c.reasoning {
		r.MaxCompletionTokens = c.cfg.MaxTokens
	} else {
		r.MaxTokens = c.cfg.MaxTokens
		r.Temperature = c.cfg.Temperature
	}
	return r
}

// Causes of the call context's cancellation set by Stream itself.
var (
	errFirstToken = errors.New("no first token in time")
	errTotal      = errors.New("answer not complete in time")
)

// Stream asks for a grounded answer, calls onToken (may be nil) for each
// streamed piece of content in order as it arrives, and returns the full
// text, trimmed of surrounding space.
//
// onToken runs on the calling goroutine between reads of the stream: it must
// not block for long (the timeouts keep running while it does).
//
// Errors: ErrTimeout when no content arrives within FirstTokenTimeout (the
// role-only first chunk and reasoning deltas do not count) or the answer is
// not complete within Timeout; ErrUnavailable for connection failures, HTTP
// error statuses (the status is in the message, the API key never is), an
// error inside the stream, or an empty answer; ErrUngrounded when the
// complete answer fails CheckGrounded. When ctx ends first, the error wraps
// ctx.Err() (context.Canceled or DeadlineExceeded) and the HTTP stream is
// closed at once. With every error the text returned is what was received
// so far (all of it for ErrUngrounded).
func (c *Client) Stream(ctx context.Context, req Request, onToken func(string)) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("llm: %w", err)
	}
	total, cancelTotal := context.WithTimeoutCause(ctx, c.cfg.Timeout, errTotal)
	defer cancelTotal()
	callCtx, cancel := context.WithCancelCause(total)
	defer cancel(nil)
	// The first-token timer is stopped at the first token; it cancels callCtx
	// with errFirstToken if it fires before.
	firstTimer := time.AfterFunc(c.cfg.FirstTokenTimeout, func() { cancel(errFirstToken) })
	defer firstTimer.Stop()

	stream, err := c.api.CreateChatCompletionStream(callCtx, c.chatRequest(buildMessages(req)))
	if err != nil {
		return "", c.classify(ctx, callCtx, err)
	}
	defer stream.Close()

	var text strings.Builder
	started := false
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) && callCtx.Err() == nil {
			break
		}
		if err != nil {
			return strings.TrimSpace(text.String()), c.classify(ctx, callCtx, err)
		}
		for _, ch := range chunk.Choices {
			if ch.Index != 0 || ch.Delta.Content == "" {
				continue
			}
			if !started {
				started = true
				if !firstTimer.Stop() {
					// Fired just now: callCtx is cancelled for a late first token.
					return "", c.classify(ctx, callCtx, context.Cause(callCtx))
				}
			}
			text.WriteString(ch.Delta.Content)
			if onToken != nil {
				onToken(ch.Delta.Content)
			}
		}
	}
	answer := strings.TrimSpace(text.String())
	if answer == "" {
		return "", fmt.Errorf("%w: empty answer from model %q", ErrUnavailable, c.cfg.Model)
	}
	if err := CheckGrounded(answer, req, c.cfg.Names); err != nil {
		return answer, err
	}
	return answer, nil
}

// classify maps a failure of the call to the package's errors: the caller's
// context first, then Stream's own timers, else the endpoint.
func (c *Client) classify(parent, callCtx context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("llm: %w", perr)
	}
	switch cause := context.Cause(callCtx); {
	case errors.Is(cause, errFirstToken):
		return fmt.Errorf("%w: no token within %s", ErrTimeout, c.cfg.FirstTokenTimeout)
	case errors.Is(cause, errTotal):
		return fmt.Errorf("%w: answer not complete within %s", ErrTimeout, c.cfg.Timeout)
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, c.describe(err))
}

// maxErrorDetail bounds the server text quoted in an error.
const maxErrorDetail = 300

// describe renders an endpoint error with its HTTP status, the server's
// message cut to maxErrorDetail bytes, and the API key masked wherever the
// server echoed it.
func (c *Client) describe(err error) string {
	var (
		apiErr *openai.APIError
		reqErr *openai.RequestError
		msg    string
	)
	switch {
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode > 0:
		msg = fmt.Sprintf("HTTP %d: %s", apiErr.HTTPStatusCode, apiErr.Message)
	case errors.As(err, &reqErr):
		msg = fmt.Sprintf("HTTP %d: %s", reqErr.HTTPStatusCode, strings.TrimSpace(string(reqErr.Body)))
	case errors.As(err, &apiErr):
		msg = "stream error: " + apiErr.Message
	default:
		msg = err.Error()
	}
	if c.cfg.APIKey != "" {
		msg = strings.ReplaceAll(msg, c.cfg.APIKey, "xxxxx")
	}
	return truncateBytes(msg, maxErrorDetail)
}

// truncateBytes cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
