package policies

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/shopassist/shopassist/demodata"
)

func TestSplit(t *testing.T) {
	md := "intro without heading\n\n# Title\n\n## First\n\nOne **bold** line\nwrapped.\n\n\n\nNew paragraph:\n- item one\n  continued\n- item two\n1. numbered\n\n## Empty\n\n### Third ###\nText.\n"
	got := Split("doc.md", md)
	want := []Passage{
		{Source: "doc.md", Title: "Title › First", Text: "One bold line wrapped.\n\nNew paragraph:\n- item one continued\n- item two\n1. numbered"},
		{Source: "doc.md", Title: "Title › Third", Text: "Text."},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d passages: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("passage %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLoadSkipsOtherFilesAndFailsWhenEmpty(t *testing.T) {
	ix, err := Load(fstest.MapFS{
		"a.md":          {Data: []byte("# A\n\ntext a\n")},
		"sub/b.MD":      {Data: []byte("# B\n\n## Part\n\ntext b\n")},
		"notes.txt":     {Data: []byte("# C\n\ntext c\n")},
		"sub/empty.md":  {Data: []byte("no heading at all\n")},
		"sub/README.md": {Data: []byte("")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 2 {
		t.Fatalf("%d passages, want 2: %+v", ix.Len(), ix.Passages())
	}
	if _, err := Load(fstest.MapFS{"x.txt": {Data: []byte("# X\n\ny\n")}}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("no markdown: err %v, want ErrEmpty", err)
	}
}

// TestDemoPoliciesAnswerTypicalQuestions checks that the top passage for
// typical shopper questions comes from the right section of the demo
// policies.
func TestDemoPoliciesAnswerTypicalQuestions(t *testing.T) {
	ix, err := Load(demodata.Policies())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ q, title string }{
		{"what is your refund policy?", "Returns and refunds › Refunds"},
		{"how long does a refund take?", "Returns and refunds › Refunds"},
		{"can I return an item?", "Returns and refunds › Returning an item"},
		{"can I send back opened earbuds?", "Returns and refunds › Items that can't be returned"},
		{"is there a fee to cancel my order?", "Returns and refunds › Cancelling an order"},
		{"how long does delivery take?", "Shipping and delivery › Delivery times"},
		{"how much is express shipping?", "Shipping and delivery › Delivery options and costs"},
		{"what payment methods do you accept?", "Payment › Accepted payment methods"},
		{"can I pay with paypal?", "Payment › Accepted payment methods"},
		{"I need an invoice with my company VAT number", "Payment › Invoices"},
		{"how do I delete my account?", "Your account and privacy › Deleting your account"},
		{"I forgot my password", "Your account and privacy › Forgotten password"},
		{"do you have a warranty?", "Warranty and repairs › Manufacturer warranty"},
		{"my laptop is faulty, how do I make a warranty claim?", "Warranty and repairs › Making a warranty claim"},
	}
	for _, tc := range cases {
		got := ix.Search(tc.q, 3)
		if len(got) == 0 {
			t.Errorf("%q: no passage", tc.q)
			continue
		}
		if got[0].Title != tc.title {
			var titles []string
			for _, p := range got {
				titles = append(titles, p.Title)
			}
			t.Errorf("%q: top %q, want %q (top 3: %s)", tc.q, got[0].Title, tc.title, strings.Join(titles, " | "))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Score > got[i-1].Score {
				t.Errorf("%q: scores not descending: %v", tc.q, got)
			}
		}
	}
	if got := ix.Search("the of and", 3); len(got) != 0 {
		t.Errorf("stop words only matched %d passages", len(got))
	}
	if got := ix.Search("refund", 0); got != nil {
		t.Errorf("k=0 returned %v", got)
	}
}

func BenchmarkSearch(b *testing.B) {
	ix, err := Load(demodata.Policies())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ix.Search("how long does a refund take to reach my card?", 3)
	}
}
