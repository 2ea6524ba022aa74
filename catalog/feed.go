package catalog

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Format is a feed's serialisation.
type Format string

// Feed formats. FormatAuto picks one from the file name and, failing that,
// from the first bytes of the stream.
const (
	FormatAuto  Format = ""
	FormatJSON  Format = "json"  // one JSON array of objects
	FormatJSONL Format = "jsonl" // one JSON object per line
	FormatCSV   Format = "csv"   // header line, comma, semicolon or tab separated
)

// ParseFormat accepts the names used by flags, mapping files, the HTTP
// ?format= parameter and Content-Type values.
func ParseFormat(s string) (Format, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexByte(s, ';'); i >= 0 { // Content-Type parameters
		s = strings.TrimSpace(s[:i])
	}
	switch s {
	case "", "auto", "application/octet-stream", "application/zip", "application/gzip", "application/x-gzip":
		return FormatAuto, nil
	case "json", "application/json":
		return FormatJSON, nil
	case "jsonl", "ndjson", "jsonlines", "application/x-ndjson", "application/jsonl", "application/x-jsonlines":
		return FormatJSONL, nil
	case "csv", "tsv", "text/csv", "text/tab-separated-values":
		return FormatCSV, nil
	}
	return FormatAuto, fmt.Errorf("catalog: unknown feed format %q", s)
}

// maxRecordBytes bounds one record (a JSON Lines line, a CSV row, an element
// of a JSON array) so that a feed without line breaks cannot grow memory.
const maxRecordBytes = 8 << 20

// rawRecord is one record as read from a feed, before mapping.
type rawRecord struct {
	source string
	line   int   // 1-based line where the record starts; 0 when unknown (JSON arrays)
	offset int64 // byte offset of the record in the decompressed stream
	index  int   // 0-based position of the record in its source

	data   []byte         // the record's bytes (JSON object, or the CSV row as read)
	fields map[string]any // set by the CSV reader; JSON records are decoded later

	// bad, when set, is a record that could not be read; reason is one of the
	// Reason* constants and detail says why.
	bad    string
	detail string
}

// Source is one feed to read: a file, a zip entry's container, an HTTP body.
type Source struct {
	// Name is shown in summaries and quarantine entries; its extension
	// (.json, .jsonl, .ndjson, .csv, .tsv, optionally followed by .gz or
	// .zip) picks the format unless Format is set.
	Name   string
	Format Format
	// Open returns the feed's bytes. A ReadCloser that is also an io.ReaderAt
	// with a Stat method (os.File, embed.FS files) lets zip archives be read
	// in place; otherwise a zip is spooled to a temporary file.
	Open func() (io.ReadCloser, error)
}

// FileSources makes Sources of paths on disk ("-" is standard input).
func FileSources(paths ...string) []Source {
	out := make([]Source, 0, len(paths))
	for _, p := range paths {
		p := p
		if p == "-" {
			out = append(out, Source{Name: "stdin", Open: func() (io.ReadCloser, error) { return io.NopCloser(os.Stdin), nil }})
			continue
		}
		out = append(out, Source{Name: p, Open: func() (io.ReadCloser, error) { return os.Open(p) }})
	}
	return out
}

// FSSources makes Sources of the files in fsys matching the glob patterns,
// in pattern order and, within a pattern, in lexical order. A pattern that
// matches nothing is an error.
func FSSources(fsys fs.FS, patterns ...string) ([]Source, error) {
	var out []Source
	for _, pat := range patterns {
		names, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("catalog: pattern %q: %w", pat, err)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("catalog: pattern %q matches no file", pat)
		}
		sort.Strings(names)
		for _, n := range names {
			n := n
			out = append(out, Source{Name: n, Open: func() (io.ReadCloser, error) { return fsys.Open(n) }})
		}
	}
	return out, nil
}

// ReaderSource makes a Source of a stream that can be read once.
func ReaderSource(name string, format Format, r io.Reader) Source {
	used := false
	return Source{Name: name, Format: format, Open: func() (io.ReadCloser, error) {
		if used {
			return nil, errors.New("catalog: reader source opened twice")
		}
		used = true
		if rc, ok := r.(io.ReadCloser); ok {
			return rc, nil
		}
		return io.NopCloser(r), nil
	}}
}

