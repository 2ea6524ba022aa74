package chat

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopassist/shopassist/llm"
	"github.com/shopassist/shopassist/llm/llmtest"
)

// llmHarness is a chat server over the small test catalogue answering
// through an LLM client pointed at an llmtest server.
func llmHarness(t *testing.T, script llmtest.Script, cfg Config, lcfg llm.Config) (*harness, *llmtest.Server) {
	t.Helper()
	fake := llmtest.NewServer(t, script)
	lcfg.BaseURL, lcfg.Model = fake.URL, "test-model"
	client, err := llm.New(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, embeddedStore(t, t.TempDir()), func(d *Deps) { d.LLM = client })
	return h, fake
}

func frameTypes(fs []ServerFrame) string { return types(fs) }

// answer sends a message and returns the frames of its turn, the joined
// token texts and the message frame.
func answer(c *client, id, text string) (fs []ServerFrame, tokens string, msg ServerFrame) {
	c.send(map[string]string{"type": "message", "id": id, "text": text})
	fs = c.until(TypeDone)
	for _, f := range fs {
		switch f.Type {
		case TypeToken:
			tokens += f.Text
			if f.ReplyTo != id {
				c.t.Errorf("token frame reply_to %q, want %q", f.ReplyTo, id)
			}
		case TypeMessage:
			msg = f
		}
	}
	return fs, tokens, msg
}

func TestLLMTokensAreStreamedThenTheMessage(t *testing.T) {
	tokens := []string{"The ", "Sony SRS-XB13 bluetooth speaker [2]", " costs €49.99", " and is my pick."}
	h, fake := llmHarness(t, llmtest.Script{Tokens: tokens}, Config{ProductsPerAnswer: 3}, llm.Config{})
	c := h.dial(t)
	fs, streamed, msg := answer(c, "1", "bluetooth speaker")
	if got := frameTypes(fs); !strings.HasPrefix(got, "session,typing,products,token") || !strings.HasSuffix(got, "token,message,done") {
		t.Fatalf("frames %s", got)
	}
	want := strings.Join(tokens, "")
	if streamed != want || msg.Text != want {
		t.Fatalf("streamed %q, message %q; want %q", streamed, msg.Text, want)
	}
	// The prompt held the retrieved products, the question and the intent.
	req := fake.LastRequest()
	sys := req.Messages[0].Content
	for _, wantIn := range []string{"Sony SRS-XB13 bluetooth speaker", "Bose SoundLink Mini bluetooth speaker", "49.99", "Shopper intent: product_search"} {
		if !strings.Contains(sys, wantIn) {
			t.Errorf("system prompt lacks %q:\n%s", wantIn, sys)
		}
	}
	if last := req.Messages[len(req.Messages)-1]; last.Role != "user" || last.Content != "bluetooth speaker" {
		t.Errorf("last prompt message %+v", last)
	}
	// The stored answer is the LLM's.
	turns, err := h.store.History(t.Context(), fs[0].SessionID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if turns[1].Text != want {
		t.Errorf("stored answer %q", turns[1].Text)
	}
	// The next turn's prompt carries the conversation so far.
	fake.SetScript(llmtest.Script{Tokens: []string{"These cost less."}})
	if _, _, msg := answer(c, "2", "cheaper ones"); msg.Text != "These cost less." {
		t.Errorf("second answer %q", msg.Text)
	}
	msgs := fake.LastRequest().Messages
	if len(msgs) < 4 || msgs[1].Content != "bluetooth speaker" || msgs[2].Content != want {
		t.Errorf("history in the second prompt: %+v", msgs)
	}
	if n := vecTotal(h.srv.metrics.llmFallbacks); n != 0 {
		t.Errorf("%v fallbacks counted", n)
	}
}

func fallbacks(h *harness, reason string) float64 {
	var m dto.Metric
	_ = h.srv.metrics.llmFallbacks.WithLabelValues(reason).Write(&m)
	return m.GetCounter().GetValue()
}

// vecTotal sums a counter vector over its labels.
func vecTotal(v *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 64)
	v.Collect(ch)
	close(ch)
	total := 0.0
	for m := range ch {
		var d dto.Metric
		_ = m.Write(&d)
		total += d.GetCounter().GetValue()
	}
	return total
}

