package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shopassist/shopassist/chat"
	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/internal/redistest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// server is `assistant serve` running in the test process.
type server struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startServe(t *testing.T, extra ...string) *server {
	t.Helper()
	inferencetest.RequireRuntime(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: addr, cancel: cancel, done: make(chan error, 1)}
	args := append([]string{"serve", "--addr", addr, "--log-level", "warn", "--intent-model", "../../models/intent", "--search-model", "", "--rerank-model", ""}, extra...)
	go func() { s.done <- run(ctx, func() {}, args, io.Discard, io.Discard) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited before ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve not ready after 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop(t *testing.T) {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
		s.done <- nil // a second stop returns at once
	case <-time.After(20 * time.Second):
		t.Error("serve did not stop within 20s")
	}
}

func dialWS(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readUntil(t *testing.T, ws *websocket.Conn, typ string) []chat.ServerFrame {
	t.Helper()
	var fs []chat.ServerFrame
	for {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var f chat.ServerFrame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("read: %v (after %d frames)", err, len(fs))
		}
		fs = append(fs, f)
		if f.Type == typ {
			return fs
		}
	}
}

func frameTypes(fs []chat.ServerFrame) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Type)
	}
	return strings.Join(s, ",")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeEndToEnd is the walking skeleton's acceptance test: the demo
// catalogue is served, a message gets relevant products over the WebSocket,
// the HTTP endpoints answer, shutdown closes sockets with 1001, and the
// session resumes with its history after a restart.
func TestServeEndToEnd(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		serveEndToEnd(t, "--data-dir", t.TempDir(), "--search-model", "../../models/biencoder", "--rerank-model", "../../models/reranker")
	})
	t.Run("redis", func(t *testing.T) {
		url := fmt.Sprintf("redis://%s/0", redistest.Addr(t))
		serveEndToEnd(t, "--data-dir", t.TempDir(), "--redis-url", url, "--search-model", "../../models/biencoder", "--rerank-model", "../../models/reranker")
	})
}

