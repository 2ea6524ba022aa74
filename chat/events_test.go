package chat

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopassist/shopassist/catalog"
	"github.com/shopassist/shopassist/events"
)

// TestClicksMoveABrandUpInTheNextSearch sends the widget's click events for
// one brand over the socket and checks that the shopper's next search ranks
// that brand first, through the real in-process stream and profiles.
func TestClicksMoveABrandUpInTheNextSearch(t *testing.T) {
	ctx := context.Background()
	idx := testIndex(t)
	lookup := func(id string) (*catalog.Product, bool) { return idx.Get(ctx, id) }
	svc, err := events.Start(ctx, events.Config{}, events.ProfileConfig{Lookup: lookup}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	h := newHarness(t, Config{ProductsPerAnswer: 5}, embeddedStore(t, t.TempDir()), func(d *Deps) {
		d.Index = idx
		d.Events = svc.Stream
		d.Profiles = svc.Profiles
		d.PersonalizeWeight = 0.5
	})
	c := h.dial(t)
	rankOf := func(fs []ServerFrame, id string) int {
		for _, f := range fs {
			if f.Type == TypeProducts {
				for i, it := range f.Items {
					if it.ID == id {
						return i
					}
				}
			}
		}
		return -1
	}
	c.send(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"})
	fs := c.until(TypeDone)
	sessionID := fs[0].SessionID
	const anker = "7" // "Anker Soundcore 2 bluetooth speaker"
	before := rankOf(fs, anker)
	if before <= 0 {
		t.Fatalf("precondition: Anker at rank %d; the test needs it below the top", before)
	}

	for range 3 {
		c.send(map[string]any{"type": "event", "event": map[string]any{"type": "click", "product_id": anker}})
	}
	// A rejected event is answered with its reason.
	c.send(map[string]any{"type": "event", "event": map[string]any{"type": "teleport", "product_id": anker}})
	if f := c.next(); f.Type != TypeError || f.Code != CodeBadEvent {
		t.Fatalf("bad event answered with %+v", f)
	}
	// The stream applies events asynchronously; wait until they show.
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := svc.Profiles.Get(ctx, sessionID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Counts[events.Click] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clicks not applied: %+v", p.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.send(map[string]string{"type": "message", "id": "2", "text": "bluetooth speaker"})
	if after := rankOf(c.until(TypeDone), anker); after != 0 {
		t.Fatalf("Anker at rank %d after three clicks (was %d), want 0", after, before)
	}
}

// TestRecommendAnswersFromTheProfile asks the real intent model for a
// recommendation after the shopper clicked one product and bought another:
// the answer draws on the clicks and leaves out the purchase.
func TestRecommendAnswersFromTheProfile(t *testing.T) {
	ctx := context.Background()
	clf := realClassifier(t)
	idx := testIndex(t)
	lookup := func(id string) (*catalog.Product, bool) { return idx.Get(ctx, id) }
	svc, err := events.Start(ctx, events.Config{}, events.ProfileConfig{Lookup: lookup}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	h := newHarness(t, Config{ProductsPerAnswer: 5}, embeddedStore(t, t.TempDir()), func(d *Deps) {
		d.Index, d.Intents, d.Events, d.Profiles, d.PersonalizeWeight = idx, clf, svc.Stream, svc.Profiles, 0.5
	})
	c := h.dial(t)
	c.send(map[string]string{"type": "hello", "user_id": "shopper-42"})
	c.next() // session
	// Clicks a Sony speaker, buys Sony headphones.
	c.send(map[string]any{"type": "event", "event": map[string]any{"type": "click", "product_id": "2"}})
	c.send(map[string]any{"type": "event", "event": map[string]any{"type": "purchase", "product_id": "4"}})
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := svc.Profiles.Get(ctx, "shopper-42")
		if err != nil {
			t.Fatal(err)
		}
		if p.Counts[events.Click] == 1 && p.Counts[events.Purchase] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not applied: %+v", p.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.send(map[string]string{"type": "message", "id": "r", "text": "what would you recommend?"})
	var intentFrame, products, message ServerFrame
	for _, f := range c.until(TypeDone) {
		switch f.Type {
		case TypeIntent:
			intentFrame = f
		case TypeProducts:
			products = f
		case TypeMessage:
			message = f
		}
	}
	if intentFrame.Intent != IntentRecommend {
		t.Fatalf("intent %q, want recommend", intentFrame.Intent)
	}
	if len(products.Items) == 0 {
		t.Fatal("no recommendations")
	}
	for _, it := range products.Items {
		if it.ID == "4" {
			t.Errorf("recommended the product just bought: %+v", it)
		}
	}
	if products.Items[0].Brand != "Sony" || !strings.Contains(message.Text, "Based on what you've been looking at") {
		t.Errorf("recommendations not drawn from the profile: first %+v, message %q", products.Items[0], message.Text)
	}
}
