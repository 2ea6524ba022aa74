package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the variable holding the address of a Redis server for tests
// (set by make test).
const EnvAddr = "REDIS_ADDR"

// EnvServer may name the redis-server binary; default: redis-server on PATH.
const EnvServer = "REDIS_SERVER"

// startTimeout bounds how long a started server may take to answer PING.
const startTimeout = 15 * time.Second

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Addr returns the address of a Redis server for this test: $REDIS_ADDR when
// set, else a private server started once per test binary (and killed when
// the binary exits). Without a redis-server binary it skips the test, or
// fails it when $CI is set, so CI never silently skips Redis tests.
func Addr(t testing.TB) string {
	t.Helper()
	if a := os.Getenv(EnvAddr); a != "" {
		return a
	}
	bin := binary(t)
	sharedOnce.Do(func() {
		shared, sharedErr = start(bin, 0, "", false)
	})
	if sharedErr != nil {
		t.Fatalf("redistest: start shared redis-server: %v", sharedErr)
	}
	return shared.Addr()
}

// binary finds redis-server or skips/fails t.
func binary(t testing.TB) string {
	t.Helper()
	name := os.Getenv(EnvServer)
	if name == "" {
		name = "redis-server"
	}
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("redistest: no %s binary (%v): run `make test`, or install redis-server, or set %s", name, err, EnvAddr)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: Redis tests must not be skipped)")
	}
	t.Skip(msg)
	return ""
}

// Option tunes Start.
type Option func(*options)

type options struct{ persist bool }

// Persistent makes the server keep its data across Stop/Restart: an
// append-only file, fsync'ed on every write, in a directory under
// t.TempDir().
func Persistent() Option { return func(o *options) { o.persist = true } }

// Server is a redis-server process owned by one test.
type Server struct {
	bin     string
	port    int
	dir     string
	persist bool

	mu     sync.Mutex
	proc   *os.Process // nil when stopped
	exited chan error  // receives the exit of proc
}

// Start starts a private redis-server on a free loopback port, waits until it
// answers PING and kills it in t.Cleanup. Use it for fault tests (Stop,
// Restart); plain tests should use Addr.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	bin := binary(t)
	dir := ""
	if o.persist {
		dir = t.TempDir()
	}
	s, err := start(bin, 0, dir, o.persist)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Stop kills the server (SIGKILL, like a crash) and waits for it to exit. It
// is a no-op on a stopped server.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc, s.exited = nil, nil
}

// Restart stops the server if running and starts it again on the same port
// and directory (with Persistent, the data written before is back).
func (s *Server) Restart() error {
	s.Stop()
	var err error
	for range 50 {
		var ns *Server
		ns, err = start(s.bin, s.port, s.dir, s.persist)
		if err == nil {
			s.mu.Lock()
			s.proc, s.exited = ns.proc, ns.exited
			s.mu.Unlock()
			return nil
		}
		time.Sleep(100 * time.Millisecond) // port still held by the dying process
	}
	return fmt.Errorf("redistest: restart on port %d: %w", s.port, err)
}

// start runs bin on port (a free one when 0) and waits for PING.
func start(bin string, port int, dir string, persist bool) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				return nil, err
			}
		}
		s := &Server{bin: bin, port: p, dir: dir, persist: persist}
		lastErr = s.spawn()
		if lastErr == nil {
			return s, nil
		}
		if port != 0 {
			break // fixed port: let the caller retry
		}
	}
	return nil, lastErr
}

func (s *Server) spawn() error {
	dir := s.dir
	if dir == "" {
		dir = os.TempDir()
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--daemonize", "no",
		"--protected-mode", "yes",
		"--loglevel", "warning",
		"--logfile", "",
	}
	if s.persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = dir
	setPdeathsig(cmd)
	var out strings.Builder
	cmd.Stdout = &limitedWriter{w: &out, n: 4096}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server on port %d exited: %v: %s", s.port, err, out.String())
		default:
		}
		if ping(s.Addr()) == nil {
			// Stop kills proc; the goroutine above reaps it.
			s.proc, s.exited = cmd.Process, exited
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.port, startTimeout, out.String())
}

// ping sends an inline PING and expects +PONG (not -LOADING).
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type limitedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Prefix returns a key prefix unique to this test and run, such as
// "test:TestFoo_bar:1a2b3c4d:", so tests and packages sharing one server
// never collide.
func Prefix(t testing.TB) string {
	t.Helper()
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 48 {
		name = name[:48]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "test:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// Cleanup deletes, when t ends, every key under prefix on addr, so a
// long-lived $REDIS_ADDR server does not accumulate test data.
func Cleanup(t testing.TB, addr, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = c.Unlink(ctx, keys...).Err()
		}
	})
}
