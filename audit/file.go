package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// File is a Log in a file of JSON lines, one record per line, opened with
// O_APPEND and mode 0600 and fsync'ed after each record. Only one process
// may write a file.
type File struct {
	path string
	mu   sync.Mutex // serialises writes, so each record is one write
	f    *os.File
}

var _ Log = (*File)(nil)

// fileTail is how much Recent reads from the end of the file at a time.
const fileTail = 64 << 10

// OpenFile opens (creating it) the log at path. When the file does not end
// with a newline (a crash cut its last record short), a newline is added
// first, so the torn record stays alone on its line (Recent skips it) and
// the next record starts on a line of its own.
func OpenFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &File{path: path, f: f}
	torn, err := endsTorn(path)
	if err == nil && torn {
		_, err = f.Write([]byte{'\n'})
		if err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	return l, nil
}

// endsTorn reports whether the file is non-empty and does not end with a
// newline.
func endsTorn(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], st.Size()-1); err != nil {
		return false, err
	}
	return b[0] != '\n', nil
}

// Append writes r as one line and fsyncs the file.
func (l *File) Append(_ context.Context, r Record) error {
	if err := check(&r); err != nil {
		return err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("%w: %s is closed", ErrUnavailable, l.path)
	}
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, l.path, err)
	}
	return nil
}

// Recent reads the file backwards from its end until it has limit
// records; lines that do not parse (a record torn by a crash) are skipped.
func (l *File) Recent(_ context.Context, limit int) ([]Record, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var out []Record
	end := st.Size()
	var carry []byte // the start of a line cut by the previous chunk
	for end > 0 && len(out) < limit {
		start := max(end-fileTail, 0)
		chunk := make([]byte, end-start, int(end-start)+len(carry))
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		chunk = append(chunk, carry...)
		end = start
		// Every line but the first of the chunk is whole; the first is
		// whole only at the start of the file.
		lines := bytes.Split(chunk, []byte{'\n'})
		first := 1
		if start == 0 {
			first = 0
		}
		for i := len(lines) - 1; i >= first && len(out) < limit; i-- {
			var r Record
			if len(lines[i]) == 0 || json.Unmarshal(lines[i], &r) != nil {
				continue
			}
			out = append(out, r)
		}
		carry = append([]byte(nil), lines[0]...)
	}
	return out, nil
}

// Close closes the file; later Appends fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