func serveEndToEnd(t *testing.T, args ...string) {
	s := startServe(t, args...)
	if code, body := get(t, "http://"+s.addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz %d %q", code, body)
	}
	if code, body := get(t, "http://"+s.addr+"/"); code != 200 || !strings.Contains(body, "widget.js") {
		t.Fatalf("page %d", code)
	}

	ws := dialWS(t, s.addr)
	if err := ws.WriteJSON(map[string]string{"type": "message", "id": "1", "text": "bluetooth speaker"}); err != nil {
		t.Fatal(err)
	}
	fs := readUntil(t, ws, chat.TypeDone)
	if got := frameTypes(fs); got != "session,typing,intent,products,message,done" {
		t.Fatalf("frames %s", got)
	}
	if fs[2].Intent != "product_search" {
		t.Fatalf("intent %q, want product_search", fs[2].Intent)
	}
	items := fs[3].Items
	if len(items) < 5 {
		t.Fatalf("%d products, want ≥ 5", len(items))
	}
	for _, it := range items[:5] {
		title := strings.ToLower(it.Title)
		if !strings.Contains(title, "speaker") && !strings.Contains(title, "bluetooth") {
			t.Errorf("irrelevant product for bluetooth speaker: %q", it.Title)
		}
		if it.Currency != "EUR" || it.Price <= 0 || it.ID == "" {
			t.Errorf("product %+v lacks id, price or currency", it)
		}
	}
	sessionID := fs[0].SessionID

	code, body := get(t, "http://"+s.addr+"/api/search?q=wireless+headphones&k=5")
	var sr chat.SearchResponse
	if code != 200 || json.Unmarshal([]byte(body), &sr) != nil || len(sr.Items) != 5 {
		t.Fatalf("search %d %s", code, body)
	}
	if _, body := get(t, "http://"+s.addr+"/metrics"); !strings.Contains(body, `shopassist_turns_total{outcome="ok"} 1`) ||
		!strings.Contains(body, "shopassist_ws_connections 1") {
		t.Errorf("metrics lack the turn or the connection:\n%s", grepLines(body, "shopassist_"))
	}

	// Shutdown closes the open socket with 1001.
	s.cancel()
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("after shutdown: %v, want close 1001", err)
	}
	s.stop(t)

	// A new process over the same data dir (or Redis) resumes the session.
	s2 := startServe(t, args...)
	ws2 := dialWS(t, s2.addr)
	if err := ws2.WriteJSON(map[string]string{"type": "hello", "session_id": sessionID}); err != nil {
		t.Fatal(err)
	}
	fs = readUntil(t, ws2, chat.TypeHistory)
	if len(fs) != 2 || fs[0].SessionID != sessionID || fs[0].Resumed == nil || !*fs[0].Resumed {
		t.Fatalf("resume frames %+v", fs)
	}
	turns := fs[1].Turns
	if len(turns) != 2 || turns[0].Text != "bluetooth speaker" || len(turns[1].Products) != len(items) {
		t.Fatalf("history %+v", turns)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestServeRejectsBadConfig(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--addr", "nonsense"},
		{"serve", "--products", "0"},
		{"serve", "--log-level", "loud"},
		{"serve", "--session-ttl", "1s"},
		{"serve", "stray-arg"},
	} {
		if err := run(context.Background(), func() {}, args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	t.Setenv("ASSISTANT_PRODUCTS", "500")
	if err := run(context.Background(), func() {}, []string{"serve"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--products") {
		t.Errorf("ASSISTANT_PRODUCTS=500: %v", err)
	}
	t.Setenv("ASSISTANT_PRODUCTS", "")
}

// Production mode refuses to start without an encryption key; a key file
// that does not parse stops the server before it listens, naming the flag.
func TestServeEncryptionKeys(t *testing.T) {
	t.Setenv("ASSISTANT_ENCRYPTION_KEYS", "")
	dir := t.TempDir()
	err := run(context.Background(), func() {}, []string{"serve", "--addr", freeAddr(t), "--data-dir", dir, "--production"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "encryption key") {
		t.Errorf("--production without a key: %v", err)
	}
	bad := filepath.Join(dir, "keys")
	if err := os.WriteFile(bad, []byte("k1:not-base64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), func() {}, []string{"serve", "--addr", freeAddr(t), "--data-dir", dir, "--encryption-key-file", bad}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--encryption-key-file") || strings.Contains(err.Error(), "not-base64") {
		t.Errorf("bad key file: %v (want the flag named and the key material not echoed)", err)
	}
}

// A missing model keeps the server up, answering searches, with /readyz
// false and the reason in its body.
// A model missing or corrupt does not stop the server or make it crash
// loop: it serves (search answers), and /readyz is false with the model
// named in the reason.
func TestServeWithoutModelIsNotReady(t *testing.T) {
	inferencetest.RequireRuntime(t)
	// corrupt copies a model directory with every .onnx file replaced by
	// bytes that are not a model.
	corrupt := func(t *testing.T, src string) string {
		dir := t.TempDir()
		ents, err := os.ReadDir(src)
		mustOK(t, err)
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			mustOK(t, err)
			if strings.HasSuffix(e.Name(), ".onnx") {
				b = []byte("this is not an ONNX model")
			}
			mustOK(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600))
		}
		return dir
	}
	for _, tc := range []struct {
		name   string
		args   func(t *testing.T) []string
		reason string
	}{
		{"intent missing", func(t *testing.T) []string { return []string{"--intent-model", t.TempDir()} }, "intent model"},
		{"intent corrupt", func(t *testing.T) []string { return []string{"--intent-model", corrupt(t, "../../models/intent")} }, "intent model"},
		{"search model corrupt", func(t *testing.T) []string {
			return []string{"--search-model", corrupt(t, "../../models/biencoder")}
		}, "search model"},
		{"reranker corrupt", func(t *testing.T) []string {
			return []string{"--rerank-model", corrupt(t, "../../models/reranker")}
		}, "rerank model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			args := append([]string{"serve", "--addr", addr, "--data-dir", t.TempDir(), "--log-level", "error",
				"--intent-model", "../../models/intent", "--search-model", "", "--rerank-model", ""}, tc.args(t)...)
			go func() { done <- run(ctx, func() {}, args, io.Discard, io.Discard) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			deadline := time.Now().Add(60 * time.Second)
			for {
				resp, err := http.Get("http://" + addr + "/api/search?q=speaker")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				select {
				case err := <-done:
					t.Fatalf("serve exited: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("search never answered")
				}
				time.Sleep(50 * time.Millisecond)
			}
			code, body := get(t, "http://"+addr+"/readyz")
			if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.reason) {
				t.Fatalf("readyz %d %q, want 503 naming %q", code, body, tc.reason)
			}
		})
	}
}

// An uploaded catalogue replaces the built-in demo at once, and is what the
// next start serves from the data dir.
func TestServeCatalogUpload(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, "--data-dir", dir, "--admin-token", "s3cret")
	feed := `{"id":"zx-1","title":"Zyxo frobnicator 3000","brand":"Zyxo","price":"19.99 EUR"}
{"id":"zx-2","title":"Zyxo frobnicator mini","brand":"Zyxo","price":"9.99 EUR"}
{"id":"","title":"no id"}
`
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/api/catalog?format=jsonl", strings.NewReader(feed))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code := post("s3cret"); code != http.StatusOK {
		t.Fatalf("upload: %d", code)
	}
	search := func(addr, q string) []chat.Item {
		_, body := get(t, "http://"+addr+"/api/search?q="+q)
		var sr chat.SearchResponse
		if err := json.Unmarshal([]byte(body), &sr); err != nil {
			t.Fatalf("search %q: %s", q, body)
		}
		return sr.Items
	}
	if items := search(s.addr, "frobnicator"); len(items) != 2 || items[0].Brand != "Zyxo" || items[0].Price <= 0 {
		t.Fatalf("uploaded products not searchable: %+v", items)
	}
	if items := search(s.addr, "bluetooth+speaker"); len(items) != 0 {
		t.Fatalf("demo products still served after an upload: %d", len(items))
	}
	s.stop(t)

	s2 := startServe(t, "--data-dir", dir)
	if items := search(s2.addr, "frobnicator"); len(items) != 2 {
		t.Fatalf("after restart: %+v", items)
	}
}

