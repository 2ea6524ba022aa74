package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/internal/redistest"
	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/sessions"
)

// eraseEnv is a session store and an events service as serve wires them.
type eraseEnv struct {
	store sessions.Store
	svc   *events.Service
	pz    *privacy.Pseudonymizer // nil: pseudonyms off
	// dump returns every key and value the backends hold; it may close
	// them, so it is called last.
	dump func(t *testing.T) []byte
}

func newEraseEnv(t *testing.T, backend string, protect bool) *eraseEnv {
	t.Helper()
	ctx := context.Background()
	env := &eraseEnv{}
	scfg := sessions.Config{TTL: time.Hour}
	ecfg := events.Config{Backend: "memory", Block: 100 * time.Millisecond}
	pcfg := events.ProfileConfig{Backend: "memory"}
	if protect {
		line, err := privacy.GenerateKey("k1")
		mustOK(t, err)
		kr, err := privacy.ParseKeys(line)
		mustOK(t, err)
		env.pz, err = privacy.NewPseudonymizer(bytes.Repeat([]byte{7}, privacy.MinPseudonymSecret))
		mustOK(t, err)
		scfg.Sealer, scfg.UserKey, ecfg.Pseudonymize = kr, env.pz.ID, env.pz.ID
		ecfg.Sealer, pcfg.Sealer = kr, kr
	}
	var client *redis.Client
	switch backend {
	case "embedded":
		scfg.DataDir = t.TempDir()
		env.dump = func(t *testing.T) []byte {
			env.close()
			return dumpBolt(t, filepath.Join(scfg.DataDir, sessions.EmbeddedFile))
		}
	case "redis":
		addr := redistest.Addr(t)
		prefix := redistest.Prefix(t)
		redistest.Cleanup(t, addr, prefix)
		scfg.RedisURL, scfg.KeyPrefix = "redis://"+addr, prefix
		ecfg.Backend, ecfg.KeyPrefix = "redis", prefix+"ev:"
		pcfg.Backend, pcfg.KeyPrefix = "redis", prefix+"pr:"
		env.dump = func(t *testing.T) []byte {
			c := redis.NewClient(&redis.Options{Addr: addr})
			defer c.Close()
			return dumpRedis(t, c, prefix)
		}
	}
	raw, err := sessions.New(ctx, scfg)
	mustOK(t, err)
	if rs, ok := raw.(*sessions.Redis); ok {
		client = rs.Client()
	}
	env.store = sessions.NewBuffered(raw, sessions.BufferConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	env.svc, err = events.Start(ctx, ecfg, pcfg, 1, client)
	mustOK(t, err)
	t.Cleanup(env.close)
	return env
}

// close stops the events service, then closes the session store (and
// the Redis client they share); calling it again does nothing more.
func (e *eraseEnv) close() {
	_ = e.svc.Close()
	_ = e.store.Close()
}

// dumpBolt returns every bucket name, key and value of a bbolt file.
func dumpBolt(t *testing.T, path string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustOK(t, err)
	defer db.Close()
	var all bytes.Buffer
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			all.Write(k)
			all.WriteByte('=')
			all.Write(v)
			all.WriteByte('\n')
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return walk(sub)
				}
			}
			return nil
		})
	}
	mustOK(t, db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			all.Write(name)
			all.WriteByte('\n')
			return walk(b)
		})
	}))
	return all.Bytes()
}

// dumpRedis returns every key under prefix with its value, whatever its
// type: strings, hashes, lists, sets, sorted sets, streams (entries,
// groups, consumers, pending entries).
func dumpRedis(t *testing.T, c *redis.Client, prefix string) []byte {
	t.Helper()
	ctx := context.Background()
	var all bytes.Buffer
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		fmt.Fprintf(&all, "%s\n", k)
		switch typ := c.Type(ctx, k).Val(); typ {
		case "string":
			all.WriteString(c.Get(ctx, k).Val())
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				fmt.Fprintf(&all, "%s=%s\n", f, v)
			}
		case "list":
			all.WriteString(strings.Join(c.LRange(ctx, k, 0, -1).Val(), "\n"))
		case "set":
			all.WriteString(strings.Join(c.SMembers(ctx, k).Val(), "\n"))
		case "zset":
			all.WriteString(strings.Join(c.ZRange(ctx, k, 0, -1).Val(), "\n"))
		case "stream":
			for _, m := range c.XRange(ctx, k, "-", "+").Val() {
				fmt.Fprintf(&all, "%s %v\n", m.ID, m.Values)
			}
			for _, g := range c.XInfoGroups(ctx, k).Val() {
				fmt.Fprintf(&all, "group %+v\n", g)
				for _, cons := range c.XInfoConsumers(ctx, k, g.Name).Val() {
					fmt.Fprintf(&all, "consumer %+v\n", cons)
				}
				pend, _ := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: k, Group: g.Name, Start: "-", End: "+", Count: 1000}).Result()
				fmt.Fprintf(&all, "pending %v\n", pend)
			}
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
	}
	mustOK(t, iter.Err())
	return all.Bytes()
}

