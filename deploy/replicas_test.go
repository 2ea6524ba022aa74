package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shopassist/shopassist/inference/inferencetest"
	"github.com/shopassist/shopassist/internal/redistest"
)

// binOnce builds cmd/assistant once per test binary, unless $ASSISTANT_BIN
// names a prebuilt one.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func assistantBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("ASSISTANT_BIN"); p != "" {
			binPath = p // a prebuilt binary
			return
		}
		dir, err := os.MkdirTemp("", "assistant-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "assistant")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/assistant").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// requireNginx returns the nginx binary, skipping the test without one
// (failing it under CI, where make test installs it).
func requireNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx not installed (make test installs it with apt-get)")
	}
	t.Skip("nginx not installed; make test installs it")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// replica is one `assistant serve` process.
type replica struct {
	addr string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func startReplica(t *testing.T, redisURL string, extra ...string) *replica {
	t.Helper()
	root, _ := filepath.Abs("..")
	r := &replica{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), log: &bytes.Buffer{}}
	args := append([]string{"serve", "--addr", r.addr, "--data-dir", t.TempDir(), "--redis-url", redisURL,
		"--events-stream", "redis", "--log-level", "warn",
		"--intent-model", filepath.Join(root, "models/intent"), "--search-model", "", "--rerank-model", ""}, extra...)
	r.cmd = exec.Command(assistantBinary(t), args...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		if t.Failed() {
			t.Logf("replica %s log:\n%s", r.addr, r.log.String())
		}
	})
	waitReady(t, "http://"+r.addr+"/readyz")
	return r
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 120s", url)
}

// startNginx runs deploy/nginx.conf with its listen port and upstreams
// rewritten, and returns its address.
func startNginx(t *testing.T, upstreams ...string) string {
	t.Helper()
	bin := requireNginx(t)
	conf, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := strings.Replace(string(conf), "listen 127.0.0.1:8080;", "listen "+addr+";", 1)
	for i, u := range upstreams {
		s = strings.Replace(s, fmt.Sprintf("server 127.0.0.1:%d ", 8081+i), "server "+u+" ", 1)
	}
	prefix := t.TempDir()
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(bin, "-p", prefix, "-c", path)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		cmd.Wait()
		if t.Failed() {
			t.Logf("nginx log:\n%s", log.String())
		}
	})
	waitReady(t, "http://"+addr+"/healthz")
	return addr
}

// shopper is a WebSocket client speaking protocol v1. It remembers the
// session id of the last session frame it read.
type shopper struct {
	ws      *websocket.Conn
	session string
	resumed bool
}

type frame struct {
	Type      string            `json:"type"`
	SessionID string            `json:"session_id"`
	Resumed   bool              `json:"resumed"`
	ReplyTo   string            `json:"reply_to"`
	Text      string            `json:"text"`
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Turns     []json.RawMessage `json:"turns"`
}

func connect(addr string) (*shopper, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		return nil, err
	}
	return &shopper{ws: ws}, nil
}

func (s *shopper) send(v any) error {
	s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.ws.WriteJSON(v)
}

// until reads frames until one of type typ (answering replyTo, when set).
func (s *shopper) until(typ, replyTo string) (frame, []frame, error) {
	var seen []frame
	for {
		s.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		var f frame
		if err := s.ws.ReadJSON(&f); err != nil {
			return f, seen, err
		}
		seen = append(seen, f)
		if f.Type == "session" {
			s.session, s.resumed = f.SessionID, f.Resumed
		}
		if f.Type == "error" && (replyTo == "" || f.ReplyTo == replyTo) {
			return f, seen, fmt.Errorf("error frame %s: %s", f.Code, f.Message)
		}
		if f.Type == typ && (replyTo == "" || f.ReplyTo == replyTo) {
			return f, seen, nil
		}
	}
}

// turn sends a message and waits for its done frame.
func (s *shopper) turn(id, text string) error {
	if err := s.send(map[string]string{"type": "message", "id": id, "text": text}); err != nil {
		return err
	}
	_, _, err := s.until("done", id)
	return err
}

