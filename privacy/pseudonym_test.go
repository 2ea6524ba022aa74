package privacy

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestPseudonymizer(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	p, err := NewPseudonymizer(secret)
	if err != nil {
		t.Fatal(err)
	}
	id := p.ID("customer-4711")
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(id) {
		t.Errorf("pseudonym %q is not 22 url-safe characters", id)
	}
	if p.ID("customer-4711") != id {
		t.Error("the pseudonym of an id is not stable")
	}
	if strings.Contains(id, "4711") {
		t.Error("the pseudonym shows the user id")
	}
	// Stable across instances with the same secret (restarts, replicas) …
	q, _ := NewPseudonymizer(bytes.Clone(secret))
	if q.ID("customer-4711") != id {
		t.Error("two pseudonymizers with the same secret disagree")
	}
	// … and different under another secret, so it cannot be recomputed without it.
	other, _ := NewPseudonymizer(bytes.Repeat([]byte{8}, 32))
	if other.ID("customer-4711") == id {
		t.Error("the pseudonym does not depend on the secret")
	}
	// Changing the caller's slice afterwards does not change pseudonyms.
	secret[0] = 0
	if p.ID("customer-4711") != id {
		t.Error("the pseudonymizer keeps a reference to the caller's secret")
	}
	// Distinct ids, including near-identical ones, map to distinct pseudonyms.
	seen := map[string]string{}
	for _, u := range []string{"", "a", "A", "a ", "customer-4711", "customer-4712", "customer-47110"} {
		ps := p.ID(u)
		if prev, dup := seen[ps]; dup {
			t.Errorf("%q and %q share pseudonym %q", prev, u, ps)
		}
		seen[ps] = u
	}
	if _, err := NewPseudonymizer(make([]byte, 31)); !errors.Is(err, ErrKeyFormat) {
		t.Errorf("31-byte secret: err %v, want ErrKeyFormat", err)
	}
}

func BenchmarkPseudonymize(b *testing.B) {
	p, _ := NewPseudonymizer(make([]byte, 32))
	b.ReportAllocs()
	for b.Loop() {
		p.ID("customer-4711")
	}
}
