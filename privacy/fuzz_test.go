package privacy

import (
	"testing"
	"unicode/utf8"
)

// FuzzRedact checks on any input that Redact never panics, returns spans
// that are sorted, disjoint and in range and that rebuild its output, that
// nothing detectable is left in the output (so no card or e-mail the
// detector would find), and that redacting the output again changes
// nothing. Seeded with the labelled corpus and a few edge cases.
func FuzzRedact(f *testing.F) {
	for _, l := range loadCorpus(f) {
		f.Add(l.Text)
	}
	for _, s := range []string{"", "@", "+", "(", "#", "[card]", "1", "\n0612345678\n", "a@b.cd@e.fg",
		"4111 1111 1111 1111 1111", "+44 (0)20 7946 0958 0612345678", "DE89 3704 0044 0532 0130 00 DE89",
		"12 rue de la Paix, 75002 Paris 12 Baker Street", "\xff\xfe 0612345678 \xc3",
		// found by fuzzing: redacting the output found more
		"0A 5609 5136 74302 00100000000", "00100000000 0%0 00100000000", "no 1000000 5634 568 801345",
		"A gAtA 0 X gAtA 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkRedaction(t, text)
		out, _ := Redact(text)
		if left := NewRedactor(KindCard, KindEmail).Find(out); len(left) != 0 {
			t.Fatalf("output %q of %q still holds %s", out, text, describe(out, left))
		}
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("Redact split a character: %q -> %q", text, out)
		}
	})
}
