package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static console
var files embed.FS

// Content-Security-Policy of the pages. Storefront: scripts and styles
// come only from this server (the widget's styles are a constructed
// stylesheet, which a style-src CSP does not block); product images may
// come from anywhere. Console: nothing but its own script, stylesheet,
// images and API; it shows no product images and may not be framed.
const (
	storeCSP   = "default-src 'self'; img-src * data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
	consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// SecurityHeaders sets on every response of h, errors included:
// Content-Security-Policy csp, X-Content-Type-Options nosniff,
// Referrer-Policy no-referrer, and X-Frame-Options DENY with
// Cross-Origin-Opener-Policy same-origin when csp has frame-ancestors
// 'none' (SAMEORIGIN when it has frame-ancestors 'self').
func SecurityHeaders(csp string, h http.Handler) http.Handler {
	frame := ""
	switch {
	case strings.Contains(csp, "frame-ancestors 'none'"):
		frame = "DENY"
	case strings.Contains(csp, "frame-ancestors 'self'"):
		frame = "SAMEORIGIN"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		if frame != "" {
			hd.Set("X-Frame-Options", frame)
		}
		if frame == "DENY" {
			hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		}
		h.ServeHTTP(w, r)
	})
}

// asset is one embedded file, held in memory with its gzipped form.
type asset struct {
	name string // for the Content-Type by extension and ServeContent
	body []byte
	gz   []byte // nil when gzip does not make it smaller
	etag string
}

// loadAssets reads every file under dir of the embedded tree, keyed by its
// path below dir ("widget.js").
func loadAssets(dir string) map[string]*asset {
	out := map[string]*asset{}
	err := fs.WalkDir(files, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{name: path.Base(p), body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
		out[strings.TrimPrefix(p, dir+"/")] = a
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: embedded %s: %v", dir, err)) // the tree is compiled in
	}
	return out
}

// serve writes an asset with its ETag (answering If-None-Match with 304),
// gzipped when the client accepts it.
func (a *asset) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", a.etag)
	h.Add("Vary", "Accept-Encoding")
	ctype := mime.TypeByExtension(path.Ext(a.name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Handler serves the storefront demo page at / (search box and product grid
// from /api/search, with the chat widget) and the widget alone at
// /widget.js for any site to embed. Other paths are 404. Every response
// carries the storefront's security headers (SecurityHeaders). It is safe
// for concurrent use and serves from memory.
func Handler() http.Handler {
	assets := loadAssets("static")
	return SecurityHeaders(storeCSP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok || name == "index.html" && r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if strings.HasSuffix(name, ".html") {
			a.serve(w, r, "no-cache")
			return
		}
		// Embedding sites load widget.js on every page: cache briefly and
		// revalidate with the ETag, so a new release reaches them within
		// minutes.
		a.serve(w, r, "public, max-age=300")
	}))
}
