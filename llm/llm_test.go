package llm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/llm/llmtest"
)

const apiKey = "sk-test-secret-1234"

// testCtx bounds a test that would otherwise hang on a bug; tests assert
// errors, never durations.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t testing.TB, srv *llmtest.Server, mod func(*llm.Config)) *llm.Client {
	t.Helper()
	cfg := llm.Config{BaseURL: srv.URL, Model: "test-model", APIKey: apiKey}
	if mod != nil {
		mod(&cfg)
	}
	c, err := llm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var kettles = llm.Request{
	Question: "Which kettle is cheapest?",
	Intent:   "product_search",
	Products: []llm.Product{
		{ID: "123", Title: "Acme Kettle 2000", Brand: "Acme", Price: 49.99, Currency: "EUR",
			Attributes: map[string]string{"capacity": "1.7 l", "power": "2200 W"}},
		{ID: "456", Title: "Boil-O-Matic BK-7 Steel Kettle", Brand: "Boil-O-Matic", Price: 59.5, Currency: "EUR"},
	},
}

func TestStreamTokensArriveWhileStreaming(t *testing.T) {
	release := make(chan struct{})
	tokens := []string{"The ", "Acme Kettle 2000 [123]", " costs €49.99", "."}
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: tokens, HoldLast: release, APIKey: apiKey})
	c := newClient(t, srv, nil)

	var got []string
	sentAtFirst := -1
	text, err := c.Stream(testCtx(t), kettles, func(tok string) {
		got = append(got, tok)
		if len(got) == 1 {
			sentAtFirst = srv.TokensSent()
			close(release) // the server sends the last token only now
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if sentAtFirst < 0 || sentAtFirst >= len(tokens) {
		t.Errorf("server had sent %d of %d tokens when the first arrived, want fewer than all", sentAtFirst, len(tokens))
	}
	if strings.Join(got, "|") != strings.Join(tokens, "|") {
		t.Errorf("tokens %q, want %q", got, tokens)
	}
	if want := "The Acme Kettle 2000 [123] costs €49.99."; text != want {
		t.Errorf("text %q, want %q", text, want)
	}
	r := srv.LastRequest()
	if r.Authorization != "Bearer "+apiKey || r.Model != "test-model" || !r.Stream {
		t.Errorf("request auth %q model %q stream %v", r.Authorization, r.Model, r.Stream)
	}
	if r.MaxTokens != llm.DefaultMaxTokens || r.Temperature == nil || *r.Temperature != llm.DefaultTemperature {
		t.Errorf("max_tokens %d temperature %v, want defaults", r.MaxTokens, r.Temperature)
	}
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script llmtest.Script
	}{
		// Headers and the role chunk come at once, the first content never.
		{"slow first token", llmtest.Script{Tokens: []string{"late"}, FirstTokenDelay: time.Hour}},
		// No response at all: the timer also covers connecting and headers.
		{"no response", llmtest.Script{Hang: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tc.script)
			c := newClient(t, srv, func(cfg *llm.Config) { cfg.FirstTokenTimeout = 200 * time.Millisecond })
			_, gone := srv.Disconnects()
			text, err := c.Stream(testCtx(t), kettles, nil)
			if !errors.Is(err, llm.ErrTimeout) || errors.Is(err, llm.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if text != "" {
				t.Errorf("text %q, want none", text)
			}
			select {
			case <-gone: // the client closed the connection
			case <-testCtx(t).Done():
				t.Fatal("server never saw the connection close")
			}
		})
	}
}

func TestWholeAnswerTimeout(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"The Acme", " Kettle"}, TokenDelay: time.Hour})
	c := newClient(t, srv, func(cfg *llm.Config) {
		cfg.FirstTokenTimeout = time.Minute
		cfg.Timeout = 300 * time.Millisecond
	})
	var got []string
	text, err := c.Stream(testCtx(t), kettles, func(s string) { got = append(got, s) })
	if !errors.Is(err, llm.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if text != "The Acme" || len(got) != 1 {
		t.Errorf("text %q tokens %q, want the first token only", text, got)
	}
}

