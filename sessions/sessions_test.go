package sessions

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/shopassist/shopassist/internal/redistest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"embedded", Config{DataDir: "/tmp/x"}, true},
		{"redis", Config{RedisURL: "redis://localhost:6379/0"}, true},
		{"neither", Config{}, false},
		{"negative ttl", Config{DataDir: "d", TTL: -time.Second}, false},
		{"negative sweep", Config{DataDir: "d", SweepInterval: -1}, false},
		{"negative timeout", Config{RedisURL: "redis://h:1", ReadTimeout: -1}, false},
		{"retries below -1", Config{RedisURL: "redis://h:1", MaxRetries: -2}, false},
		{"bad url", Config{RedisURL: "http://h:1"}, false},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestConfigStringMasksPassword(t *testing.T) {
	s := Config{RedisURL: "redis://user:s3cret@h:6379/0"}.String()
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "h:6379") {
		t.Fatalf("String() = %q", s)
	}
	s = Config{DataDir: "/data"}.String()
	if !strings.Contains(s, "/data") || !strings.Contains(s, DefaultTTL.String()) {
		t.Fatalf("String() = %q, want the dir and the default TTL", s)
	}
}

func TestNewPicksBackend(t *testing.T) {
	ctx := context.Background()
	st, err := New(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e, ok := st.(*Embedded)
	if !ok {
		t.Fatalf("New without RedisURL = %T, want *Embedded", st)
	}
	if e.ttl != DefaultTTL {
		t.Fatalf("default TTL = %v, want %v", e.ttl, DefaultTTL)
	}
	_ = st.Close()

	addr := redistest.Addr(t)
	st, err = New(ctx, Config{RedisURL: "redis://" + addr, KeyPrefix: redistest.Prefix(t), TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, ok := st.(*Redis)
	if !ok {
		t.Fatalf("New with RedisURL = %T, want *Redis", st)
	}
	opt := r.Client().Options()
	if opt.DialTimeout != DefaultRedisTimeout || opt.ReadTimeout != DefaultRedisTimeout || opt.WriteTimeout != DefaultRedisTimeout {
		t.Fatalf("timeouts %v/%v/%v, want %v", opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, DefaultRedisTimeout)
	}
	if _, err := New(ctx, Config{}); err == nil {
		t.Fatal("New with an empty config succeeded")
	}
}

func TestRedisURLTimeoutsWin(t *testing.T) {
	addr := redistest.Addr(t)
	r, err := OpenRedis(context.Background(), Config{RedisURL: "redis://" + addr + "?read_timeout=3s", ReadTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Client().Options().ReadTimeout; got != 3*time.Second {
		t.Fatalf("ReadTimeout = %v, want the URL's 3s", got)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 || len(id) != 22 {
			t.Fatalf("NewID() = %q: %d bytes, %v; want 22 base64url chars of 16 bytes", id, len(b), err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}