// shopperData writes what a shopper leaves behind: two signed-in sessions
// with turns and metadata, events under the user id and the first
// session, and an anonymous search under the second session (profiled by
// session). It returns the session ids and the number of events.
func shopperData(t *testing.T, env *eraseEnv, user, name string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range 2 {
		id := sessions.NewID()
		ids = append(ids, id)
		mustOK(t, env.store.Create(ctx, sessions.Session{ID: id, UserID: user, Meta: map[string]string{"name": name}}))
		mustOK(t, env.store.Append(ctx, id,
			sessions.Turn{ID: "m1", Role: sessions.RoleShopper, Text: fmt.Sprintf("I am %s, ship to %s street %d", name, name, i)},
			sessions.Turn{ID: "b1", ReplyTo: "m1", Role: sessions.RoleBot, Text: "Sure, " + name}))
		mustOK(t, env.store.SetMeta(ctx, id, map[string]string{"handoff": "pending", "email": user}))
	}
	now := time.Now()
	evs := []events.Event{
		{ID: events.NewID(), Type: events.View, UserID: user, SessionID: ids[0], ProductID: "p-viewed", TS: now},
		{ID: events.NewID(), Type: events.Purchase, UserID: user, SessionID: ids[0], ProductID: "p-shared", TS: now},
		{ID: events.NewID(), Type: events.Search, UserID: user, SessionID: ids[0], Query: name + " laptop", TS: now},
		{ID: events.NewID(), Type: events.Search, SessionID: ids[1], Query: name + " bag", TS: now},
	}
	for i := range evs {
		if rej := events.Check(&evs[i], now, events.Limits{}); rej != nil {
			t.Fatal(rej)
		}
	}
	mustOK(t, env.svc.Stream.Publish(ctx, evs))
	waitUntil(t, func() bool {
		p, err := env.svc.Profiles.Get(ctx, user)
		q, err2 := env.svc.Profiles.Get(ctx, ids[1])
		return err == nil && err2 == nil && p.Events() == 3 && q.Events() == 1
	})
	return ids, len(evs)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type auditRecord struct {
	action, user string
	counts       any
}

// TestEraseUserLeavesNothing erases a shopper through DELETE
// /api/users/{id} in each backend pair serve runs (embedded sessions with
// in-process events; Redis sessions with Redis events), with encryption
// and pseudonyms on and off, then reads every key and value the backends
// hold: the user id, its session ids, and their pseudonyms are nowhere,
// while the other shopper's sessions, transcript and profile are intact.
func TestEraseUserLeavesNothing(t *testing.T) {
	const alice, bob, token = "alice@example.com", "bob@example.com", "admin-secret"
	for _, backend := range []string{"embedded", "redis"} {
		for _, protect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/protected=%v", backend, protect), func(t *testing.T) {
				ctx := context.Background()
				env := newEraseEnv(t, backend, protect)
				aliceIDs, aliceEvents := shopperData(t, env, alice, "Alice")
				bobIDs, _ := shopperData(t, env, bob, "Bob")
				bobBefore, err := env.svc.Profiles.Get(ctx, bob)
				mustOK(t, err)

				var audit []auditRecord
				mux := http.NewServeMux()
				mux.Handle("DELETE /api/users/{id}", eraseUserHandler(env.store, env.svc, tokenAuthorizer(token),
					func(_ context.Context, action, user string, counts any) {
						audit = append(audit, auditRecord{action, user, counts})
					}))
				srv := httptest.NewServer(mux)
				defer srv.Close()
				del := func(tok string) (int, eraseResult) {
					req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/users/"+alice, nil)
					if tok != "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					resp, err := http.DefaultClient.Do(req)
					mustOK(t, err)
					defer resp.Body.Close()
					var res eraseResult
					_ = json.NewDecoder(resp.Body).Decode(&res)
					return resp.StatusCode, res
				}
				if code, _ := del(""); code != http.StatusUnauthorized {
					t.Fatalf("without the admin token: %d, want 401", code)
				}
				if code, _ := del("wrong"); code != http.StatusUnauthorized {
					t.Fatalf("with a wrong token: %d, want 401", code)
				}
				if len(audit) != 0 {
					t.Fatalf("refused requests were audited as erasures: %+v", audit)
				}
				code, res := del(token)
				if code != http.StatusOK || res.Sessions != 2 || res.Profiles != 2 {
					t.Fatalf("DELETE: %d %+v, want 200 with 2 sessions and 2 profiles", code, res)
				}
				if backend == "redis" && res.Events != aliceEvents {
					t.Fatalf("DELETE took %d events out of the Redis stream, want alice's %d", res.Events, aliceEvents)
				}
				if code, _ := del(token); code != http.StatusNotFound {
					t.Fatalf("second DELETE: %d, want 404", code)
				}
				if len(audit) != 2 || audit[0].action != eraseAction || audit[0].user != alice || audit[0].counts.(eraseResult).Sessions != 2 {
					t.Fatalf("audit records %+v, want the erasure and the 404", audit)
				}

				for _, id := range aliceIDs {
					if _, err := env.store.Get(ctx, id); err == nil {
						t.Errorf("alice's session %s still readable", id)
					}
				}
				for _, id := range append([]string{alice}, aliceIDs...) {
					if p, err := env.svc.Profiles.Get(ctx, id); err != nil || p.Events() != 0 {
						t.Errorf("profile of %s after erasure: %+v, %v", id, p, err)
					}
				}
				for _, id := range bobIDs {
					s, err := env.store.Get(ctx, id)
					if err != nil || s.UserID != bob || s.Meta["name"] != "Bob" {
						t.Fatalf("bob's session %s: %+v, %v", id, s, err)
					}
					if h, err := env.store.History(ctx, id, 0); err != nil || len(h) != 2 {
						t.Fatalf("bob's transcript %s: %d turns, %v", id, len(h), err)
					}
				}
				bobAfter, err := env.svc.Profiles.Get(ctx, bob)
				if err != nil || bobAfter.Events() != bobBefore.Events() || len(bobAfter.RecentQueries) != 1 {
					t.Fatalf("bob's profile after erasing alice: %+v, %v", bobAfter, err)
				}

				traces := append([]string{alice, "Alice"}, aliceIDs...)
				if env.pz != nil {
					for _, x := range append([]string{alice}, aliceIDs...) {
						traces = append(traces, env.pz.ID(x))
					}
				}
				dump := env.dump(t)
				for _, x := range traces {
					if bytes.Contains(dump, []byte(x)) {
						t.Errorf("%q is still stored after the erasure", x)
					}
				}
				if !bytes.Contains(dump, []byte(bobIDs[0])) {
					t.Fatal("bob's session id is not in the dump: the scan reads nothing")
				}
			})
		}
	}
}

// TestEraseUserBadRequests: an id over the limit is refused before
// anything is erased, and a refused authorisation stops the request.
func TestEraseUserBadRequests(t *testing.T) {
	env := newEraseEnv(t, "embedded", false)
	mux := http.NewServeMux()
	mux.Handle("DELETE /api/users/{id}", eraseUserHandler(env.store, env.svc, func(http.ResponseWriter, *http.Request) bool { return true }, nil))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/users/"+strings.Repeat("x", maxUserIDLen+1), nil))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("over-long id: %d, want 400", rec.Code)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/users/nobody", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("unknown user: %d, want 404", rec.Code)
	}
	rec = httptest.NewRecorder()
	tokenAuthorizer("")(rec, httptest.NewRequest(http.MethodDelete, "/api/users/nobody", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("without --admin-token configured: %d, want 403", rec.Code)
	}
}
