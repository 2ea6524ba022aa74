package retrieval

import (
	"slices"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"punctuation only", " -- ,.; ", nil},
		{"lower-case words", "Bluetooth Speaker", []string{"bluetooth", "speaker"}},
		{"punctuation splits", "black/white, (new)!", []string{"black", "white", "new"}},
		{"model number kept whole with parts", "LC51C", []string{"lc51c", "lc", "51", "c"}},
		{"long code kept whole only", "R6B2A270", []string{"r6b2a270"}},
		{"digits only", "006 90321", []string{"006", "90321"}},
		{"decimal with unit", "15.6in", []string{"15.6in", "15.6", "in"}},
		{"decimal alone", "15.6 in", []string{"15.6", "in"}},
		{"trailing dot is punctuation", "USB 2.0.", []string{"usb", "2.0"}},
		{"quantity with unit", "2tb", []string{"2tb", "2", "tb"}},
		{"hyphen glued", "HP-61", []string{"hp", "61", "hp61"}},
		{"hyphen words glued", "Wi-Fi", []string{"wi", "fi", "wifi"}},
		{"long hyphen chain not glued", "a-b-c-d-e", []string{"a", "b", "c", "d", "e"}},
		{"hyphen then space not glued", "hp- 61", []string{"hp", "61"}},
		{"plural s", "speakers", []string{"speaker"}},
		{"plural ies", "batteries", []string{"battery"}},
		{"plural sses", "glasses", []string{"glass"}},
		{"plural ches", "switches", []string{"switch"}},
		{"ss kept", "wireless", []string{"wireless"}},
		{"us kept", "status", []string{"status"}},
		{"short word kept", "gps", []string{"gps"}},
		{"model number ending in s kept", "PS4s", []string{"ps4s", "ps", "4", "s"}},
		{"unicode letters", "Café Größe", []string{"café", "größe"}},
		{"non-ascii hyphen chain", "Ünter-Über", []string{"ünter", "über", "ünterüber"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Tokenize(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTokenizeOptions(t *testing.T) {
	tests := []struct {
		name string
		opts tokenOptions
		in   string
		want []string
	}{
		{"plain: no parts, no glue, no stem", plainTokenOptions, "HP-61 2tb speakers", []string{"hp", "61", "2tb", "speakers"}},
		{"split two segments only", tokenOptions{maxSplit: 2}, "2tb lc51c", []string{"2tb", "2", "tb", "lc51c"}},
		{"join only", tokenOptions{maxJoin: 2}, "hp-61 a-b-c", []string{"hp", "61", "hp61", "a", "b", "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := appendTokens(nil, tc.in, tc.opts)
			if !slices.Equal(got, tc.want) {
				t.Errorf("tokens(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"LC51C", "15.6in", "HP-61", "2tb", "Ünter-Über", "1.2.3.", "a--b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Tokenize(s) {
			if tok == "" {
				t.Fatalf("empty token from %q", s)
			}
			if again := Tokenize(tok); len(again) == 0 {
				t.Fatalf("token %q of %q tokenises to nothing", tok, s)
			}
		}
	})
}