// TestFirstTokenTimerStops: once the first token is in, a pause longer than
// FirstTokenTimeout between tokens is fine (only Timeout bounds it).
func TestFirstTokenTimerStops(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"The Acme", " Kettle"}, TokenDelay: 700 * time.Millisecond})
	c := newClient(t, srv, func(cfg *llm.Config) { cfg.FirstTokenTimeout = 500 * time.Millisecond })
	text, err := c.Stream(testCtx(t), kettles, nil)
	if err != nil || text != "The Acme Kettle" {
		t.Fatalf("Stream = %q, %v; want the whole answer", text, err)
	}
}

func TestUnavailable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL + "/v1"
	closed.Close()

	for _, tc := range []struct {
		name, baseURL string
		script        llmtest.Script
		want          string // in the error message
	}{
		{"500", "", llmtest.Script{Status: 500}, "HTTP 500"},
		{"429", "", llmtest.Script{Status: 429, ErrorMessage: "Rate limit reached"}, "HTTP 429: Rate limit reached"},
		// The server echoes the key; the error must not.
		{"401 wrong key", "", llmtest.Script{Status: 401, ErrorMessage: "Incorrect API key provided: " + apiKey}, "HTTP 401"},
		{"401 required key", "", llmtest.Script{APIKey: "another-key", Tokens: []string{"x"}}, "HTTP 401"},
		{"error in stream", "", llmtest.Script{Tokens: []string{"The "}, StreamError: "CUDA out of memory"}, "CUDA out of memory"},
		{"empty answer", "", llmtest.Script{Tokens: []string{" ", "\n"}}, "empty answer"},
		{"connection refused", refused, llmtest.Script{}, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewServer(t, tc.script)
			c := newClient(t, srv, func(cfg *llm.Config) {
				if tc.baseURL != "" {
					cfg.BaseURL = tc.baseURL
				}
			})
			_, err := c.Stream(testCtx(t), kettles, nil)
			if !errors.Is(err, llm.ErrUnavailable) || errors.Is(err, llm.ErrTimeout) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("err %q shows the API key", err)
			}
		})
	}
}

func TestCancelClosesStream(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Hang: true})
	c := newClient(t, srv, func(cfg *llm.Config) { cfg.FirstTokenTimeout = time.Hour; cfg.Timeout = time.Hour })
	ctx, cancel := context.WithCancel(testCtx(t))
	_, gone := srv.Disconnects()
	go func() {
		for {
			n, next := srv.Received()
			if n > 0 {
				cancel() // the shopper's socket closed
				return
			}
			<-next
		}
	}()
	_, err := c.Stream(ctx, kettles, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, llm.ErrTimeout) || errors.Is(err, llm.ErrUnavailable) {
		t.Fatalf("err = %v, want context.Canceled only", err)
	}
	select {
	case <-gone:
	case <-testCtx(t).Done():
		t.Fatal("server never saw the connection close")
	}

	// A context ended before the call sends nothing.
	_, err = c.Stream(ctx, kettles, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v on a cancelled context", err)
	}
	if n, _ := srv.Received(); n != 1 {
		t.Errorf("server got %d requests, want 1", n)
	}
}

