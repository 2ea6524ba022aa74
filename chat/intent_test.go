package chat

import (
	"strings"
	"sync"
	"testing"

	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/intent"
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
