package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/internal/redistest"
)

func TestRoleAllows(t *testing.T) {
	want := map[Role][]Action{
		RoleViewer: {ActionSignIn, ActionSignOut, ActionViewTranscript},
		RoleAgent:  {ActionSignIn, ActionSignOut, ActionViewTranscript, ActionTakeover, ActionReply, ActionHandback},
		RoleAdmin:  Actions,
		"root":     nil,
		"":         nil,
	}
	for role, allowed := range want {
		for _, a := range append(Actions, "dance") {
			exp := false
			for _, b := range allowed {
				exp = exp || a == b
			}
			if got := role.Allows(a); got != exp {
				t.Errorf("%q.Allows(%s) = %v, want %v", role, a, got, exp)
			}
		}
	}
	for _, s := range []string{"viewer", "agent", "admin"} {
		if r, err := ParseRole(s); err != nil || string(r) != s || !r.Valid() {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "Admin", "root"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}

// logContract checks what every Log must do: records come back newest
// first with every field, the limit is honoured and checked, and a
// record without action or outcome is refused.
func logContract(t *testing.T, l Log) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		r := Record{Time: at.Add(time.Duration(i) * time.Second), Operator: fmt.Sprintf("op%d", i), Role: RoleAgent, Action: ActionTakeover,
			Outcome: OK, Session: "s" + fmt.Sprint(i), Target: "m1", IP: "192.0.2.1", Detail: "x"}
		if err := l.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Append(ctx, Record{Operator: "now", Action: ActionSignOut, Outcome: OK}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Recent(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Operator != "now" || got[1].Operator != "op4" || got[2].Operator != "op3" {
		t.Fatalf("Recent(3) = %+v", got)
	}
	if time.Since(got[0].Time) > time.Minute {
		t.Errorf("zero time not set to now: %v", got[0].Time)
	}
	want := Record{Time: at.Add(4 * time.Second), Operator: "op4", Role: RoleAgent, Action: ActionTakeover, Outcome: OK, Session: "s4", Target: "m1", IP: "192.0.2.1", Detail: "x"}
	if !got[1].Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", got[1].Time, want.Time)
	}
	got[1].Time = want.Time
	if got[1] != want {
		t.Errorf("record %+v, want %+v", got[1], want)
	}
	all, err := l.Recent(ctx, MaxRecent)
	if err != nil || len(all) != 6 || all[5].Operator != "op0" {
		t.Fatalf("Recent(max) = %d records, %v", len(all), err)
	}
	for _, bad := range []int{0, -1, MaxRecent + 1} {
		if _, err := l.Recent(ctx, bad); err == nil {
			t.Errorf("Recent(%d) accepted", bad)
		}
	}
	if err := l.Append(ctx, Record{Operator: "x"}); err == nil {
		t.Error("a record without action and outcome was accepted")
	}
}

func TestMemory(t *testing.T) {
	logContract(t, NewMemory(0))
	m := NewMemory(3)
	for i := range 5 {
		_ = m.Append(context.Background(), Record{Operator: fmt.Sprint(i), Action: ActionSignIn, Outcome: OK})
	}
	got, _ := m.Recent(context.Background(), 10)
	if len(got) != 3 || got[0].Operator != "4" || got[2].Operator != "2" {
		t.Fatalf("ring of 3 after 5: %+v", got)
	}
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	logContract(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := l.Append(context.Background(), Record{Action: ActionSignIn, Outcome: OK}); err == nil {
		t.Error("append after Close succeeded")
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n != 6 {
		t.Errorf("%d lines, want 6 (one per record)", n)
	}
}

// TestFileAppendsAndSurvivesATornRecord: reopening appends after what is
// there (nothing is truncated), and a record cut short by a crash is
// skipped without swallowing the next one.
func TestFileAppendsAndSurvivesATornRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = l.Append(ctx, Record{Operator: "before", Action: ActionSignIn, Outcome: OK})
	l.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2025-03-01T12:00:00Z","operator":"torn","act`)
	f.Close()
	l, err = OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_ = l.Append(ctx, Record{Operator: "after", Action: ActionSignOut, Outcome: OK})
	got, err := l.Recent(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Operator != "after" || got[1].Operator != "before" {
		t.Fatalf("records %+v, want after and before", got)
	}
}

// TestFileRecentReadsAcrossChunks: records spanning several of Recent's
// backward reads come back whole and in order.
func TestFileRecentReadsAcrossChunks(t *testing.T) {
	l, err := OpenFile(filepath.Join(t.TempDir(), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	pad := strings.Repeat("p", 700) // about 100 records per chunk
	const n = 450
	for i := range n {
		if err := l.Append(ctx, Record{Operator: fmt.Sprint(i), Action: ActionViewTranscript, Outcome: OK, Detail: pad}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Recent(ctx, MaxRecent)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d records, want %d", len(got), n)
	}
	for i, r := range got {
		if r.Operator != fmt.Sprint(n-1-i) || r.Detail != pad {
			t.Fatalf("record %d: operator %q", i, r.Operator)
		}
	}
}

func TestRedis(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	redistest.Cleanup(t, addr, prefix)
	l, err := New(Config{Backend: "redis", Redis: c, Stream: prefix + "audit"})
	if err != nil {
		t.Fatal(err)
	}
	logContract(t, l)
	// Append-only: no MAXLEN, so every entry stays.
	if n, err := c.XLen(context.Background(), prefix+"audit").Result(); err != nil || n != 6 {
		t.Errorf("XLEN = %d, %v; want 6", n, err)
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{{Backend: "file"}, {Backend: "redis"}, {Backend: "disk"}, {}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	l, err := New(Config{Backend: "file", Path: filepath.Join(t.TempDir(), "a.log")})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}