// resume says hello with session on a fresh connection to addr and returns
// the shopper with the history frame's turns.
func resume(addr, session string) (*shopper, []json.RawMessage, error) {
	s, err := connect(addr)
	if err != nil {
		return nil, nil, err
	}
	if err := s.send(map[string]string{"type": "hello", "session_id": session}); err != nil {
		s.ws.Close()
		return nil, nil, err
	}
	if _, _, err := s.until("session", ""); err != nil {
		s.ws.Close()
		return nil, nil, err
	}
	if !s.resumed || s.session != session {
		s.ws.Close()
		return nil, nil, fmt.Errorf("hello %s: got session %s, resumed %v", session, s.session, s.resumed)
	}
	h, _, err := s.until("history", "")
	if err != nil {
		s.ws.Close()
		return nil, nil, err
	}
	return s, h.Turns, nil
}

// TestSessionResumesOnTheOtherReplica starts a conversation on replica A
// and resumes it on replica B: B restores the whole history from Redis and
// goes on with it.
func TestSessionResumesOnTheOtherReplica(t *testing.T) {
	inferencetest.RequireRuntime(t)
	url := "redis://" + redistest.Addr(t) + "/0"
	a := startReplica(t, url)
	b := startReplica(t, url)

	sa, err := connect(a.addr)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"bluetooth speaker", "where is my order?"} {
		if err := sa.turn(fmt.Sprint(i+1), text); err != nil {
			t.Fatal(err)
		}
	}
	sa.ws.Close()
	sb, turns, err := resume(b.addr, sa.session)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.ws.Close()
	if len(turns) != 4 {
		t.Fatalf("history on B has %d turns, want the 4 of A (2 shopper + 2 bot)", len(turns))
	}
	if !strings.Contains(string(turns[0]), "bluetooth speaker") {
		t.Errorf("first turn on B is %s", turns[0])
	}
	if err := sb.turn("3", "thanks"); err != nil {
		t.Fatalf("turn on B: %v", err)
	}
}

// TestReplicaKilledUnderLoad keeps shoppers chatting through nginx while
// one replica is killed (SIGKILL): every shopper whose socket drops
// reconnects through nginx, resumes its session on the survivor with its
// whole history, and goes on; no acknowledged turn is lost.
func TestReplicaKilledUnderLoad(t *testing.T) {
	inferencetest.RequireRuntime(t)
	url := "redis://" + redistest.Addr(t) + "/0"
	a := startReplica(t, url)
	b := startReplica(t, url)
	lb := startNginx(t, a.addr, b.addr)

	const shoppers, turns = 12, 6
	queries := []string{"usb c charger", "wireless mouse", "hp 61 ink", "27 inch monitor", "external hard drive", "webcam"}
	var wg sync.WaitGroup
	errs := make(chan error, shoppers)
	reconnects := make(chan int, shoppers)
	killed := make(chan struct{})
	var killOnce sync.Once
	for i := range shoppers {
		wg.Go(func() {
			s, err := connect(lb)
			if err != nil {
				errs <- err
				return
			}
			done, reconn := 0, 0
			for done < turns {
				id := fmt.Sprintf("s%d-%d", i, done)
				err := s.turn(id, queries[(i+done)%len(queries)])
				if err == nil {
					done++
					if i == 0 && done == 2 {
						killOnce.Do(func() { close(killed) })
					}
					time.Sleep(50 * time.Millisecond)
					continue
				}
				// The socket dropped: reconnect through nginx and resume.
				s.ws.Close()
				reconn++
				var hist []json.RawMessage
				deadline := time.Now().Add(30 * time.Second)
				for {
					var rerr error
					var ns *shopper
					ns, hist, rerr = resume(lb, s.session)
					if rerr == nil {
						s = ns
						break
					}
					if time.Now().After(deadline) {
						errs <- fmt.Errorf("shopper %d: resume: %v (after %v)", i, rerr, err)
						return
					}
					time.Sleep(200 * time.Millisecond)
				}
				// Every turn acknowledged with done is in the history; the
				// interrupted one may or may not be (it was never acknowledged).
				if len(hist) < 2*done {
					errs <- fmt.Errorf("shopper %d: history has %d turns after %d acknowledged turns", i, len(hist), done)
					return
				}
			}
			s.ws.Close()
			reconnects <- reconn
		})
	}
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatal("load did not start")
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	close(reconnects)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for r := range reconnects {
		total += r
	}
	if total == 0 {
		t.Error("no shopper was on the killed replica: the test proved nothing")
	}
	t.Logf("%d shoppers × %d turns through nginx; %d reconnects after replica A was killed", shoppers, turns, total)
}
