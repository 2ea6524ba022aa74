package inference

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Encoding is one tokenized input: ids, segment (token type) ids and the
// attention mask, all the same length. Encode returns it unpadded; padding
// to a batch happens in Model.Logits.
type Encoding struct {
	IDs     []int64
	TypeIDs []int64
	Mask    []int64
}

// Len is the number of tokens, [CLS] and [SEP] included.
func (e Encoding) Len() int { return len(e.IDs) }

// TokenizerConfig mirrors the Hugging Face tokenizer_config.json fields that
// change BertTokenizer's output. Missing fields take BertTokenizer's
// defaults (lower case on, accents follow lower case, CJK splitting on).
type TokenizerConfig struct {
	DoLowerCase          *bool    `json:"do_lower_case"`
	StripAccents         *bool    `json:"strip_accents"`
	TokenizeChineseChars *bool    `json:"tokenize_chinese_chars"`
	ModelMaxLength       *float64 `json:"model_max_length"`
	UnkToken             any      `json:"unk_token"`
	ClsToken             any      `json:"cls_token"`
	SepToken             any      `json:"sep_token"`
	PadToken             any      `json:"pad_token"`
}

// Tokenizer is a WordPiece tokenizer with the semantics of Hugging Face's
// (slow) BertTokenizer as the training pipeline reimplements it
// (training/shopassist_training/tokenizer.py): clean text, CJK splitting,
// NFC, Python str.lower() per word (so final sigma becomes ς), accent
// stripping through NFD, punctuation splitting, greedy longest-match word
// pieces with [UNK] for words that do not decompose or exceed 100 code
// points, longest_first truncation for pairs. Characters are classified as
// Python 3.11 (Unicode 14) does; see pyUnassigned.
//
// A Tokenizer is immutable after LoadTokenizer and safe for concurrent use.
type Tokenizer struct {
	vocab        map[string]int32
	inv          []string // id -> token, for Tokens
	size         int
	lower        bool
	strip        bool
	cjk          bool
	modelMaxLen  int // 0: unlimited
	maxWordChars int
	cls, sep     int64
	pad, unk     int64
	scratch      sync.Pool // *tokScratch
}

type tokScratch struct {
	runes []rune
	b1    []byte
	b2    []byte
	key   []byte
	a     []int64
	b     []int64
}

// LoadTokenizer reads dir/vocab.txt (one token per line, id = line number)
// and, if present, dir/tokenizer_config.json.
func LoadTokenizer(dir string) (*Tokenizer, error) {
	f, err := os.Open(filepath.Join(dir, "vocab.txt"))
	if err != nil {
		return nil, fmt.Errorf("inference: load tokenizer: %w", err)
	}
	defer f.Close()
	var cfg TokenizerConfig
	switch data, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); {
	case err == nil:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("inference: %s: %w", filepath.Join(dir, "tokenizer_config.json"), err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("inference: load tokenizer: %w", err)
	}
	return NewTokenizer(f, cfg)
}

// NewTokenizer builds a tokenizer from a vocab.txt stream and a config.
func NewTokenizer(vocab io.Reader, cfg TokenizerConfig) (*Tokenizer, error) {
	t := &Tokenizer{
		vocab:        make(map[string]int32, 32000),
		lower:        true,
		cjk:          true,
		maxWordChars: 100,
	}
	if cfg.DoLowerCase != nil {
		t.lower = *cfg.DoLowerCase
	}
	// HF: strip_accents None follows do_lower_case; an explicit value wins.
	t.strip = t.lower
	if cfg.StripAccents != nil {
		t.strip = *cfg.StripAccents
	}
	if cfg.TokenizeChineseChars != nil {
		t.cjk = *cfg.TokenizeChineseChars
	}
	if m := cfg.ModelMaxLength; m != nil && *m > 0 && *m < math.MaxInt32 {
		t.modelMaxLen = int(*m)
	}
	// Python's text-mode reading: universal newlines (\n, \r\n, \r), only
	// the newline stripped; a repeated token keeps its first line number, as
	// the training tokenizer does (training/shopassist_training/tokenizer.py).
	sc := bufio.NewScanner(vocab)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	sc.Split(scanUniversalLines)
	for sc.Scan() {
		tok := sc.Text()
		if _, dup := t.vocab[tok]; !dup {
			t.vocab[tok] = int32(t.size)
		}
		t.inv = append(t.inv, tok)
		t.size++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("inference: read vocab: %w", err)
	}
	if t.size == 0 {
		return nil, errors.New("inference: vocab.txt is empty")
	}
	var err error
	lookup := func(v any, def string) int64 {
		name := def
		switch x := v.(type) {
		case string:
			name = x
		case map[string]any: // AddedToken serialisation
			if c, ok := x["content"].(string); ok {
				name = c
			}
		}
		id, ok := t.vocab[name]
		if !ok && err == nil {
			err = fmt.Errorf("inference: special token %q not in vocab.txt", name)
		}
		return int64(id)
	}
	t.unk = lookup(cfg.UnkToken, "[UNK]")
	t.cls = lookup(cfg.ClsToken, "[CLS]")
	t.sep = lookup(cfg.SepToken, "[SEP]")
	t.pad = lookup(cfg.PadToken, "[PAD]")
	if err != nil {
		return nil, err
	}
	t.scratch.New = func() any { return new(tokScratch) }
	return t, nil
}