// readSource streams every record of src (every entry of a zip, the
// decompressed stream of a gzip) to emit.
func readSource(ctx context.Context, src Source, emit func(rawRecord) error) error {
	rc, err := src.Open()
	if err != nil {
		return fmt.Errorf("catalog: open %s: %w", src.Name, err)
	}
	defer rc.Close()
	name := src.Name
	lower := strings.ToLower(name)
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(4)
	switch {
	case strings.HasSuffix(lower, ".zip") || bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return readZip(ctx, src, rc, br, emit)
	case strings.HasSuffix(lower, ".gz") || bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("catalog: %s: %w", name, err)
		}
		defer zr.Close()
		return readStream(ctx, name, strings.TrimSuffix(lower, ".gz"), src.Format, zr, emit)
	}
	return readStream(ctx, name, lower, src.Format, br, emit)
}

// readStream reads one uncompressed feed.
func readStream(ctx context.Context, name, lowerName string, format Format, r io.Reader, emit func(rawRecord) error) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	skipBOM(br)
	if format == FormatAuto {
		format = formatFromName(lowerName)
	}
	if format == FormatAuto || format == FormatJSON {
		// .json files are often JSON Lines in disguise: trust the first byte.
		switch firstNonSpace(br) {
		case '[':
			format = FormatJSON
		case '{':
			format = FormatJSONL
		default:
			if format == FormatAuto {
				format = FormatCSV
			}
		}
	}
	switch format {
	case FormatJSON:
		return readJSONArray(ctx, name, br, emit)
	case FormatJSONL:
		return readJSONL(ctx, name, br, emit)
	default:
		return readCSV(ctx, name, br, emit)
	}
}

func formatFromName(lower string) Format {
	switch path.Ext(lower) {
	case ".json":
		return FormatJSON
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".csv", ".tsv", ".txt":
		return FormatCSV
	}
	return FormatAuto
}

func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		br.Discard(3)
	}
}

func firstNonSpace(br *bufio.Reader) byte {
	for n := 1; n <= 4096; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return 0
		}
		c := b[n-1]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
		if err != nil {
			return 0
		}
	}
	return 0
}

// readJSONArray streams the elements of a top-level JSON array. It only
// finds where each element ends (tracking strings and brackets); elements
// are decoded, and so validated, later by the workers, so one malformed
// element is quarantined alone. When the array's own punctuation is broken
// the rest of the stream (up to maxRecordBytes) is reported as one bad
// record and reading stops.
func readJSONArray(ctx context.Context, name string, br *bufio.Reader, emit func(rawRecord) error) error {
	s := &arrayScanner{br: br}
	c, err := s.nonSpace()
	if err != nil {
		return nil // an empty file
	}
	if c != '[' {
		return s.rest(name, 0, ReasonParse, "not a JSON array", emit)
	}
	s.discard(1)
	for index := 0; ; index++ {
		if index&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		c, err := s.nonSpace()
		if err != nil {
			if ioErr(err) {
				return fmt.Errorf("catalog: %s: %w", name, err)
			}
			return emit(rawRecord{source: name, offset: s.off, index: index, bad: ReasonTruncated, detail: "array not closed"})
		}
		if c == ']' && index == 0 {
			s.discard(1)
			return nil
		}
		start := s.off
		rec, complete, err := s.value()
		if err != nil && ioErr(err) {
			return fmt.Errorf("catalog: %s: %w", name, err)
		}
		r := rawRecord{source: name, offset: start, index: index, data: rec}
		switch {
		case !complete:
			r.bad, r.detail = ReasonTruncated, "the feed ends inside this element"
		case s.tooLong:
			r.bad, r.detail = ReasonParse, fmt.Sprintf("element longer than %d bytes", maxRecordBytes)
		}
		if err := emit(r); err != nil {
			return err
		}
		if !complete {
			return nil
		}
		c, err = s.nonSpace()
		if err != nil {
			if ioErr(err) {
				return fmt.Errorf("catalog: %s: %w", name, err)
			}
			return emit(rawRecord{source: name, offset: s.off, index: index + 1, bad: ReasonTruncated, detail: "array not closed"})
		}
		switch c {
		case ',':
			s.discard(1)
		case ']':
			s.discard(1)
			return nil
		default:
			return s.rest(name, index+1, ReasonParse, fmt.Sprintf("expected ',' or ']' after element %d, found %q", index, c), emit)
		}
	}
}

// arrayScanner finds the extent of JSON values in a buffered stream.
type arrayScanner struct {
	br      *bufio.Reader
	off     int64
	tooLong bool
}

func (s *arrayScanner) discard(n int) {
	n, _ = s.br.Discard(n)
	s.off += int64(n)
}

// nonSpace skips white space and peeks at the next byte.
func (s *arrayScanner) nonSpace() (byte, error) {
	for {
		b, err := s.br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			s.discard(1)
		default:
			return b[0], nil
		}
	}
}