func TestCancelMidStream(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"The ", "Acme"}, TokenDelay: time.Hour})
	c := newClient(t, srv, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	_, gone := srv.Disconnects()
	text, err := c.Stream(ctx, kettles, func(string) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if text != "The" {
		t.Errorf("text %q, want what arrived before the cancel", text)
	}
	select {
	case <-gone:
	case <-testCtx(t).Done():
		t.Fatal("server never saw the connection close")
	}
}

func TestUngroundedAnswer(t *testing.T) {
	answer := []string{"Try the ", "Acme Kettle 3000 [999]", ", only €39.99."}
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: answer})
	c := newClient(t, srv, nil)
	var streamed int
	text, err := c.Stream(testCtx(t), kettles, func(string) { streamed++ })
	if !errors.Is(err, llm.ErrUngrounded) {
		t.Fatalf("err = %v, want ErrUngrounded", err)
	}
	if text != strings.Join(answer, "") || streamed != len(answer) {
		t.Errorf("text %q after %d tokens, want the full answer", text, streamed)
	}
	if !strings.Contains(err.Error(), "[999]") {
		t.Errorf("err %q does not name the citation", err)
	}
}

// names is a Names over a tiny catalogue: product id → distinctive name.
type names map[string]string

func (n names) ProductsMentioned(text string) []string {
	var ids []string
	for id, name := range n {
		if strings.Contains(strings.ToLower(text), strings.ToLower(name)) {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestStreamUsesConfiguredNames(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"The Zephyr kettle is better."}})
	c := newClient(t, srv, func(cfg *llm.Config) { cfg.Names = names{"123": "Acme Kettle", "789": "Zephyr"} })
	if _, err := c.Stream(testCtx(t), kettles, nil); !errors.Is(err, llm.ErrUngrounded) {
		t.Errorf("err = %v, want ErrUngrounded for a catalogue product not retrieved", err)
	}
}

func TestPrompt(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"Sure."}})
	c := newClient(t, srv, nil)
	req := kettles
	req.Question = "Can I return it after a week?"
	req.Intent = "refund"
	req.Policies = []llm.Passage{{Source: "returns.md", Title: "Returns", Text: "You may return any item within 30 days of delivery."}}
	req.History = []llm.Message{
		{Role: "shopper", Text: "I need a kettle"},
		{Role: "bot", Text: "Here are two kettles."},
		{Role: "shopper", Text: "Is the steel one good?"},
		{Role: "agent", Text: "Hi, Sam from the shop here."},
		{Role: "shopper", Text: "Can I return it after a week?"}, // the current question, already stored
	}
	if _, err := c.Stream(testCtx(t), req, nil); err != nil {
		t.Fatal(err)
	}
	msgs := srv.LastRequest().Messages
	if len(msgs) == 0 || msgs[0].Role != "system" {
		t.Fatalf("messages %+v, want a system message first", msgs)
	}
	sys := msgs[0].Content
	for _, want := range []string{
		"[123] Acme Kettle 2000", "49.99 EUR", "capacity: 1.7 l", "power: 2200 W",
		"[456] Boil-O-Matic BK-7 Steel Kettle", "59.50 EUR",
		"Returns", "returns.md", "You may return any item within 30 days of delivery.",
		"refund", "never invent", "language",
	} {
		if !strings.Contains(strings.ToLower(sys), strings.ToLower(want)) {
			t.Errorf("system prompt lacks %q:\n%s", want, sys)
		}
	}
	var got []string
	for _, m := range msgs[1:] {
		got = append(got, m.Role+": "+m.Content)
	}
	want := []string{
		"user: I need a kettle",
		"assistant: Here are two kettles.",
		"user: Is the steel one good?",
		"assistant: [Human agent] Hi, Sam from the shop here.",
		"user: Can I return it after a week?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("conversation\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPromptAlternatesAndIsBounded: roles alternate user/assistant after the
// system message (merging runs, dropping a leading assistant message), and
// products and history are capped.
func TestPromptAlternatesAndIsBounded(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"Sure."}})
	c := newClient(t, srv, nil)
	var req llm.Request
	req.Question = "and now?"
	for i := range 15 {
		req.Products = append(req.Products, llm.Product{ID: fmt.Sprint(i), Title: fmt.Sprintf("Widget number %02d", i), Price: 10})
	}
	for i := range 12 {
		role := "shopper"
		if i%3 == 2 {
			role = "bot"
		}
		req.History = append(req.History, llm.Message{Role: role, Text: fmt.Sprintf("turn %02d", i)})
	}
	req.History = append(req.History, llm.Message{Role: "shopper", Text: "long " + strings.Repeat("x", 5000)})
	if _, err := c.Stream(testCtx(t), req, nil); err != nil {
		t.Fatal(err)
	}
	msgs := srv.LastRequest().Messages
	sys := msgs[0].Content
	if !strings.Contains(sys, "Widget number 09") || strings.Contains(sys, "Widget number 10") {
		t.Errorf("want the first 10 products only:\n%s", sys)
	}
	var all strings.Builder
	for i, m := range msgs[1:] {
		wantRole := "user"
		if i%2 == 1 {
			wantRole = "assistant"
		}
		if m.Role != wantRole {
			t.Errorf("message %d has role %s, want %s (%q)", i+1, m.Role, wantRole, m.Content)
		}
		all.WriteString(m.Content + "\n")
	}
	if msgs[len(msgs)-1].Role != "user" || !strings.HasSuffix(msgs[len(msgs)-1].Content, "and now?") {
		t.Errorf("last message %+v, want the question", msgs[len(msgs)-1])
	}
	// The last 6 history messages are turns 07..11 and the long one.
	if strings.Contains(all.String(), "turn 06") || !strings.Contains(all.String(), "turn 07") {
		t.Errorf("history not cut to the last 6 messages:\n%s", all.String())
	}
	if strings.Contains(all.String(), strings.Repeat("x", 1000)) {
		t.Error("a long history message was not truncated")
	}
}