func scanUniversalLines(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // need one more byte to tell \r from \r\n
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// VocabSize is the number of lines in vocab.txt (ids are below it).
func (t *Tokenizer) VocabSize() int { return t.size }

// PadID is the id used for padding.
func (t *Tokenizer) PadID() int64 { return t.pad }

// ModelMaxLength is model_max_length from tokenizer_config.json, 0 if unset.
func (t *Tokenizer) ModelMaxLength() int { return t.modelMaxLen }

// Encode tokenizes one sequence as [CLS] tokens [SEP], truncated so that the
// whole fits in maxLen (maxLen <= 0: model_max_length, or no limit when that
// is unset). It returns an unpadded Encoding whose three slices share one
// allocation; the rest of the work reuses pooled scratch space.
func (t *Tokenizer) Encode(text string, maxLen int) Encoding {
	sc := t.scratch.Get().(*tokScratch)
	defer t.scratch.Put(sc)
	budget := t.budget(maxLen, 2)
	sc.a = t.tokenize(sc, text, sc.a[:0], budget)
	a := sc.a
	if budget >= 0 && len(a) > budget {
		a = a[:budget]
	}
	n := len(a) + 2
	e := newEncoding(n)
	e.IDs[0] = t.cls
	copy(e.IDs[1:], a)
	e.IDs[n-1] = t.sep
	return e
}

// EncodePair tokenizes a pair as [CLS] a [SEP] b [SEP] with token type 0 for
// the first part and 1 for the second, truncated longest_first (ties trim the
// second sequence first, as HF's slow tokenizer does) to fit maxLen.
func (t *Tokenizer) EncodePair(a, b string, maxLen int) Encoding {
	sc := t.scratch.Get().(*tokScratch)
	defer t.scratch.Put(sc)
	budget := t.budget(maxLen, 3)
	sc.a = t.tokenize(sc, a, sc.a[:0], budget)
	sc.b = t.tokenize(sc, b, sc.b[:0], budget)
	ta, tb := sc.a, sc.b
	if budget >= 0 && len(ta)+len(tb) > budget {
		la, lb := truncateLongestFirst(len(ta), len(tb), budget)
		ta, tb = ta[:la], tb[:lb]
	}
	n := len(ta) + len(tb) + 3
	e := newEncoding(n)
	e.IDs[0] = t.cls
	copy(e.IDs[1:], ta)
	e.IDs[1+len(ta)] = t.sep
	copy(e.IDs[2+len(ta):], tb)
	e.IDs[n-1] = t.sep
	for i := 2 + len(ta); i < n; i++ {
		e.TypeIDs[i] = 1
	}
	return e
}

// truncateLongestFirst returns the lengths HF's longest_first strategy keeps:
// it removes one token at a time from the longer sequence, from the second
// on ties, until la+lb <= budget.
func truncateLongestFirst(la, lb, budget int) (int, int) {
	for la+lb > budget {
		if la > lb {
			la--
		} else {
			lb--
		}
	}
	return la, lb
}

// budget is the number of content tokens allowed, or -1 for no limit.
func (t *Tokenizer) budget(maxLen, specials int) int {
	if maxLen <= 0 {
		maxLen = t.modelMaxLen
	}
	if maxLen <= 0 {
		return -1
	}
	return max(maxLen-specials, 0)
}

func newEncoding(n int) Encoding {
	buf := make([]int64, 3*n)
	e := Encoding{IDs: buf[:n:n], TypeIDs: buf[n : 2*n : 2*n], Mask: buf[2*n:]}
	for i := range e.Mask {
		e.Mask[i] = 1
	}
	return e
}

// Tokens returns the word pieces of text (no specials, no truncation); for
// debugging and tests.
func (t *Tokenizer) Tokens(text string) []string {
	ids := t.tokenize(new(tokScratch), text, nil, -1)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.inv[id]
	}
	return out
}

