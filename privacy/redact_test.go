package privacy

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		// nothing to do
		{"do you have wireless headphones under 100 euros?", "do you have wireless headphones under 100 euros?"},
		{"", ""},
		// each kind, with the surrounding text kept byte for byte
		{"mail jane.doe+shop@mail.example.co.uk, thanks", "mail [email], thanks"},
		{"call +44 20 7946 0958 or (555) 123-4567.", "call [phone] or [phone]."},
		{"pay with 4111 1111 1111 1111 exp 08/27", "pay with [card] exp 08/27"},
		{"refund to DE89 3704 0044 0532 0130 00 please", "refund to [iban] please"},
		{"ship to 221B Baker Street, London NW1 6XE today", "ship to [address] today"},
		{"Lieferung an Hauptstraße 5, 10115 Berlin", "Lieferung an [address]"},
		// kept: order numbers, prices, dates, quantities, model numbers
		{"order #123456 and order 55102 are late", "order #123456 and order 55102 are late"},
		{"WH-1000XM4 for €349.99, 2 TB, 15.6 inch, delivered 15/03/2024 14:30", "WH-1000XM4 for €349.99, 2 TB, 15.6 inch, delivered 15/03/2024 14:30"},
		{"EAN 4006381333931 and a 16-digit 4111 1111 1111 1112", "EAN 4006381333931 and a 16-digit 4111 1111 1111 1112"},
		{"user at home, reach @shop", "user at home, reach @shop"},
		// several in one message, across lines
		{"a@b.io\n0612345678\nVia Roma 12", "[email]\n[phone]\n[address]"},
		// a card followed by its expiry in the same run of digits
		{"4111 1111 1111 1111 12/26", "[card] 12/26"},
		// non-ASCII text around the data
		{"Grüße — Tel. 0171 1234567 — Jürgen", "Grüße — Tel. [phone] — Jürgen"},
	}
	for _, c := range cases {
		got, spans := Redact(c.in)
		if got != c.want {
			t.Errorf("Redact(%q) = %q, want %q (spans %s)", c.in, got, c.want, describe(c.in, spans))
		}
	}
}

func TestRedactorKinds(t *testing.T) {
	in := "jane@example.com 4111111111111111 +44 20 7946 0958"
	got, spans := NewRedactor(KindCard).Redact(in)
	if want := "jane@example.com [card] +44 20 7946 0958"; got != want {
		t.Errorf("card-only Redact = %q, want %q", got, want)
	}
	if len(spans) != 1 || spans[0].Kind != KindCard {
		t.Errorf("card-only spans = %v", spans)
	}
	all, _ := NewRedactor().Redact(in)
	zero, _ := (&Redactor{}).Redact(in)
	if all != "[email] [card] [phone]" || zero != all {
		t.Errorf("all kinds: NewRedactor() %q, zero Redactor %q", all, zero)
	}
}

func TestKindNames(t *testing.T) {
	for k := KindEmail; k <= lastKind; k++ {
		if k.Token() != "["+k.String()+"]" {
			t.Errorf("kind %d: token %q, name %q", k, k.Token(), k.String())
		}
	}
	if Kind(0).String() != "unknown" || Kind(99).Token() != "[redacted]" {
		t.Error("out-of-range kinds must not panic and must read as unknown")
	}
}

// TestSpansAndIdempotence checks on every corpus line that the spans are
// sorted, disjoint and in range, that Redact is exactly "replace each span
// by its token", and that redacting the output changes nothing.
func TestSpansAndIdempotence(t *testing.T) {
	for _, l := range loadCorpus(t) {
		checkRedaction(t, l.Text)
	}
}

func checkRedaction(t *testing.T, text string) {
	t.Helper()
	out, spans := Redact(text)
	var b strings.Builder
	last := 0
	for i, sp := range spans {
		if sp.Start < last || sp.End <= sp.Start || sp.End > len(text) || sp.Kind == 0 || sp.Kind > lastKind {
			t.Fatalf("Redact(%q): span %d %+v out of order, empty or out of range", text, i, sp)
		}
		b.WriteString(text[last:sp.Start])
		b.WriteString(sp.Kind.Token())
		last = sp.End
	}
	b.WriteString(text[last:])
	if b.String() != out {
		t.Fatalf("Redact(%q) = %q, but its spans give %q", text, out, b.String())
	}
	if again, more := Redact(out); again != out || len(more) != 0 {
		t.Fatalf("Redact is not idempotent on %q:\n first  %q\n second %q (%s)", text, out, again, describe(out, more))
	}
}

