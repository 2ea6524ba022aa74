// Package llmtest runs an in-process HTTP server that speaks the OpenAI
// chat-completions streaming wire format the way real servers (OpenAI, vLLM,
// llama.cpp server, Ollama's /v1) do, for tests of code that calls an LLM.
//
// POST {URL}/chat/completions answers with Content-Type text/event-stream:
// a first chunk whose delta carries the role, one chunk per Script token, a
// final chunk with finish_reason "stop", then "data: [DONE]", each event as
// "data: <json>\n\n" and flushed at once. Script knobs delay the first token
// and the tokens after it, answer with an HTTP error, hang until the client
// goes away, hold the last token until a channel is closed, or end the stream
// with an in-stream error event. Every request is recorded (decoded body and
// Authorization header) for assertions on the prompt.
//
// A Server is safe for concurrent use: several requests may stream at once,
// SetScript may change the script between (or during) calls; a request uses
// the script current when it arrived. The server is closed by t.Cleanup;
// handlers still waiting (Hang, delays, HoldLast) return when the test ends.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Script says how the server answers a request.
type Script struct {
	// Tokens are the content deltas streamed in order.
	Tokens []string
	// FirstTokenDelay is waited after the role chunk, before the first
	// token; TokenDelay before each later token.
	FirstTokenDelay, TokenDelay time.Duration
	// Status, when non-zero, answers with this HTTP status and an
	// OpenAI-style JSON error body ({"error":{"message":...}}) instead of a
	// stream. ErrorMessage sets the message (default: the status text).
	Status       int
	ErrorMessage string
	// Hang accepts the request and never answers (no status, no headers)
	// until the client goes away or the test ends.
	Hang bool
	// HoldLast, when non-nil, makes the server wait until it is closed
	// before sending the last token (e.g. a test closes it once it has seen
	// the first token, proving tokens arrive while the stream is open).
	HoldLast <-chan struct{}
	// StreamError, when non-empty, replaces the finish chunk and [DONE]
	// after the tokens with an in-stream error event
	// (data: {"error":{"message":StreamError,...}}), as vLLM sends when
	// generation fails midway, then ends the response.
	StreamError string
	// APIKey, when non-empty, is required as "Authorization: Bearer
	// <APIKey>"; other requests get 401 with OpenAI's error body.
	APIKey string
}

// Message is one chat message of a recorded request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// Request is a recorded request.
type Request struct {
	Model               string    `json:"model"`
	Messages            []Message `json:"messages"`
	Stream              bool      `json:"stream"`
	MaxTokens           int       `json:"max_tokens"`
	MaxCompletionTokens int       `json:"max_completion_tokens"`
	Temperature         *float32  `json:"temperature"`
	// Authorization is the request's Authorization header.
	Authorization string `json:"-"`
	// Body is the raw request body.
	Body []byte `json:"-"`
}

// Server is a running fake endpoint.
type Server struct {
	// URL is the base URL to configure a client with, ending in /v1.
	URL string

	t    testing.TB
	done chan struct{} // closed when the test ends: waiting handlers return

	mu       sync.Mutex
	script   Script
	requests []Request
	recvCh   chan struct{} // closed (and replaced) each time a request is recorded
	gone     int           // requests whose client went away before the end
	goneCh   chan struct{} // closed (and replaced) each time gone grows
	sent     int           // content tokens written, all requests
}

// NewServer starts a server answering with s; it is closed when the test ends.
func NewServer(t testing.TB, s Script) *Server {
	t.Helper()
	srv := &Server{t: t, done: make(chan struct{}), script: s,
		recvCh: make(chan struct{}), goneCh: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", srv.handle)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(srv.done) }) // runs before hs.Close (LIFO)
	srv.URL = hs.URL + "/v1"
	return srv
}

// SetScript replaces the script for requests arriving from now on.
func (s *Server) SetScript(sc Script) {
	s.mu.Lock()
	s.script = sc
	s.mu.Unlock()
}

// Requests returns the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LastRequest returns the latest request; it fails the test when there is none.
func (s *Server) LastRequest() Request {
	s.t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		s.t.Fatal("llmtest: no request received")
	}
	return reqs[len(reqs)-1]
}

// Received returns how many requests have been recorded and a channel
// closed when the next one is.
func (s *Server) Received() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests), s.recvCh
}

// Disconnects returns how many requests' clients went away before the server
// finished answering, and a channel closed when that count next grows.
func (s *Server) Disconnects() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone, s.goneCh
}

// TokensSent returns how many content tokens the server has written so far
// over all requests.
func (s *Server) TokensSent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var rec Request
	if err := json.Unmarshal(body, &rec); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error(), "invalid_request_error")
		return
	}
	rec.Body = body
	rec.Authorization = r.Header.Get("Authorization")

	s.mu.Lock()
	s.requests = append(s.requests, rec)
	close(s.recvCh)
	s.recvCh = make(chan struct{})
	sc := s.script
	s.mu.Unlock()

	if sc.APIKey != "" && rec.Authorization != "Bearer "+sc.APIKey {
		writeError(w, http.StatusUnauthorized, "Incorrect API key provided.", "invalid_request_error")
		return
	}
	if sc.Status != 0 {
		msg := sc.ErrorMessage
		if msg == "" {
			msg = http.StatusText(sc.Status)
		}
		writeError(w, sc.Status, msg, "server_error")
		return
	}
	if sc.Hang {
		s.hang(r)
		return
	}

	flusher, _ := w.(http.Flusher)
	id := fmt.Sprintf("chatcmpl-llmtest%d", time.Now().UnixNano())
	created := time.Now().Unix()
	model := rec.Model
	send := func(v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			s.t.Errorf("llmtest: marshal chunk: %v", err)
			return false
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": nil,
			"choices": []any{map[string]any{
				"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish,
			}},
		}
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		s.disconnected()
		return
	}
	for i, tok := range sc.Tokens {
		delay := sc.TokenDelay
		if i == 0 {
			delay = sc.FirstTokenDelay
		}
		var hold <-chan struct{}
		if i == len(sc.Tokens)-1 {
			hold = sc.HoldLast
		}
		if !s.wait(r, hold, delay) {
			return
		}
		if !send(chunk(map[string]any{"content": tok}, nil)) {
			s.disconnected()
			return
		}
		s.mu.Lock()
		s.sent++
		s.mu.Unlock()
	}
	if sc.StreamError != "" {
		send(map[string]any{"error": map[string]any{
			"message": sc.StreamError, "type": "server_error", "param": nil, "code": nil,
		}})
		return
	}
	if !send(chunk(map[string]any{}, "stop")) {
		s.disconnected()
		return
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err == nil && flusher != nil {
		flusher.Flush()
	}
}

// wait blocks for delay, then until hold is closed when hold is non-nil. It
// reports false when the client or the test went away first.
func (s *Server) wait(r *http.Request, hold <-chan struct{}, delay time.Duration) bool {
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			s.disconnected()
			return false
		case <-s.done:
			return false
		}
	}
	if hold == nil {
		return true
	}
	select {
	case <-hold:
		return true
	case <-r.Context().Done():
		s.disconnected()
		return false
	case <-s.done:
		return false
	}
}

// hang blocks until the client or the test goes away.
func (s *Server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
		s.disconnected()
	case <-s.done:
	}
}

func (s *Server) disconnected() {
	s.mu.Lock()
	s.gone++
	close(s.goneCh)
	s.goneCh = make(chan struct{})
	s.mu.Unlock()
}

func writeError(w http.ResponseWriter, status int, msg, typ string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": nil,
	}})
}