// structural marks the bytes the array scanner must look at: outside
// strings quotes and brackets, inside strings quotes and backslashes.
var structural, inString [256]bool

func init() {
	for _, c := range []byte(`"{}[]`) {
		structural[c] = true
	}
	inString['"'], inString['\\'] = true, true
}

// value consumes one JSON value and returns its bytes; complete is false
// when the stream ended inside it. It skips from one structural byte to
// the next, so it costs about a nanosecond a byte.
func (s *arrayScanner) value() (rec []byte, complete bool, err error) {
	s.tooLong = false
	depth, inStr, esc := 0, false, false
	first := true
	scalar := false
	for {
		if s.br.Buffered() == 0 {
			if _, err := s.br.Peek(1); err != nil {
				if scalar && err == io.EOF {
					return rec, false, nil
				}
				return rec, false, err
			}
		}
		buf, _ := s.br.Peek(s.br.Buffered())
		end := -1
		j := 0
		if first {
			first = false
			switch buf[0] {
			case '{', '[':
				depth = 1
			case '"':
				inStr = true
			default:
				scalar = true
			}
			j = 1
		}
	scan:
		for j < len(buf) {
			switch {
			case scalar:
				c := buf[j]
				if c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
					end = j
					break scan
				}
				j++
			case esc:
				esc = false
				j++
			case inStr:
				for j < len(buf) && !inString[buf[j]] {
					j++
				}
				if j == len(buf) {
					break scan
				}
				if buf[j] == '\\' {
					esc = true
				} else {
					inStr = false
					if depth == 0 {
						end = j + 1
						break scan
					}
				}
				j++
			default:
				for j < len(buf) && !structural[buf[j]] {
					j++
				}
				if j == len(buf) {
					break scan
				}
				switch buf[j] {
				case '"':
					inStr = true
				case '{', '[':
					depth++
				default: // '}', ']'
					depth--
					if depth == 0 {
						end = j + 1
						break scan
					}
				}
				j++
			}
		}
		n := len(buf)
		if end >= 0 {
			n = end
		}
		if len(rec)+n > maxRecordBytes {
			if !s.tooLong {
				rec = append(rec, buf[:min(n, 4096)]...)
			}
			s.tooLong = true
		} else {
			rec = append(rec, buf[:n]...)
		}
		s.discard(n)
		if end >= 0 {
			return rec, true, nil
		}
	}
}

// rest reports everything left in the stream as one bad record.
func (s *arrayScanner) rest(name string, index int, reason, detail string, emit func(rawRecord) error) error {
	start := s.off
	rest, err := io.ReadAll(io.LimitReader(s.br, maxRecordBytes))
	if err != nil && ioErr(err) {
		return fmt.Errorf("catalog: %s: %w", name, err)
	}
	return emit(rawRecord{source: name, offset: start, index: index, data: bytes.TrimSpace(rest), bad: reason, detail: detail})
}