// tokenize appends the word-piece ids of text to dst. With limit >= 0 it
// stops after the word that brings dst to limit ids (the caller truncates).
func (t *Tokenizer) tokenize(sc *tokScratch, text string, dst []int64, limit int) []int64 {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return t.tokenizeASCII(sc, text, dst, limit)
	}
	return t.tokenizeUnicode(sc, text, dst, limit)
}

// ASCII classes, per HF: control (dropped), whitespace, punctuation.
const (
	aWord = iota
	aSpace
	aPunct
	aDrop
)

var asciiClass = func() (c [128]uint8) {
	for i := range c {
		switch {
		case i == ' ' || i == '\t' || i == '\n' || i == '\r':
			c[i] = aSpace
		case i < 32 || i == 127:
			c[i] = aDrop
		case i >= 33 && i <= 47, i >= 58 && i <= 64, i >= 91 && i <= 96, i >= 123 && i <= 126:
			c[i] = aPunct
		}
	}
	return c
}()

func (t *Tokenizer) tokenizeASCII(sc *tokScratch, text string, dst []int64, limit int) []int64 {
	w := sc.b1[:0]
	flush := func() {
		if len(w) > 0 {
			dst = t.wordPiece(sc, w, len(w), dst)
			w = w[:0]
		}
	}
	for i := 0; i < len(text); i++ {
		if limit >= 0 && len(dst) >= limit {
			break
		}
		c := text[i]
		switch asciiClass[c] {
		case aWord:
			if t.lower && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			w = append(w, c)
		case aSpace:
			flush()
		case aPunct:
			flush()
			w = append(w, c)
			flush()
		case aDrop:
		}
	}
	if limit < 0 || len(dst) < limit {
		flush()
	}
	sc.b1 = w
	return dst
}

