package privacy

import (
	"unicode"
	"unicode/utf8"
)

func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(r rune) bool       { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// runeBefore is the rune ending at byte i; a rune inside a span already
// found reads as ']' (the end of a replacement token).
func (f *finder) runeBefore(i int) rune {
	r, _ := f.runeSizeBefore(i)
	return r
}

// runeSizeBefore is runeBefore with the rune's width in bytes (0 at the
// start of the text).
func (f *finder) runeSizeBefore(i int) (rune, int) {
	if i <= 0 {
		return ' ', 0
	}
	if _, ok := f.covered(i - 1); ok {
		return ']', 1
	}
	return utf8.DecodeLastRuneInString(f.s[:i])
}

// runeAt is the rune starting at byte i (' ' at the end); a rune inside a
// span already found reads as '['.
func (f *finder) runeAt(i int) rune {
	if i >= len(f.s) {
		return ' '
	}
	if _, ok := f.covered(i); ok {
		return '['
	}
	r, _ := utf8.DecodeRuneInString(f.s[i:])
	return r
}

// word is a maximal run of non-blank bytes on one line, with its core: the
// word without leading and trailing punctuation.
type word struct {
	start, end int // the whole word
	cs, ce     int // the core
	stop       bool
}

func (w word) core(s string) string  { return s[w.cs:w.ce] }
func (w word) trail(s string) string { return s[w.ce:w.end] }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// Punctuation trimmed from the ends of a word's core.
const (
	leadPunct  = "\"'(<«“‘¿¡*"
	trailPunct = ".,;:!?)\"'>»”’*"
)

func containsRune(set string, r rune) bool {
	if r < utf8.RuneSelf && isAlnum(r) {
		return false // the common case: no punctuation set holds letters or digits
	}
	for _, c := range set {
		if c == r {
			return true
		}
	}
	return false
}

// mkword builds the word s[start:end]. stop marks a word that no detector
// may read through: a replacement token, an e-mail, text already found.
func (f *finder) mkword(start, end int) word {
	w := word{start: start, end: end, cs: start, ce: end}
	for w.cs < w.ce {
		r, n := utf8.DecodeRuneInString(f.s[w.cs:w.ce])
		if !containsRune(leadPunct, r) {
			break
		}
		w.cs += n
	}
	for w.ce > w.cs {
		r, n := utf8.DecodeLastRuneInString(f.s[w.cs:w.ce])
		if !containsRune(trailPunct, r) {
			break
		}
		w.ce -= n
	}
	for i := start; i < end; i++ {
		if c := f.s[i]; c == '[' || c == ']' || c == '@' {
			w.stop = true
			break
		}
	}
	if !w.stop && !f.free(start, end) {
		w.stop = true
	}
	return w
}

// wordAt returns the first word starting at or after byte i on the same
// line.
func (f *finder) wordAt(i int) (word, bool) {
	s := f.s
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	if i >= len(s) || s[i] == '\n' || s[i] == '\r' {
		return word{}, false
	}
	j := i
	for j < len(s) && !isBlank(s[j]) && s[j] != '\n' && s[j] != '\r' {
		j++
	}
	return f.mkword(i, j), true
}

// wordBefore returns the last word ending at or before byte i on the same
// line.
func (f *finder) wordBefore(i int) (word, bool) {
	s := f.s
	for i > 0 && isBlank(s[i-1]) {
		i--
	}
	if i <= 0 || s[i-1] == '\n' || s[i-1] == '\r' {
		return word{}, false
	}
	j := i
	for j > 0 && !isBlank(s[j-1]) && s[j-1] != '\n' && s[j-1] != '\r' {
		j--
	}
	return f.mkword(j, i), true
}

// lower writes the lower-case form of w into buf and returns it; a word
// longer than buf comes back empty (no keyword is that long).
func lower(buf []byte, w string) []byte {
	out := buf[:0]
	for _, r := range w {
		r = unicode.ToLower(r)
		if len(out)+utf8.RuneLen(r) > cap(buf) {
			return buf[:0]
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// startsUpper reports whether w starts with an upper-case letter, also after
// an elided article ("l'Église", "d'Italie").
func startsUpper(w string) bool {
	if len(w) > 2 && (w[0]|0x20 == 'l' || w[0]|0x20 == 'd') && w[1] == '\'' {
		w = w[2:]
	}
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsUpper(r) || unicode.IsTitle(r)
}

// isNameWord reports whether w is made of letters, with inner apostrophes,
// hyphens or dots ("Queen's", "Champs-Élysées", "St.").
func isNameWord(w string) bool {
	if w == "" {
		return false
	}
	letters := 0
	for _, r := range w {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == '\'' || r == '-' || r == '.' || r == '’':
		default:
			return false
		}
	}
	return letters > 0
}

func hasDigit(w string) bool {
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			return true
		}
	}
	return false
}

func hasLetter(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

func allDigits(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if !isDigit(w[i]) {
			return false
		}
	}
	return true
}

func allUpperASCII(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'A' || w[i] > 'Z' {
			return false
		}
	}
	return true
}