// Behaviour events posted to the server reach the shopper's profile and
// recommendations; bad rows are rejected with reasons.
func TestServeEvents(t *testing.T) {
	s := startServe(t, "--data-dir", t.TempDir(), "--admin-token", "tok")
	body := `{"type":"view","user_id":"u1","product_id":"1993197"}
{"type":"teleport","user_id":"u1","product_id":"1993197"}
{"type":"purchase","user_id":"u1","product_id":"1993197"}
`
	resp, err := http.Post("http://"+s.addr+"/api/events", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ir struct {
		Accepted, Rejected int
		Errors             []struct {
			Row    int
			Reason string
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&ir)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || ir.Accepted != 2 || ir.Rejected != 1 || len(ir.Errors) != 1 || ir.Errors[0].Reason != "unknown_type" {
		t.Fatalf("POST /api/events: %d %+v", resp.StatusCode, ir)
	}
	if code, _ := get(t, "http://"+s.addr+"/api/profile?user_id=u1"); code != http.StatusUnauthorized {
		t.Fatalf("profile without token: %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/api/profile?user_id=u1", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Purchased []string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if len(p.Purchased) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("purchase never reached the profile")
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out := get(t, "http://"+s.addr+"/api/recommendations?user_id=u1&k=5")
	var rr struct{ Items []struct{ ID string } }
	if code != http.StatusOK || json.Unmarshal([]byte(out), &rr) != nil || len(rr.Items) == 0 {
		t.Fatalf("recommendations %d %s", code, out)
	}
	for _, it := range rr.Items {
		if it.ID == "1993197" {
			t.Fatalf("purchased product recommended: %s", out)
		}
	}
}