func TestReasoningModelParameters(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"Sure."}})
	c := newClient(t, srv, func(cfg *llm.Config) { cfg.Model = "o3-mini" })
	if _, err := c.Stream(testCtx(t), kettles, nil); err != nil {
		t.Fatal(err)
	}
	r := srv.LastRequest()
	if r.MaxTokens != 0 || r.MaxCompletionTokens != llm.DefaultMaxTokens || r.Temperature != nil {
		t.Errorf("max_tokens %d max_completion_tokens %d temperature %v, want only max_completion_tokens", r.MaxTokens, r.MaxCompletionTokens, r.Temperature)
	}
}

func TestConcurrentStreams(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Script{Tokens: []string{"The ", "Acme Kettle 2000", " is €49.99."}})
	c := newClient(t, srv, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			text, err := c.Stream(testCtx(t), kettles, nil)
			if err == nil && text != "The Acme Kettle 2000 is €49.99." {
				err = fmt.Errorf("text %q", text)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []llm.Config{
		{Model: "m"},
		{BaseURL: "localhost:8000/v1", Model: "m"},
		{BaseURL: "ftp://host/v1", Model: "m"},
		{BaseURL: "http://host/v1"},
		{BaseURL: "http://host/v1", Model: "m", FirstTokenTimeout: -1},
		{BaseURL: "http://host/v1", Model: "m", MaxTokens: -1},
		{BaseURL: "http://host/v1", Model: "m", Temperature: 3},
	} {
		if _, err := llm.New(cfg); err == nil {
			t.Errorf("New(%v) accepted an invalid config", cfg)
		}
	}
	c, err := llm.New(llm.Config{BaseURL: "http://host:8000/v1/", Model: "m", APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Config()
	if got.FirstTokenTimeout != llm.DefaultFirstTokenTimeout || got.Timeout != llm.DefaultTimeout ||
		got.MaxTokens != llm.DefaultMaxTokens || got.Temperature != llm.DefaultTemperature {
		t.Errorf("defaults not applied: %v", got)
	}
	if s := fmt.Sprintf("%v %+v %#v", got, got, got); strings.Contains(s, apiKey) || !strings.Contains(s, "host:8000") {
		t.Errorf("Config prints as %s", s)
	}
}