// readJSONL streams one JSON value per line; blank lines are skipped.
func readJSONL(ctx context.Context, name string, br *bufio.Reader, emit func(rawRecord) error) error {
	var off int64
	var buf []byte
	index := 0
	for line := 1; ; line++ {
		if line&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		buf = buf[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if !tooLong {
				if len(buf)+len(chunk) > maxRecordBytes {
					tooLong = true
					buf = append(buf, chunk[:min(len(chunk), 4096)]...)
				} else {
					buf = append(buf, chunk...)
				}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		start := off
		off += int64(len(buf))
		if err != nil && err != io.EOF {
			return fmt.Errorf("catalog: %s line %d: %w", name, line, err)
		}
		complete := len(buf) > 0 && buf[len(buf)-1] == '\n'
		data := bytes.TrimSpace(buf)
		if len(data) > 0 {
			data = bytes.Clone(data) // buf is reused for the next line
			rec := rawRecord{source: name, line: line, offset: start, index: index, data: data}
			switch {
			case tooLong:
				rec.bad, rec.detail = ReasonParse, fmt.Sprintf("line longer than %d bytes", maxRecordBytes)
			case !complete && !json.Valid(data):
				rec.bad, rec.detail = ReasonTruncated, "last line ends without a newline and is not valid JSON"
			}
			index++
			if err := emit(rec); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// recorder keeps the bytes read through it since the last discard, so the
// CSV reader's rows can be quarantined exactly as they were in the feed.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
}

func (t *recorder) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// take returns the bytes [start, end) and forgets everything before end.
func (t *recorder) take(start, end int64) []byte {
	lo, hi := int(start-t.base), int(end-t.base)
	if lo < 0 {
		lo = 0
	}
	if hi > len(t.buf) {
		hi = len(t.buf)
	}
	var out []byte
	if lo < hi {
		out = append([]byte(nil), t.buf[lo:hi]...)
	}
	if hi > 0 {
		n := copy(t.buf, t.buf[hi:])
		t.buf = t.buf[:n]
		t.base += int64(hi)
	}
	return out
}

// readCSV streams rows of a delimited file with a header line. The
// delimiter (comma, semicolon or tab) is sniffed from the header.
func readCSV(ctx context.Context, name string, br *bufio.Reader, emit func(rawRecord) error) error {
	peek, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(peek, '\n'); i >= 0 {
		peek = peek[:i]
	}
	delim := ','
	if c, t, s := bytes.Count(peek, []byte(",")), bytes.Count(peek, []byte("\t")), bytes.Count(peek, []byte(";")); t > c && t >= s {
		delim = '\t'
	} else if s > c {
		delim = ';'
	}
	rec := &recorder{r: br}
	cr := csv.NewReader(rec)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if delim == '\t' {
		cr.LazyQuotes = true // TSV feeds rarely quote, and quotes inside fields are literal
	}
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil
		}
		return emit(rawRecord{source: name, line: 1, data: rec.take(0, cr.InputOffset()), bad: ReasonParse, detail: "header: " + err.Error()})
	}
	keys := make([]string, len(header))
	for i, h := range header {
		keys[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	start := cr.InputOffset()
	rec.take(0, start)
	for index := 0; ; index++ {
		if index&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil && ioErr(err) {
			return fmt.Errorf("catalog: %s: %w", name, err)
		}
		end := cr.InputOffset()
		line := 0
		if err == nil {
			line, _ = cr.FieldPos(0) // FieldPos panics after an error
		}
		raw := rec.take(start, end)
		r := rawRecord{source: name, line: line, offset: start, index: index, data: bytes.TrimRight(raw, "\r\n")}
		start = end
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				r.line = pe.StartLine
			}
			r.bad, r.detail = ReasonParse, err.Error()
			if len(raw) > 0 && raw[len(raw)-1] != '\n' {
				r.bad = ReasonTruncated
			}
		} else if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			index--
			continue // a blank line
		} else if len(row) != len(keys) {
			r.bad, r.detail = ReasonParse, fmt.Sprintf("%d fields, header has %d", len(row), len(keys))
			if len(raw) > 0 && raw[len(raw)-1] != '\n' && len(row) < len(keys) {
				r.bad = ReasonTruncated
			}
		} else {
			f := make(map[string]any, len(keys))
			for i, k := range keys {
				if row[i] != "" {
					f[k] = row[i]
				}
			}
			r.fields = f
		}
		if err := emit(r); err != nil {
			return err
		}
	}
}

// readZip reads every feed inside a zip archive, in archive order.
func readZip(ctx context.Context, src Source, rc io.ReadCloser, br *bufio.Reader, emit func(rawRecord) error) error {
	type statReaderAt interface {
		io.ReaderAt
		Stat() (fs.FileInfo, error)
	}
	var ra io.ReaderAt
	var size int64
	if f, ok := rc.(statReaderAt); ok {
		if st, err := f.Stat(); err == nil {
			ra, size = f, st.Size()
		}
	}
	if ra == nil {
		tmp, err := os.CreateTemp("", "catalog-*.zip")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if size, err = io.Copy(tmp, br); err != nil {
			return fmt.Errorf("catalog: spool %s: %w", src.Name, err)
		}
		ra = tmp
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("catalog: %s: %w", src.Name, err)
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || strings.HasPrefix(f.Name, "__MACOSX/") || strings.HasPrefix(path.Base(f.Name), ".") {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return fmt.Errorf("catalog: %s!%s: %w", src.Name, f.Name, err)
		}
		name := src.Name + "!" + f.Name
		lower := strings.ToLower(f.Name)
		var inner io.Reader = r
		if strings.HasSuffix(lower, ".gz") {
			gz, err := gzip.NewReader(r)
			if err != nil {
				r.Close()
				return fmt.Errorf("catalog: %s: %w", name, err)
			}
			inner, lower = gz, strings.TrimSuffix(lower, ".gz")
		}
		err = readStream(ctx, name, lower, src.Format, inner, emit)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ioErr reports whether err comes from reading the stream (a failing
// disk, a request body over its limit), as opposed to a malformed feed or
// its end.
func ioErr(err error) bool {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	var pe *csv.ParseError
	return !errors.As(err, &se) && !errors.As(err, &ute) && !errors.As(err, &pe) &&
		!errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)
}
