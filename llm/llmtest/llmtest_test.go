package llmtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, auth, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestWireFormat reads the raw stream: SSE content type, a role chunk, one
// chunk per token, a stop chunk, then [DONE], each as "data: ...\n\n".
func TestWireFormat(t *testing.T) {
	srv := NewServer(t, Script{Tokens: []string{"Hel", "lo"}, APIKey: "k1"})
	resp := post(t, srv.URL, "Bearer k1", `{"model":"m1","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	blank := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			blank = true
			continue
		}
		if !blank || !strings.HasPrefix(line, "data: ") {
			t.Fatalf("line %q is not a data line after a blank line", line)
		}
		blank = false
		events = append(events, strings.TrimPrefix(line, "data: "))
	}
	if len(events) != 5 || events[4] != "[DONE]" {
		t.Fatalf("events %q: want role, 2 tokens, stop, [DONE]", events)
	}
	type chunk struct {
		ID, Object, Model string
		Created           int64
		Choices           []struct {
			Index        int
			Delta        map[string]string
			FinishReason *string `json:"finish_reason"`
		}
	}
	var got []chunk
	for _, e := range events[:4] {
		var c chunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %s: %v", e, err)
		}
		if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion.chunk" || c.Model != "m1" || c.Created == 0 || len(c.Choices) != 1 {
			t.Fatalf("chunk header %+v", c)
		}
		got = append(got, c)
	}
	if got[0].Choices[0].Delta["role"] != "assistant" || got[0].Choices[0].FinishReason != nil {
		t.Errorf("first chunk %+v, want role assistant", got[0].Choices[0])
	}
	if got[1].Choices[0].Delta["content"] != "Hel" || got[2].Choices[0].Delta["content"] != "lo" {
		t.Errorf("content chunks %+v %+v", got[1].Choices[0], got[2].Choices[0])
	}
	if fr := got[3].Choices[0].FinishReason; fr == nil || *fr != "stop" || len(got[3].Choices[0].Delta) != 0 {
		t.Errorf("last chunk %+v, want empty delta and finish_reason stop", got[3].Choices[0])
	}
	r := srv.LastRequest()
	if r.Model != "m1" || !r.Stream || len(r.Messages) != 1 || r.Messages[0].Content != "hi" || r.Authorization != "Bearer k1" {
		t.Errorf("recorded %+v", r)
	}
	if srv.TokensSent() != 2 {
		t.Errorf("TokensSent = %d, want 2", srv.TokensSent())
	}
}

func TestErrorsAndAuth(t *testing.T) {
	srv := NewServer(t, Script{Tokens: []string{"x"}, APIKey: "k1"})
	resp := post(t, srv.URL, "Bearer wrong", `{"model":"m"}`)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"error"`) {
		t.Errorf("wrong key: %d %s", resp.StatusCode, body)
	}

	srv.SetScript(Script{Status: http.StatusServiceUnavailable, ErrorMessage: "overloaded"})
	resp = post(t, srv.URL, "", `{"model":"m"}`)
	var e struct{ Error struct{ Message string } }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 503 || e.Error.Message != "overloaded" {
		t.Errorf("status script: %d %+v %v", resp.StatusCode, e, err)
	}
	if n, _ := srv.Received(); n != 2 {
		t.Errorf("Received = %d, want 2", n)
	}
}
