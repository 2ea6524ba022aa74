package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A single-pass JSON decoder for feed records. encoding/json validates a
// record, then decodes it through reflection, and the array reader scans it
// once more; this one decodes straight into map[string]any, interning the
// field names that repeat in every record. It accepts exactly what
// encoding/json accepts and produces the same values (FuzzParseJSON checks
// both against encoding/json).

const maxJSONDepth = 10000 // as encoding/json

type jsonParser struct {
	b      []byte
	i      int
	depth  int
	intern map[string]string // field names; nil disables interning
	// fields, when set, interns top-level field names together with
	// whether their values are needed: an unneeded value is validated but
	// not decoded (no allocation). skip decides for a new name.
	fields map[string]fieldInfo
	skip   func(name string) bool
}

type fieldInfo struct {
	name string
	skip bool
}

type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func (p *jsonParser) fail(msg string) error { return &jsonError{off: p.i, msg: msg} }

// parseJSON decodes one JSON value that must fill b (white space aside).
func parseJSON(b []byte, intern map[string]string) (any, error) {
	p := jsonParser{b: b, intern: intern}
	p.ws()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.fail("data after the value")
	}
	return v, nil
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str(false)
		return s, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.fail("unexpected character")
}

func (p *jsonParser) literal(lit string) error {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return p.fail("bad literal")
	}
	p.i += len(lit)
	return nil
}

// parseJSONObjectInto decodes a JSON object filling b into m (cleared
// first), so a worker can reuse one map for every record. Top-level fields
// for which skip returns true (decided once per name, remembered in
// fields) are validated but left out of m.
func parseJSONObjectInto(b []byte, m map[string]any, intern map[string]string, fields map[string]fieldInfo, skip func(string) bool) error {
	clear(m)
	p := jsonParser{b: b, intern: intern, fields: fields, skip: skip}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.fail("not an object")
	}
	if _, err := p.objectInto(m); err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return p.fail("data after the value")
	}
	return nil
}

func (p *jsonParser) object() (any, error) { return p.objectInto(make(map[string]any)) }

func (p *jsonParser) objectInto(m map[string]any) (any, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, p.fail("nested too deep")
	}
	p.i++ // {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return m, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("expected a field name")
		}
		var k string
		var fi fieldInfo
		top := p.depth == 1 && p.fields != nil
		if top {
			// One lookup gives the interned name and whether it is needed.
			raw, s, err := p.rawStr()
			if err != nil {
				return nil, err
			}
			var ok bool
			if raw != nil {
				fi, ok = p.fields[string(raw)] // no allocation
			} else {
				fi, ok = p.fields[s]
			}
			if !ok {
				if raw != nil {
					s = string(raw)
				}
				fi = fieldInfo{name: s, skip: p.skip != nil && p.skip(s)}
				if len(p.fields) < 1<<16 {
					p.fields[s] = fi
				}
			}
			k = fi.name
		} else {
			var err error
			if k, err = p.str(true); err != nil {
				return nil, err
			}
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		p.ws()
		if top {
			if fi.skip {
				if err := p.skipValue(); err != nil {
					return nil, err
				}
				delete(m, k) // a duplicate name: the last one wins, as skipped
				goto next
			}
		}
		{
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
	next:
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end in object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
		case '}':
			p.i++
			p.depth--
			return m, nil
		default:
			return nil, p.fail("expected ',' or '}'")
		}
	}
}

func (p *jsonParser) array() (any, error) {
	if p.depth++; p.depth > maxJSONDepth {
		return nil, p.fail("nested too deep")
	}
	p.i++ // [
	a := []any{}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unexpected end in array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.ws()
		case ']':
			p.i++
			p.depth--
			return a, nil
		default:
			return nil, p.fail("expected ',' or ']'")
		}
	}
}

func (p *jsonParser) number() (any, error) {
	start, err := p.scanNumber()
	if err != nil {
		return nil, err
	}
	f, perr := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if perr != nil {
		return nil, &jsonError{off: start, msg: "number out of range"}
	}
	return f, nil
}

// skipNumber validates a number without converting it, unless it could be
// out of float64 range (which encoding/json rejects).
func (p *jsonParser) skipNumber() error {
	start, err := p.scanNumber()
	if err != nil {
		return err
	}
	if p.i-start > 300 || bytes.ContainsAny(p.b[start:p.i], "eE") {
		if _, err := strconv.ParseFloat(string(p.b[start:p.i]), 64); err != nil {
			return &jsonError{off: start, msg: "number out of range"}
		}
	}
	return nil
}