func (t *Tokenizer) tokenizeUnicode(sc *tokScratch, text string, dst []int64, limit int) []int64 {
	// 1. _clean_text and _tokenize_chinese_chars, into UTF-8 bytes.
	b := sc.b1[:0]
	for _, r := range text {
		switch {
		case r == 0 || r == utf8.RuneError || isControl(r):
			continue
		case isHFWhitespace(r):
			b = append(b, ' ')
		case t.cjk && isChineseChar(r):
			b = append(b, ' ')
			b = utf8.AppendRune(b, r)
			b = append(b, ' ')
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	// 2. NFC, as BasicTokenizer does before splitting on whitespace.
	if !norm.NFC.IsNormal(b) {
		sc.b2 = norm.NFC.Append(sc.b2[:0], b...)
		b, sc.b2 = sc.b2, b
	}
	// 3. Lower case as Python's str.lower() on each whitespace-separated
	// word (full mapping: İ -> i̇, final sigma), then accent stripping (NFD,
	// then drop Mn). Doing it on the whole text is the same, since words
	// are cut at spaces, which are neither cased nor case-ignorable.
	if t.lower {
		out := sc.b2[:0]
		for i := 0; i < len(b); {
			r, n := utf8.DecodeRune(b[i:])
			switch {
			case r == 0x130: // İ lowers to i + U+0307 in Python
				out = append(out, 'i', 0xcc, 0x87)
			case r == 0x3a3 && finalSigma(b, i, n):
				out = utf8.AppendRune(out, 0x3c2) // ς
			default:
				out = utf8.AppendRune(out, unicode.ToLower(r))
			}
			i += n
		}
		b, sc.b2 = out, b
	}
	if t.strip {
		if !norm.NFD.IsNormal(b) {
			sc.b2 = norm.NFD.Append(sc.b2[:0], b...)
			b, sc.b2 = sc.b2, b
		}
		out := sc.b2[:0]
		for i := 0; i < len(b); {
			r, n := utf8.DecodeRune(b[i:])
			if r < utf8.RuneSelf || !unicode.Is(unicode.Mn, r) {
				out = append(out, b[i:i+n]...)
			}
			i += n
		}
		b, sc.b2 = out, b
	}
	sc.b1 = b
	// 4. Split on whitespace (Python str.split) and punctuation, then word
	// pieces. Words are sub-slices of b, so no copy.
	start, chars := -1, 0
	for i := 0; i < len(b); {
		if limit >= 0 && len(dst) >= limit {
			return dst
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case isPySpace(r):
			if start >= 0 {
				dst = t.wordPiece(sc, b[start:i], chars, dst)
				start, chars = -1, 0
			}
		case isPunctuation(r):
			if start >= 0 {
				dst = t.wordPiece(sc, b[start:i], chars, dst)
				start, chars = -1, 0
			}
			dst = t.wordPiece(sc, b[i:i+n], 1, dst)
		default:
			if start < 0 {
				start = i
			}
			chars++
		}
		i += n
	}
	if start >= 0 && (limit < 0 || len(dst) < limit) {
		dst = t.wordPiece(sc, b[start:], chars, dst)
	}
	return dst
}

// wordPiece appends the greedy longest-match-first pieces of word (valid
// UTF-8, chars runes long), or [UNK] when it has no decomposition or is
// longer than maxWordChars.
func (t *Tokenizer) wordPiece(sc *tokScratch, word []byte, chars int, dst []int64) []int64 {
	if chars > t.maxWordChars {
		return append(dst, t.unk)
	}
	mark := len(dst)
	for start := 0; start < len(word); {
		var key []byte
		if start == 0 {
			key = word
		} else {
			sc.key = append(append(sc.key[:0], '#', '#'), word[start:]...)
			key = sc.key
		}
		off := len(key) - (len(word) - start) // 0 or 2
		found := false
		for end := len(word); end > start; {
			if id, ok := t.vocab[string(key[:off+end-start])]; ok { // no alloc
				dst = append(dst, int64(id))
				start = end
				found = true
				break
			}
			_, n := utf8.DecodeLastRune(word[start:end])
			end -= n
		}
		if !found {
			return append(dst[:mark], t.unk)
		}
	}
	return dst
}

// isControl is HF's _is_control (category C*, but not \t \n \r), with the
// code points new in Unicode 15 counted as unassigned, as Python 3.11 does.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < 0x80 {
		return r < 32 || r == 127
	}
	return unicode.Is(unicode.C, r) || !isAssigned(r) || unicode.Is(pyUnassigned, r)
}

var assignedTables = []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C}

func isAssigned(r rune) bool {
	return unicode.In(r, assignedTables...)
}

// isHFWhitespace is HF's _is_whitespace: space, \t, \n, \r or category Zs.
func isHFWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || (r >= 0x80 && unicode.Is(unicode.Zs, r))
}

// isPySpace is Python's str.isspace, which str.split uses.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// isPunctuation is HF's _is_punctuation: all non-alphanumeric printable
// ASCII, plus Unicode category P*.
func isPunctuation(r rune) bool {
	if r < 0x80 {
		return asciiClass[r] == aPunct
	}
	return unicode.IsPunct(r)
}

// isChineseChar is HF's _is_chinese_char: the CJK Unified Ideographs blocks
// (not Hangul, Hiragana or Katakana).
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// finalSigma reports whether the capital sigma at b[i:i+n] is in Python's
// Final_Sigma context: a cased letter before it and none after it, skipping
// case-ignorable characters, within the word.
func finalSigma(b []byte, i, n int) bool {
	cased := false
	for j := i; j > 0; {
		r, sz := utf8.DecodeLastRune(b[:j])
		if !isCaseIgnorable(r) {
			cased = isCased(r)
			break
		}
		j -= sz
	}
	if !cased {
		return false
	}
	for k := i + n; k < len(b); {
		r, sz := utf8.DecodeRune(b[k:])
		if !isCaseIgnorable(r) {
			return !isCased(r)
		}
		k += sz
	}
	return true
}

// isCased is Unicode's Cased property (Lu, Ll, Lt, Other_Uppercase,
// Other_Lowercase).
func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable is Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk
// and Word_Break MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case 0x27, 0x2e, 0x3a, 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
