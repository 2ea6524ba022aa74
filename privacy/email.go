package privacy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxLocalLen = 64

// isLocalChar reports the characters allowed in the local part of an
// address (RFC 5322 dot-atom, ASCII only).
func isLocalChar(c byte) bool {
	return isDigit(c) || isASCIILetter(c) || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// emails finds local@domain.tld around every '@'.
func (f *finder) emails() {
	s := f.s
	prevEnd := 0
	for off := 0; ; {
		k := strings.IndexByte(s[off:], '@')
		if k < 0 {
			return
		}
		at := off + k
		off = at + 1
		// Local part: back from '@', never into the previous address.
		ls := at
		for ls > prevEnd && at-ls < maxLocalLen && isLocalChar(s[ls-1]) {
			ls--
		}
		for ls < at && !isDigit(s[ls]) && !isASCIILetter(s[ls]) {
			ls++ // an address starts with a letter or digit
		}
		if ls == at {
			continue
		}
		end := domainEnd(s, at+1)
		if end < 0 {
			continue
		}
		f.add(Span{Kind: KindEmail, Start: ls, End: end})
		prevEnd = end
		off = end
	}
}

// domainEnd returns the end of the domain starting at i: two or more labels
// of letters, digits and inner hyphens separated by dots, the last one
// letters only (at least two); -1 when there is none.
func domainEnd(s string, i int) int {
	labels, end, lastAlpha := 0, -1, false
	for {
		ls, alpha, letters := i, true, 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case unicode.IsLetter(r):
				letters++
			case isDigit(s[i]) || s[i] == '-':
				alpha = false
			default:
				goto done
			}
			i += n
		}
	done:
		if i == ls || s[ls] == '-' || s[i-1] == '-' {
			break
		}
		labels++
		lastAlpha = alpha && letters >= 2
		if labels >= 2 && lastAlpha {
			end = i
		}
		if i+1 < len(s) && s[i] == '.' {
			i++
			continue
		}
		break
	}
	return end
}
