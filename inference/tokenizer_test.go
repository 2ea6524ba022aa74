package inference

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hfVocab is the vocabulary of Hugging Face's own BertTokenizer tests, plus
// a few tokens for the cases below.
var hfVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn", "##ing",
	",", "low", "lowest", "hello", "!", "how", "are", "you", "?", "ah", "\u535a", "\u63a8", "zz",
	"$", "49", ".", "95", "lc", "##51", "##c", "istanbul", "cafe", "a", "b", "c", "abc",
	"hällo", "HeLLo", "Are", "yoU", "'", "s", "σ", "ς", "##σ", "##ς", "##α", "ο", "##δ", "##ο",
}

func newTestTokenizer(t testing.TB, cfg TokenizerConfig) *Tokenizer {
	t.Helper()
	tok, err := NewTokenizer(strings.NewReader(strings.Join(hfVocab, "\n")+"\n"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func boolp(b bool) *bool { return &b }

func TestTokenizerHFCases(t *testing.T) {
	lower := newTestTokenizer(t, TokenizerConfig{})
	cased := newTestTokenizer(t, TokenizerConfig{DoLowerCase: boolp(false)})
	keepAccents := newTestTokenizer(t, TokenizerConfig{StripAccents: boolp(false)})
	long := strings.Repeat("a", 101)
	cases := []struct {
		name string
		tok  *Tokenizer
		in   string
		want string // space-separated pieces
	}{
		{"wordpiece", lower, "UNwant\u00e9d,running", "un ##want ##ed , runn ##ing"},
		{"basic lower", lower, " \tHeLLo!how  \n Are yoU?  ", "hello ! how are you ?"},
		{"cased", cased, " \tHeLLo!how  \n Are yoU?  ", "HeLLo ! how Are yoU ?"},
		{"lower keeps accents", keepAccents, " \tHäLLo!how", "hällo ! how"},
		{"accents stripped", lower, "H\u00e9llo h\u0065\u0301llo", "hello hello"},
		{"chinese", lower, "ah\u535a\u63a8zz", "ah \u535a \u63a8 zz"},
		{"unknown word", lower, "unwantedX running", "[UNK] runn ##ing"},
		{"empty", lower, "", ""},
		{"only spaces", lower, " \u3000\t ", ""},
		{"price", lower, "$49.95", "$ 49 . 95"},
		{"model number", lower, "LC51C", "lc ##51 ##c"},
		{"control chars dropped, not split", lower, "a\x00b\u200bc", "abc"},
		{"replacement char dropped", lower, "a\ufffdb\ufffd", "[UNK]"},
		{"dotted capital I", lower, "\u0130stanbul", "istanbul"},
		{"final sigma", lower, "ΣΑΣ ΟΔΟΣ. ΣΑ'Σ'", "σ ##α ##ς ο ##δ ##ο ##ς . σ ##α ' ς '"},
		{"NBSP and line separator split", lower, "a\u00a0b\u2028c", "a b c"},
		{"emoji is a word", lower, "a \U0001F600 b", "a [UNK] b"},
		{"unicode 15 emoji is unassigned in Python 3.11", lower, "a \U0001FAE8 b", "a b"},
		{"combining mark alone vanishes", lower, "a \u0301 b", "a b"},
		{"fullwidth punctuation", lower, "a\uff01b", "a [UNK] b"},
		{"apostrophe", lower, "cafe's", "cafe ' s"},
		{"word over 100 chars", lower, long + " a", "[UNK] a"},
		{"word of 100 chars is tried", lower, strings.Repeat("a", 100), "[UNK]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(c.tok.Tokens(c.in), " ")
			if got != c.want {
				t.Errorf("Tokens(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestEncodeSpecialsAndTruncation(t *testing.T) {
	tok := newTestTokenizer(t, TokenizerConfig{})
	id := func(s string) int64 { return int64(slices.Index(hfVocab, s)) }
	e := tok.Encode("how are you", 0)
	want := []int64{id("[CLS]"), id("how"), id("are"), id("you"), id("[SEP]")}
	if !slices.Equal(e.IDs, want) || !slices.Equal(e.Mask, []int64{1, 1, 1, 1, 1}) || !slices.Equal(e.TypeIDs, []int64{0, 0, 0, 0, 0}) {
		t.Fatalf("Encode = %+v, want ids %v", e, want)
	}
	e = tok.Encode("how are you", 4)
	if want := []int64{id("[CLS]"), id("how"), id("are"), id("[SEP]")}; !slices.Equal(e.IDs, want) {
		t.Fatalf("Encode(max 4) = %v, want %v", e.IDs, want)
	}
	// A word's pieces are cut mid-word, as HF does.
	e = tok.Encode("unwanted", 4)
	if want := []int64{id("[CLS]"), id("un"), id("##want"), id("[SEP]")}; !slices.Equal(e.IDs, want) {
		t.Fatalf("Encode(unwanted, 4) = %v, want %v", e.IDs, want)
	}
	if e := tok.Encode("how", 1); len(e.IDs) != 2 {
		t.Fatalf("Encode with maxLen below the specials: %v, want [CLS] [SEP]", e.IDs)
	}
}

func TestEncodePairLongestFirst(t *testing.T) {
	tok := newTestTokenizer(t, TokenizerConfig{})
	// a: 5 tokens, b: 3 tokens, budget 5: a loses 2, then the tie trims b.
	e := tok.EncodePair("a b c a b", "how are you", 8)
	got := []string{}
	for _, id := range e.IDs {
		got = append(got, hfVocab[id])
	}
	want := "[CLS] a b c [SEP] how are [SEP]"
	if strings.Join(got, " ") != want {
		t.Fatalf("EncodePair = %q, want %q", strings.Join(got, " "), want)
	}
	if !slices.Equal(e.TypeIDs, []int64{0, 0, 0, 0, 0, 1, 1, 1}) {
		t.Fatalf("TypeIDs = %v", e.TypeIDs)
	}
	for _, c := range []struct{ la, lb, budget, wa, wb int }{
		{5, 3, 5, 3, 2}, {3, 5, 5, 3, 2}, {4, 4, 5, 3, 2}, {10, 1, 5, 4, 1}, {1, 10, 5, 1, 4}, {2, 2, 9, 2, 2}, {9, 9, 0, 0, 0},
	} {
		if a, b := truncateLongestFirst(c.la, c.lb, c.budget); a != c.wa || b != c.wb {
			t.Errorf("truncateLongestFirst(%d,%d,%d) = %d,%d, want %d,%d", c.la, c.lb, c.budget, a, b, c.wa, c.wb)
		}
	}
}

func TestVocabUniversalNewlines(t *testing.T) {
	tok, err := NewTokenizer(strings.NewReader("[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nhi\nhi"), TokenizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 6 {
		t.Fatalf("VocabSize = %d, want 6", tok.VocabSize())
	}
	// A repeated token keeps its first line, as the training tokenizer does.
	if e := tok.Encode("hi", 0); !slices.Equal(e.IDs, []int64{2, 4, 3}) {
		t.Fatalf("Encode(hi) = %v, want [2 4 3]", e.IDs)
	}
	if _, err := NewTokenizer(strings.NewReader("[PAD]\n[CLS]\n"), TokenizerConfig{}); err == nil {
		t.Fatal("vocab without [UNK]/[SEP]: no error")
	}
}

type goldenTokens struct {
	Text          string  `json:"text"`
	TextPair      *string `json:"text_pair"`
	MaxLength     int     `json:"max_length"`
	InputIDs      []int64 `json:"input_ids"`
	TokenTypeIDs  []int64 `json:"token_type_ids"`
	AttentionMask []int64 `json:"attention_mask"`
}

// TestTokenizerParity checks every line of the training pipeline's golden
// file: the same ids, types and mask as the Python tokenizer, token for token.
func TestTokenizerParity(t *testing.T) {
	dir := filepath.Join("..", "models", "intent")
	golden := filepath.Join(dir, "golden", "tokens.jsonl")
	minLines := 1000
	if p := os.Getenv("SHOPASSIST_TOKENS_GOLDEN"); p != "" { // extra corpora, same vocab
		golden, minLines = p, 1
	}
	f, err := os.Open(golden)
	if os.IsNotExist(err) {
		t.Skip("models/intent/golden/tokens.jsonl not written yet by training/")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	n, bad := 0, 0
	for sc.Scan() {
		var g goldenTokens
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		var e Encoding
		if g.TextPair != nil {
			e = tok.EncodePair(g.Text, *g.TextPair, g.MaxLength)
		} else {
			e = tok.Encode(g.Text, g.MaxLength)
		}
		if !slices.Equal(e.IDs, g.InputIDs) || !slices.Equal(e.TypeIDs, g.TokenTypeIDs) || !slices.Equal(e.Mask, g.AttentionMask) {
			bad++
			if bad <= 20 {
				t.Errorf("line %d %q pair=%v max=%d:\n got  %v %v\n want %v %v\n pieces %q",
					n, g.Text, g.TextPair, g.MaxLength, e.IDs, e.TypeIDs, g.InputIDs, g.TokenTypeIDs, tok.Tokens(g.Text))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < minLines {
		t.Errorf("golden file has %d lines, want >= %d", n, minLines)
	}
	if bad > 0 {
		t.Errorf("%d of %d golden lines differ", bad, n)
	}
	t.Logf("%d golden lines match", n-bad)
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "UNwant\u00e9d,running", "$49.95 LC51C", "ah\u535a\u63a8zz", "\u0130 \U0001FAE8 \U0001F600",
		"a\x00b\u200bc", strings.Repeat("unwanted ", 40), "\xff\xfe bad utf8", "H\u00e9llo h\u0065\u0301llo"} {
		f.Add(s, "how are you", 8)
		f.Add(s, "", 0)
	}
	tok := newTestTokenizer(f, TokenizerConfig{})
	f.Fuzz(func(t *testing.T, a, b string, maxLen int) {
		maxLen %= 600
		check := func(e Encoding, pair bool) {
			n := len(e.IDs)
			if n < 2 || (pair && n < 3) || len(e.TypeIDs) != n || len(e.Mask) != n {
				t.Fatalf("bad shape %+v", e)
			}
			if maxLen >= 3 && n > maxLen {
				t.Fatalf("len %d > maxLen %d", n, maxLen)
			}
			if e.IDs[0] != tok.cls || e.IDs[n-1] != tok.sep {
				t.Fatalf("no [CLS] ... [SEP]: %v", e.IDs)
			}
			seps := 0
			for i, id := range e.IDs {
				if id < 0 || id >= int64(tok.VocabSize()) || e.Mask[i] != 1 {
					t.Fatalf("id %d out of range or mask 0 at %d: %+v", id, i, e)
				}
				if id == tok.sep {
					seps++
				}
			}
			if want := map[bool]int{false: 1, true: 2}[pair]; seps != want {
				t.Fatalf("%d [SEP], want %d: %v", seps, want, e.IDs)
			}
		}
		check(tok.Encode(a, maxLen), false)
		check(tok.EncodePair(a, b, maxLen), true)
	})
}

func BenchmarkTokenize(b *testing.B) {
	tok, err := LoadTokenizer(filepath.Join("..", "models", "intent"))
	if err != nil {
		tok = newTestTokenizer(b, TokenizerConfig{})
		b.Logf("models/intent not available (%v); using the test vocab", err)
	}
	for _, c := range []struct{ name, text string }{
		{"ascii", "do you have the LC51C ink cartridge under $49.95?"},
		{"unicode", "Chaussures de randonnée imperméables pour femme 😀"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tok.Encode(c.text, 64)
			}
		})
	}
}

// TestLoadTokenizerHFConfig reads a tokenizer_config.json as Hugging Face
// writes it: AddedToken objects, a huge model_max_length meaning "none".
func TestLoadTokenizerHFConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("vocab.txt", strings.Join(hfVocab, "\n")+"\n")
	write("tokenizer_config.json", `{"do_lower_case": false, "model_max_length": 1000000000000000019884624838656,
		"unk_token": {"__type": "AddedToken", "content": "[UNK]", "lstrip": false}, "cls_token": "[CLS]",
		"tokenizer_class": "BertTokenizer"}`)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ModelMaxLength() != 0 {
		t.Errorf("ModelMaxLength = %d, want 0 (unlimited)", tok.ModelMaxLength())
	}
	if got := strings.Join(tok.Tokens("HeLLo Are"), " "); got != "HeLLo Are" {
		t.Errorf("do_lower_case false: %q", got)
	}
	if e := tok.Encode(strings.Repeat("a ", 600), 0); len(e.IDs) != 602 {
		t.Errorf("no max length: %d ids, want 602", len(e.IDs))
	}
	write("tokenizer_config.json", `{"unk_token": "<unk>"}`)
	if _, err := LoadTokenizer(dir); err == nil || !strings.Contains(err.Error(), "<unk>") {
		t.Errorf("unknown special token: %v", err)
	}
	if _, err := LoadTokenizer(t.TempDir()); err == nil {
		t.Error("missing vocab.txt: no error")
	}
}