// scanNumber moves past a number, checking the JSON grammar, and returns
// where it started.
func (p *jsonParser) scanNumber() (int, error) {
	start := p.i
	b := p.b
	i := p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		p.i = i
		return start, p.fail("bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			p.i = i
			return start, p.fail("bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			p.i = i
			return start, p.fail("bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	p.i = i
	return start, nil
}

// rawStr reads a string literal: raw is its bytes when it has neither
// escapes nor non-ASCII bytes (so no copy was made), else s is the decoded
// string.
func (p *jsonParser) rawStr() (raw []byte, s string, err error) {
	b := p.b
	start := p.i + 1
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return b[start:i], "", nil
		}
		if c == '\\' || c >= 0x80 {
			s, err = p.slowStr(start, false)
			return nil, s, err
		}
		if c < 0x20 {
			p.i = i
			return nil, "", p.fail("control character in string")
		}
	}
	p.i = len(b)
	return nil, "", p.fail("unterminated string")
}

// str reads a string literal; key strings are interned.
func (p *jsonParser) str(key bool) (string, error) {
	p.i++ // opening quote
	start := p.i
	b := p.b
	i := start
	for i < len(b) {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			raw := b[start:i]
			if key && p.intern != nil {
				if s, ok := p.intern[string(raw)]; ok {
					return s, nil
				}
				s := string(raw)
				if len(p.intern) < 1<<16 {
					p.intern[s] = s
				}
				return s, nil
			}
			return string(raw), nil
		}
		if c == '\\' || c >= 0x80 {
			return p.slowStr(start, key)
		}
		if c < 0x20 {
			p.i = i
			return "", p.fail("control character in string")
		}
		i++
	}
	p.i = i
	return "", p.fail("unterminated string")
}

// skipValue validates one value without building it, accepting and
// rejecting exactly what value does.
func (p *jsonParser) skipValue() error {
	if p.i >= len(p.b) {
		return p.fail("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		if p.depth++; p.depth > maxJSONDepth {
			return p.fail("nested too deep")
		}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			p.depth--
			return nil
		}
		for {
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return p.fail("expected a field name")
			}
			if err := p.skipString(); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return p.fail("expected ':'")
			}
			p.i++
			p.ws()
			if err := p.skipValue(); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("unexpected end in object")
			}
			switch p.b[p.i] {
			case ',':
				p.i++
				p.ws()
			case '}':
				p.i++
				p.depth--
				return nil
			default:
				return p.fail("expected ',' or '}'")
			}
		}
	case c == '[':
		if p.depth++; p.depth > maxJSONDepth {
			return p.fail("nested too deep")
		}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			p.depth--
			return nil
		}
		for {
			if err := p.skipValue(); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("unexpected end in array")
			}
			switch p.b[p.i] {
			case ',':
				p.i++
				p.ws()
			case ']':
				p.i++
				p.depth--
				return nil
			default:
				return p.fail("expected ',' or ']'")
			}
		}
	case c == '"':
		return p.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return p.fail("unexpected character")
}

// skipString validates a string literal without building it.
func (p *jsonParser) skipString() error {
	b := p.b
	i := p.i + 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return nil
		case c < 0x20:
			p.i = i
			return p.fail("control character in string")
		case c == '\\':
			if i+1 >= len(b) {
				p.i = i
				return p.fail("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					p.i = i + 2
					return p.fail(errBadEscape.Error())
				}
				i += 6
			default:
				p.i = i + 1
				return p.fail(errBadEscape.Error())
			}
		default:
			i++
		}
	}
	p.i = i
	return p.fail("unterminated string")
}

var errBadEscape = errors.New("bad escape")

// slowStr handles escapes and non-ASCII bytes the way encoding/json does:
// invalid UTF-8 and unpaired surrogates become U+FFFD.
func (p *jsonParser) slowStr(start int, key bool) (string, error) {
	b := p.b
	out := make([]byte, 0, 32)
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			s := string(out)
			if key && p.intern != nil {
				if in, ok := p.intern[s]; ok {
					return in, nil
				}
			}
			return s, nil
		case c < 0x20:
			p.i = i
			return "", p.fail("control character in string")
		case c == '\\':
			if i+1 >= len(b) {
				p.i = i
				return "", p.fail("unterminated string")
			}
			e := b[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b, i)
				if !ok {
					p.i = i
					return "", p.fail(errBadEscape.Error())
				}
				i += 4
				if utf16.IsSurrogate(r) {
					// A pair \uD83D\uDE00; anything else is U+FFFD.
					if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							i += 6
							out = utf8.AppendRune(out, dec)
							break
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				p.i = i - 1
				return "", p.fail(errBadEscape.Error())
			}
		case c < 0x80:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	p.i = i
	return "", p.fail("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
