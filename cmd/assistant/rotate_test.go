package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/sessions"
)

// TestRotateKeys writes a transcript (and, on Redis, a shopper profile)
// under key A, runs "assistant rotate-keys" with the keys "B, A" (B
// current), then proves every record is under B: the data reads back with
// a keyring holding B alone, and a second rotation reseals nothing. Without
// the rotation, reading with B alone fails (checked first, so the test can
// fail).
func TestRotateKeys(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			lineA, err := privacy.GenerateKey("old-a")
			mustOK(t, err)
			lineB, err := privacy.GenerateKey("new-b")
			mustOK(t, err)
			dir := t.TempDir()
			keyFile := func(name string, lines ...string) (string, *privacy.Keyring) {
				p := filepath.Join(dir, name)
				mustOK(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
				kr, err := privacy.LoadKeyFile(p)
				mustOK(t, err)
				return p, kr
			}
			_, onlyA := keyFile("a.keys", lineA)
			fileBA, _ := keyFile("ba.keys", lineB, lineA)
			_, onlyB := keyFile("b.keys", lineB)

			scfg := sessions.Config{DataDir: filepath.Join(dir, "data")}
			args := []string{"rotate-keys", "--data-dir", scfg.DataDir, "--encryption-key-file", fileBA}
			var addr string
			if backend == "redis" {
				// A private server: the command uses the default key prefixes.
				addr = redistest.Start(t).Addr()
				scfg.RedisURL = "redis://" + addr
				args = append(args, "--redis-url", scfg.RedisURL)
			}
			openStore := func(kr *privacy.Keyring) sessions.Store {
				c := scfg
				c.Sealer = kr
				s, err := sessions.New(ctx, c)
				mustOK(t, err)
				return s
			}
			openProfiles := func(kr *privacy.Keyring) *events.RedisProfiles {
				return events.NewRedisProfiles(redis.NewClient(&redis.Options{Addr: addr}), events.ProfileConfig{Sealer: kr})
			}

			// Written under A.
			s := openStore(onlyA)
			now := time.Now().UTC()
			mustOK(t, s.Create(ctx, sessions.Session{ID: "sess-rotate-1", UserID: "alice@example.com", CreatedAt: now, UpdatedAt: now}))
			mustOK(t, s.Append(ctx, "sess-rotate-1",
				sessions.Turn{ID: "m1", Role: sessions.RoleShopper, Text: "a red kettle please", At: now},
				sessions.Turn{ID: "m2", ReplyTo: "m1", Role: sessions.RoleBot, Text: "here are kettles", At: now}))
			mustOK(t, s.SetMeta(ctx, "sess-rotate-1", map[string]string{"need": "kettle"}))
			mustOK(t, s.Close())
			if backend == "redis" {
				p := openProfiles(onlyA)
				mustOK(t, p.Apply(ctx, []events.Event{{ID: "e1", Type: events.Search, UserID: "shopper-7", Query: "rotating kettle", TS: now}}))
				mustOK(t, p.Close())
				st, err := events.NewRedisStream(ctx, redis.NewClient(&redis.Options{Addr: addr}), events.Config{Sealer: onlyA})
				mustOK(t, err)
				mustOK(t, st.Publish(ctx, []events.Event{{ID: "e2", Type: events.View, UserID: "shopper-7", ProductID: "p1", TS: now}}))
				mustOK(t, st.Close())
			}

			// Before rotation, B alone cannot read it.
			s = openStore(onlyB)
			if _, err := s.History(ctx, "sess-rotate-1", 10); err == nil {
				t.Fatal("a transcript sealed under A opened with B alone")
			}
			mustOK(t, s.Close())

			rotate := func() rotateReport {
				var out, errb bytes.Buffer
				if err := run(ctx, nil, args, &out, &errb); err != nil {
					t.Fatalf("rotate-keys: %v\n%s", err, errb.String())
				}
				var rep rotateReport
				mustOK(t, json.Unmarshal(out.Bytes(), &rep))
				return rep
			}
			rep := rotate()
			if rep.CurrentKey != "new-b" || rep.Sessions.Resealed == 0 {
				t.Fatalf("first rotation: %+v", rep)
			}
			if backend == "redis" && (rep.Profiles == nil || rep.Profiles.Resealed != 1) {
				t.Fatalf("first rotation of profiles: %+v", rep.Profiles)
			}
			// Stream entries are not rewritten: the one sealed under A is
			// reported until it ages out.
			if backend == "redis" && (rep.StreamUnrotated == nil || *rep.StreamUnrotated != 1) {
				t.Fatalf("stream entries under an old key: %v", rep.StreamUnrotated)
			}

			// After: everything reads with B alone.
			s = openStore(onlyB)
			turns, err := s.History(ctx, "sess-rotate-1", 10)
			mustOK(t, err)
			if len(turns) != 2 || turns[0].Text != "a red kettle please" {
				t.Fatalf("history after rotation: %+v", turns)
			}
			got, err := s.Get(ctx, "sess-rotate-1")
			mustOK(t, err)
			if got.UserID != "alice@example.com" || got.Meta["need"] != "kettle" {
				t.Fatalf("session after rotation: %+v", got)
			}
			mustOK(t, s.Close())
			if backend == "redis" {
				p := openProfiles(onlyB)
				prof, err := p.Get(ctx, "shopper-7")
				mustOK(t, err)
				if len(prof.RecentQueries) != 1 || prof.RecentQueries[0] != "rotating kettle" {
					t.Fatalf("profile after rotation: %+v", prof)
				}
				mustOK(t, p.Close())
			}
			if rep := rotate(); rep.Sessions.Resealed != 0 || (rep.Profiles != nil && rep.Profiles.Resealed != 0) {
				t.Fatalf("second rotation resealed records: %+v %+v", rep.Sessions, rep.Profiles)
			}
		})
	}
}
