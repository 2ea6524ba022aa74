package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestAddrAnswers(t *testing.T) {
	addr := Addr(t)
	if err := client(t, addr).Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING %s: %v", addr, err)
	}
	if again := Addr(t); again != addr {
		t.Fatalf("Addr changed within one binary: %s then %s", addr, again)
	}
}

func TestAddrUsesEnv(t *testing.T) {
	t.Setenv(EnvAddr, "example.invalid:1234")
	if got := Addr(t); got != "example.invalid:1234" {
		t.Fatalf("Addr = %q, want $%s", got, EnvAddr)
	}
}

func TestStartStopRestartPersistent(t *testing.T) {
	ctx := context.Background()
	s := Start(t, Persistent())
	c := client(t, s.Addr())
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // no-op
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("no PING after Restart: %v", err)
	}
	// Same port and dir: the same client reconnects and finds the data.
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET k after restart = %q, %v; want v", got, err)
	}
}

func TestStartNotPersistentLosesData(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	c := client(t, s.Addr())
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k after restart without persistence = %d, %v; want 0", n, err)
	}
}

func TestPrefixUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := Prefix(t)
		if seen[p] {
			t.Fatalf("Prefix repeated %q", p)
		}
		seen[p] = true
	}
	t.Run("sub test/with spaces*and?globs", func(t *testing.T) {
		p := Prefix(t)
		if strings.ContainsAny(p, " */?[]") || !strings.HasPrefix(p, "test:TestPrefixUnique_sub_test_with_spaces_and_globs:") {
			t.Fatalf("Prefix = %q", p)
		}
	})
}

func TestCleanupDeletesOnlyPrefix(t *testing.T) {
	ctx := context.Background()
	addr := Addr(t)
	c := client(t, addr)
	mine, other := Prefix(t), Prefix(t)
	t.Cleanup(func() { c.Del(ctx, other+"x") }) // runs after the inner test
	t.Run("inner", func(t *testing.T) {
		Cleanup(t, addr, mine)
		for i := range 3 {
			c.Set(ctx, fmt.Sprint(mine, i), "v", 0)
		}
		c.Set(ctx, other+"x", "v", 0)
	})
	if n := c.Exists(ctx, mine+"0", mine+"1", mine+"2").Val(); n != 0 {
		t.Fatalf("%d keys under the prefix survived Cleanup", n)
	}
	if c.Exists(ctx, other+"x").Val() != 1 {
		t.Fatal("Cleanup deleted a key under another prefix")
	}
}

// fakeTB records how binary ended the test.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	skipped bool
	failed  bool
	msg     string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped, f.msg = true, fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.mu.Lock()
	f.failed, f.msg = true, fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func runBinary(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		binary(f)
	}()
	<-done
	return f
}

func TestMissingBinarySkipsOrFailsInCI(t *testing.T) {
	t.Setenv(EnvServer, "redis-server-that-does-not-exist")
	t.Setenv("CI", "")
	f := runBinary(t)
	if !f.skipped || f.failed || !strings.Contains(f.msg, "make test") {
		t.Fatalf("without CI: skipped=%v failed=%v msg=%q; want a skip naming make test", f.skipped, f.failed, f.msg)
	}
	t.Setenv("CI", "true")
	f = runBinary(t)
	if !f.failed || f.skipped {
		t.Fatalf("with CI: skipped=%v failed=%v msg=%q; want a failure", f.skipped, f.failed, f.msg)
	}
}
