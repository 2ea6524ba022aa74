package retrieval

import (
	"unicode"
	"unicode/utf8"
)

// Tokenize splits s into the index terms used by the embedded index, in
// order of appearance. The same function runs over product fields at index
// time and over the shopper's query at search time, so both sides agree.
//
// Rules:
//
//   - Text is lower-cased (Unicode). Letters and digits (Unicode classes L,
//     Mn, Nd) form words; everything else separates words.
//   - A '.' between two digits stays inside the number: "15.6" is one word,
//     "v1.2" is one word.
//   - A word that mixes letters and digits (a model number or a quantity with
//     a unit) is kept whole, and when it has at most three letter/digit
//     segments those segments are added as extra terms: "2tb" → "2tb", "2",
//     "tb"; "15.6in" → "15.6in", "15.6", "in"; "LC51C" → "lc51c", "lc", "51",
//     "c". Longer codes ("R6B2A270") are kept whole only, since their pieces
//     match nothing useful.
//   - Words joined by hyphens are emitted separately and also glued
//     together: "HP-61" → "hp", "61", "hp61"; "Wi-Fi" → "wi", "fi", "wifi"
//     (for chains of up to four words).
//   - Light English plural stemming applies only to purely alphabetic terms
//     of four letters or more, so model numbers are never touched:
//     "batteries" → "battery", "speakers" → "speaker", "glasses" → "glass",
//     "switches" → "switch"; words ending in "ss", "us" or "is" are kept.
func Tokenize(s string) []string {
	return AppendTokens(nil, s)
}

// AppendTokens appends the terms of s (see Tokenize) to dst and returns it.
func AppendTokens(dst []string, s string) []string {
	return appendTokens(dst, s, defaultTokenOptions)
}

func appendTokens(dst []string, s string, opts tokenOptions) []string {
	t := tokenizer{opts: opts}
	t.run(s, func(tok []byte, _ bool) { dst = append(dst, string(tok)) })
	return dst
}

// tokenOptions selects the tokeniser's optional rules; the index tunes them
// on the dev judgments (see quality_test.go).
type tokenOptions struct {
	// maxSplit is the largest number of letter/digit segments a mixed word
	// may have for its segments to be added as extra terms; 0 disables.
	maxSplit int
	// maxJoin is the longest hyphen chain glued into one extra term; values
	// below 2 disable joining.
	maxJoin int
	// stem enables plural stemming of alphabetic terms.
	stem bool
}

var defaultTokenOptions = tokenOptions{maxSplit: 3, maxJoin: 4, stem: true}

// plainTokenOptions is lower-case alphanumeric words with none of the extra
// rules (the baseline's tokeniser, apart from the decimal point).
var plainTokenOptions = tokenOptions{}

// tokenizer holds scratch buffers so a long-lived owner (the index, under
// its write lock) tokenises without allocating. Not safe for concurrent use.
type tokenizer struct {
	opts tokenOptions
	// word is the current word, lower-cased; segs are the offsets where its
	// letter/digit segments start.
	word []byte
	segs []int
	// chain holds the hyphen-joined words so far, glued.
	chain    []byte
	chainLen int
	out      []byte
}

type runeClass uint8

const (
	classOther runeClass = iota
	classLetter
	classDigit
)

func classify(r rune) runeClass {
	switch {
	case r < utf8.RuneSelf:
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			return classLetter
		case '0' <= r && r <= '9':
			return classDigit
		}
		return classOther
	case unicode.IsDigit(r):
		return classDigit
	case unicode.IsLetter(r), unicode.Is(unicode.Mn, r):
		return classLetter
	}
	return classOther
}

// run calls emit for each term of s; extra is true for the derived terms
// (segments of a mixed word, glued hyphen chains) as opposed to the words
// themselves. The slice passed to emit is only valid during the call.
func (t *tokenizer) run(s string, emit func(tok []byte, extra bool)) {
	t.chain = t.chain[:0]
	t.chainLen = 0
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		c := classify(r)
		if c == classOther {
			i += size
			continue
		}
		// Scan one word.
		t.word = t.word[:0]
		t.segs = t.segs[:0]
		prev := classOther
		for i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
			c = classify(r)
			if c == classOther {
				// A '.' between digits continues a number.
				if r == '.' && prev == classDigit && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
					t.word = append(t.word, '.')
					i++
					continue
				}
				break
			}
			if c != prev {
				t.segs = append(t.segs, len(t.word))
				prev = c
			}
			t.word = utf8.AppendRune(t.word, unicode.ToLower(r))
			i += size
		}
		t.emitWord(emit)
		// Hyphen chains: "hp-61" glues to "hp61".
		if t.opts.maxJoin >= 2 {
			t.chain = append(t.chain, t.word...)
			t.chainLen++
			hyphen := false
			if i+1 < len(s) && s[i] == '-' {
				r2, _ := utf8.DecodeRuneInString(s[i+1:])
				hyphen = classify(r2) != classOther
			}
			if !hyphen {
				if t.chainLen >= 2 && t.chainLen <= t.opts.maxJoin {
					t.emitTerm(t.chain, true, emit)
				}
				t.chain = t.chain[:0]
				t.chainLen = 0
			}
		}
	}
}

// emitWord emits the current word and, for short mixed letter/digit words,
// its segments.
func (t *tokenizer) emitWord(emit func([]byte, bool)) {
	t.emitTerm(t.word, false, emit)
	n := len(t.segs)
	if n < 2 || n > t.opts.maxSplit {
		return
	}
	for j, start := range t.segs {
		end := len(t.word)
		if j+1 < n {
			end = t.segs[j+1]
		}
		t.emitTerm(t.word[start:end], true, emit)
	}
}

// emitTerm stems an alphabetic term when enabled and emits it.
func (t *tokenizer) emitTerm(term []byte, extra bool, emit func([]byte, bool)) {
	if t.opts.stem {
		term = t.stem(term)
	}
	emit(term, extra)
}

// stem removes an English plural ending from an alphabetic ASCII-ending
// term of at least four bytes; other terms are returned unchanged.
func (t *tokenizer) stem(w []byte) []byte {
	n := len(w)
	if n < 4 || w[n-1] != 's' {
		return w
	}
	for _, b := range w {
		if '0' <= b && b <= '9' || b == '.' {
			return w
		}
	}
	switch {
	case n >= 5 && hasSuffix(w, "ies") && !hasSuffix(w, "eies") && !hasSuffix(w, "aies"):
		t.out = append(append(t.out[:0], w[:n-3]...), 'y')
		return t.out
	case hasSuffix(w, "sses"), hasSuffix(w, "ches"), hasSuffix(w, "shes"), hasSuffix(w, "xes"):
		return w[:n-2]
	case hasSuffix(w, "ss"), hasSuffix(w, "us"), hasSuffix(w, "is"):
		return w
	}
	return w[:n-1]
}

func hasSuffix(w []byte, suf string) bool {
	return len(w) >= len(suf) && string(w[len(w)-len(suf):]) == suf
}