// templateText is what the same turn answers without an LLM.
func templateText(t *testing.T, text string) string {
	t.Helper()
	h := newHarness(t, Config{ProductsPerAnswer: 3}, embeddedStore(t, t.TempDir()))
	_, _, msg := answer(h.dial(t), "1", text)
	return msg.Text
}

func TestLLMSlowFirstTokenFallsBackToTheTemplate(t *testing.T) {
	h, fake := llmHarness(t, llmtest.Script{Tokens: []string{"too late"}, FirstTokenDelay: time.Minute},
		Config{ProductsPerAnswer: 3}, llm.Config{FirstTokenTimeout: 100 * time.Millisecond})
	_, gone := fake.Disconnects()
	fs, streamed, msg := answer(h.dial(t), "1", "bluetooth speaker")
	if streamed != "" || msg.Text != templateText(t, "bluetooth speaker") {
		t.Fatalf("frames %s, streamed %q, message %q", frameTypes(fs), streamed, msg.Text)
	}
	if fallbacks(h, "timeout") != 1 {
		t.Errorf("timeout fallbacks %v", fallbacks(h, "timeout"))
	}
	<-gone // the HTTP stream was closed, not left running
}

// TestLLMHangingServerLeavesTimeToFinishTheTurn: the LLM call gets the
// turn's deadline minus a reserve, so the turn still stores the template
// and ends with done, not a timeout error.
func TestLLMHangingServerLeavesTimeToFinishTheTurn(t *testing.T) {
	h, _ := llmHarness(t, llmtest.Script{Hang: true}, Config{ProductsPerAnswer: 3, TurnTimeout: 1500 * time.Millisecond}, llm.Config{FirstTokenTimeout: time.Minute})
	fs, _, msg := answer(h.dial(t), "1", "bluetooth speaker")
	if fs[len(fs)-1].Type != TypeDone || msg.Text != templateText(t, "bluetooth speaker") {
		t.Fatalf("frames %s, message %q", frameTypes(fs), msg.Text)
	}
	if fallbacks(h, "deadline") != 1 {
		t.Errorf("deadline fallbacks %v", fallbacks(h, "deadline"))
	}
}

func TestLLMErrorFallsBackToTheTemplate(t *testing.T) {
	h, _ := llmHarness(t, llmtest.Script{Status: 503}, Config{ProductsPerAnswer: 3}, llm.Config{})
	_, streamed, msg := answer(h.dial(t), "1", "bluetooth speaker")
	if streamed != "" || msg.Text != templateText(t, "bluetooth speaker") {
		t.Fatalf("streamed %q, message %q", streamed, msg.Text)
	}
	if fallbacks(h, "unavailable") != 1 {
		t.Errorf("unavailable fallbacks %v", fallbacks(h, "unavailable"))
	}
}

// TestLLMUngroundedAnswerIsReplaced: the model names a product that was not
// retrieved; the tokens already went out, and the message frame replaces
// them with the template.
func TestLLMUngroundedAnswerIsReplaced(t *testing.T) {
	tokens := []string{"You should get the ", "Bose QuietComfort QC45 [999]", " for €12.00."}
	h, _ := llmHarness(t, llmtest.Script{Tokens: tokens}, Config{ProductsPerAnswer: 3}, llm.Config{})
	_, streamed, msg := answer(h.dial(t), "1", "bluetooth speaker")
	if streamed != strings.Join(tokens, "") {
		t.Fatalf("streamed %q", streamed)
	}
	if msg.Text != templateText(t, "bluetooth speaker") {
		t.Fatalf("message %q is not the template", msg.Text)
	}
	if fallbacks(h, "ungrounded") != 1 {
		t.Errorf("ungrounded fallbacks %v", fallbacks(h, "ungrounded"))
	}
}

// TestLLMNotAskedWithoutGrounding: answers with nothing retrieved to stand
// on (no results, small talk) are templates and make no LLM call.
func TestLLMNotAskedWithoutGrounding(t *testing.T) {
	h, fake := llmHarness(t, llmtest.Script{Tokens: []string{"x"}}, Config{}, llm.Config{})
	c := h.dial(t)
	for i, text := range []string{"zzqx", "ok"} {
		fs, streamed, _ := answer(c, string(rune('a'+i)), text)
		if streamed != "" {
			t.Errorf("%q: tokens %q (frames %s)", text, streamed, frameTypes(fs))
		}
	}
	if n, _ := fake.Received(); n != 0 {
		t.Fatalf("%d LLM requests for ungrounded answers", n)
	}
}