// TestMergeBack checks the mapping of spans found in redacted text back to
// the original: outside tokens offsets shift by the tokens' length changes,
// and a span reaching into a token absorbs the span behind it.
func TestMergeBack(t *testing.T) {
	text := "x jane@a.io y 0612 z"
	spans := []Span{{Kind: KindEmail, Start: 2, End: 11}}
	out := render(text, spans) // "x [email] y 0612 z"
	if out != "x [email] y 0612 z" {
		t.Fatalf("render = %q", out)
	}
	at := strings.Index(out, "0612")
	got := mergeBack(spans, []Span{{Kind: KindPhone, Start: at, End: at + 4}})
	want := []Span{spans[0], {Kind: KindPhone, Start: 14, End: 18}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("mergeBack = %v, want %v", got, want)
	}
	// A span starting inside "[email]" and ending at "y" absorbs the e-mail.
	got = mergeBack(spans, []Span{{Kind: KindPhone, Start: 4, End: strings.Index(out, "y") + 1}})
	if want := (Span{Kind: KindEmail, Start: 2, End: 13}); len(got) != 1 || got[0] != want {
		t.Errorf("crossing span: mergeBack = %v, want [%v]", got, want)
	}
	// Found by fuzzing: "X" reads as a unit ("3 x 128 GB") after the first
	// number until the second address is replaced; the second pass finds
	// the first address too.
	if out, _ := Redact("A gAtA 0 X gAtA 0"); out != "[address] [address]" {
		t.Errorf("Redact = %q, want both addresses", out)
	}
}

func TestRedactCleanTextAllocations(t *testing.T) {
	clean := "do you have the WH-1000XM4 in black for under 300 euros? order 123456"
	if out, _ := Redact(clean); out != clean {
		t.Fatalf("clean text changed: %q", out)
	}
	if n := testing.AllocsPerRun(100, func() { Redact(clean) }); n != 0 {
		t.Errorf("Redact allocates %.0f times on text without personal data, want 0", n)
	}
	dirty := "call me on +44 20 7946 0958 or mail jane.doe@example.com about order 123456"
	// the spans, the result and its builder's buffer
	if n := testing.AllocsPerRun(100, func() { Redact(dirty) }); n > 3 {
		t.Errorf("Redact allocates %.0f times on a message with two spans, want <= 3", n)
	}
}

// TestLinearTime feeds inputs built to defeat a backtracking matcher and
// checks the work stays proportional to the length: doubling the input must
// not much more than double the spans or the output (time itself is not
// measured; see BenchmarkRedactWorstCase).
func TestLinearTime(t *testing.T) {
	for _, unit := range []string{"1 ", "1-", "a@", "a.", "12 Baker ", "DE89 ", "+1 (", "0", "x@y.", "Via Roma ", "#4111111111111111 "} {
		in := strings.Repeat(unit, 4096/len(unit))
		checkRedaction(t, in)
	}
}

var benchMessages = map[string]string{
	"clean":  "hi, do you have wireless noise cancelling headphones under 200 euros, like the WH-1000XM4?",
	"order":  "my order #123456 from 12/03/2024 still hasn't arrived, it was 2 items for 89.99",
	"pii":    "hi, order 123456 is late, call me on +44 20 7946 0958 or mail jane.doe@example.com, I'm at 221B Baker Street, London NW1 6XE",
	"card":   "please charge 4111 1111 1111 1111 exp 08/27 and refund the rest to DE89 3704 0044 0532 0130 00",
	"letter": strings.Repeat("My order 123456 arrived damaged. The 55 inch TV has a cracked screen and the box was open. ", 20) + "Call 0612345678.",
}

func BenchmarkRedact(b *testing.B) {
	for _, name := range []string{"clean", "order", "pii", "card", "letter"} {
		msg := benchMessages[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				Redact(msg)
			}
		})
	}
}

// BenchmarkRedactWorstCase runs 4 KiB inputs (the chat's message limit)
// made of one repeated look-alike, the most work per byte found.
func BenchmarkRedactWorstCase(b *testing.B) {
	for _, unit := range []string{"1 ", "12 Baker ", "a@b.", "0612345678 "} {
		in := strings.Repeat(unit, 4096/len(unit))
		b.Run(strings.TrimSpace(unit), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				Redact(in)
			}
		})
	}
}
