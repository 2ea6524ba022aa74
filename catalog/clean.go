package catalog

import (
	"bytes"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CleanText returns s with HTML tags (and script/style contents) removed,
// entities decoded, trademark signs dropped, Unicode in NFKC form, control
// and zero-width characters removed and runs of white space collapsed to
// one space. Text that needs none of this is returned without allocating.
func CleanText(s string) string {
	if isClean(s) {
		return s
	}
	if strings.IndexByte(s, '<') >= 0 {
		s = stripTags(s)
	}
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
		if strings.IndexByte(s, '<') >= 0 { // double-escaped markup: "&lt;b&gt;"
			s = stripTags(s)
		}
	}
	if !isASCII(s) {
		// ®, ™ and © are decoration; NFKC would turn ™ into "TM" glued to
		// the word ("Core™2" -> "CoreTM2"), so drop them first.
		s = strings.Map(func(r rune) rune {
			switch r {
			case '®', '™', '©', '℠':
				return ' '
			case utf8.RuneError:
				return r
			}
			return r
		}, s)
		if !norm.NFKC.IsNormalString(s) {
			s = norm.NFKC.String(s)
		}
	}
	return collapseSpace(s)
}

// isClean reports whether s is printable ASCII without markup, entities,
// leading, trailing or repeated spaces.
func isClean(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '<' || c == '&' {
			return false
		}
		if c == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	return !prevSpace || len(s) == 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// collapseSpace removes control and zero-width characters and turns runs of
// white space into one space, trimming both ends.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff' || r == '\u00ad':
			continue
		case unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Co, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// inlineTags are removed without leaving a space, so that "<b>Sam</b>sung"
// stays one word; every other tag becomes a space.
var inlineTags = map[string]bool{
	"b": true, "i": true, "u": true, "em": true, "strong": true, "span": true, "font": true,
	"a": true, "sup": true, "sub": true, "small": true, "big": true, "mark": true, "abbr": true,
}

// stripTags removes HTML tags and comments, and the contents of script and
// style elements. A '<' that does not start a tag is kept.
func stripTags(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '<' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		n := s[i+1]
		isTag := n == '/' || n == '!' || n == '?' || (n|0x20 >= 'a' && n|0x20 <= 'z')
		if !isTag {
			b.WriteByte(c)
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			b.WriteByte(' ')
			continue
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break // an unterminated tag at the end: drop it
		}
		tag := s[i+1 : i+end]
		i += end + 1
		name := strings.ToLower(strings.TrimLeft(tagName(tag), "/"))
		if (name == "script" || name == "style") && !strings.HasPrefix(tag, "/") {
			closeTag := "</" + name
			j := strings.Index(strings.ToLower(s[i:]), closeTag)
			if j < 0 {
				i = len(s)
			} else if k := strings.IndexByte(s[i+j:], '>'); k >= 0 {
				i += j + k + 1
			} else {
				i = len(s)
			}
		}
		if !inlineTags[name] {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func tagName(tag string) string {
	for j := 0; j < len(tag); j++ {
		switch tag[j] {
		case ' ', '\t', '\n', '\r', '>':
			return tag[:j]
		case '/':
			if j > 0 {
				return tag[:j]
			}
		}
	}
	return tag
}

// defaultBoilerplate are sales phrases that say nothing about a product;
// a description sentence containing one is removed.
var defaultBoilerplate = []string{
	"free shipping", "free delivery", "buy now", "click here", "order now", "shop now",
	"limited time offer", "best price guaranteed", "add to cart", "visit our store",
	"satisfaction guaranteed", "call us today",
}

// trimBoilerplate removes the sentences of s that contain one of the
// lower-case phrases.
func trimBoilerplate(s string, phrases []string) string {
	if s == "" {
		return s
	}
	var scratch [512]byte
	lower := scratch[:0]
	if len(s) > len(scratch) {
		lower = make([]byte, 0, len(s))
	}
	for i := 0; i < len(s); i++ { // ASCII lower case is enough: phrases are ASCII
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	found := false
	for _, p := range phrases {
		if bytes.Contains(lower, []byte(p)) {
			found = true
			break
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		end := i == len(s)
		if !end && (s[i] == '.' || s[i] == '!' || s[i] == '?') && (i+1 == len(s) || s[i+1] == ' ') {
			i++
			end = true
		}
		if !end {
			continue
		}
		sent := s[start:min(i, len(s))]
		ls := strings.ToLower(sent)
		keep := true
		for _, p := range phrases {
			if strings.Contains(ls, p) {
				keep = false
				break
			}
		}
		if keep {
			b.WriteString(sent)
		}
		start = i
	}
	out := strings.TrimSpace(b.String())
	out = strings.Trim(out, " -–—|*~!")
	return collapseSpace(out)
}
