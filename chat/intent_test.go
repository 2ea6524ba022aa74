package chat

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/intent"
	"github.com/shopassist/shopassist/privacy"
)

var (
	classifierOnce sync.Once
	classifier     *intent.Classifier
	classifierErr  error
)

// realClassifier loads the committed default intent model once per test
// binary.
func realClassifier(t testing.TB) *intent.Classifier {
	t.Helper()
	inferencetest.RequireRuntime(t)
	classifierOnce.Do(func() { classifier, classifierErr = intent.Load("../models/intent", intent.Config{}) })
	if classifierErr != nil {
		t.Fatal(classifierErr)
	}
	return classifier
}

// TestIntentRoutesTheTurn runs clear examples of each kind of intent through
// the real model and checks that the turn announces the intent and answers
// in kind: products only for product searches.
func TestIntentRoutesTheTurn(t *testing.T) {
	c := realClassifier(t)
	h := newHarness(t, Config{}, embeddedStore(t, t.TempDir()), func(d *Deps) { d.Intents = c })
	cl := h.dial(t)
	cases := []struct {
		text, intent, answerHas string
		products                bool
	}{
		{"bluetooth speaker", IntentProductSearch, "bluetooth speaker", true},
		{"do you have wireless headphones?", IntentProductSearch, "", true},
		{"where is my order?", "track_order", "order number", false},
		{"I want to talk to a real person", "contact_human_agent", "person", false},
		{"hello", IntentGreeting, "Hello", false},
		{"what's the weather like in Paris tomorrow?", IntentOutOfScope, "outside what I can help with", false},
	}
	for i, tc := range cases {
		id := string(rune('a' + i))
		cl.send(map[string]string{"type": "message", "id": id, "text": tc.text})
		fs := cl.until(TypeDone)
		var got ServerFrame
		var sawProducts bool
		var answer string
		for _, f := range fs {
			switch f.Type {
			case TypeIntent:
				got = f
			case TypeProducts:
				sawProducts = true
			case TypeMessage:
				answer = f.Text
			}
		}
		if got.Intent != tc.intent || got.Confidence == nil || *got.Confidence <= 0 || *got.Confidence > 1 {
			t.Errorf("%q: intent frame %+v, want %s", tc.text, got, tc.intent)
			continue
		}
		if sawProducts != tc.products {
			t.Errorf("%q: products sent = %v", tc.text, sawProducts)
		}
		if !strings.Contains(answer, tc.answerHas) {
			t.Errorf("%q: answer %q lacks %q", tc.text, answer, tc.answerHas)
		}
	}
}

// TestIntentOnRedactedText: the intent model classifies the redacted
// message ("[email]" in place of the address) and still gets these right
// (the raw forms did worse: an e-mail address reads as noise to it); and
// with the real model, a message with an e-mail and an order number is
// answered by the order flow, whatever the model made of it.
func TestIntentOnRedactedText(t *testing.T) {
	c := realClassifier(t)
	for _, tc := range []struct{ text, want string }{
		{"can you send the invoice to jane.doe@example.com", "get_invoice"},
		{"I forgot my password, my email is jane.doe@example.com", "recover_password"},
		{"I need a refund for order 10231, my IBAN is DE89 3704 0044 0532 0130 00", "get_refund"},
	} {
		red, spans := privacy.Redact(tc.text)
		if len(spans) != 1 {
			t.Fatalf("%q: %d spans redacted", tc.text, len(spans))
		}
		res, err := c.Classify(context.Background(), red)
		if err != nil {
			t.Fatal(err)
		}
		if res.Label != tc.want {
			t.Errorf("%q: %s (%.2f), want %s", red, res.Label, res.Confidence, tc.want)
		}
	}
	h := newDialogHarness(t, embeddedStore(t, t.TempDir()), func(d *Deps) { d.Intents = c })
	sock := h.dial(t)
	sock.send(map[string]string{"type": "message", "id": "1", "text": "my email is " + testEmail + ", where is my order 10231?"})
	var answer string
	for _, f := range sock.until(TypeDone) {
		if f.Type == TypeMessage {
			answer = f.Text
		}
	}
	if !strings.Contains(answer, "Order 10231") {
		t.Errorf("answer %q: the order number should drive the order flow", answer)
	}
}
