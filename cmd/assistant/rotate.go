package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/shopassist/shopassist/events"
	"github.com/shopassist/shopassist/internal/redisopt"
	"github.com/shopassist/shopassist/privacy"
	"github.com/shopassist/shopassist/sessions"
)

// rotateReport is what "assistant rotate-keys" prints.
type rotateReport struct {
	CurrentKey string               `json:"current_key"`
	Sessions   sessions.RotateStats `json:"sessions"`
	Profiles   *events.RotateStats  `json:"profiles,omitempty"`
	// StreamUnrotated counts Redis stream entries still sealed with an
	// older key (or plain): entries cannot be rewritten in place, so they
	// age out (--events-max-age) before the old key may be retired.
	StreamUnrotated *int64 `json:"stream_entries_unrotated,omitempty"`
}

// runRotateKeys is "assistant rotate-keys": re-encrypt every stored
// transcript, session field and (with Redis) shopper profile under the
// current key — the first of --encryption-key-file or
// ASSISTANT_ENCRYPTION_KEYS — so that older keys, kept below it in the file
// until then, can be retired. Plaintext records written before encryption
// was turned on are sealed too. With Redis it runs beside live replicas (each
// record is replaced only if unchanged since it was read); the embedded
// store is one process's file, so serve must be stopped first. It prints one
// JSON object and fails when a record could not be opened (unknown key or
// tampered), after rotating all the others.
func runRotateKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rotate-keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.dataDir, "data-dir", "./var", "data directory of the embedded session store (serve must be stopped)")
	fs.StringVar(&cfg.redisURL, "redis-url", "", "Redis URL of the session store and profiles; empty rotates the embedded store in --data-dir")
	fs.StringVar(&cfg.keyFile, "encryption-key-file", "", "encryption keys, the new current key first and the old ones below it; default: the "+privacy.EnvKeys+" environment variable")
	// The store is opened as serve opens it: the same user-index keying and
	// expiry, so replicas running beside the command are not disturbed.
	fs.DurationVar(&cfg.sessionTTL, "session-ttl", 30*24*time.Hour, "serve's --session-ttl")
	fs.StringVar(&cfg.pseudonymKey, "pseudonym-key", "", "serve's --pseudonym-key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return err
	}
	if keys == nil {
		return fmt.Errorf("rotate-keys needs the keys: --encryption-key-file or %s (new key first)", privacy.EnvKeys)
	}
	pseudo, err := loadPseudonymizer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	store, err := sessions.New(ctx, sessions.Config{DataDir: cfg.dataDir, RedisURL: cfg.redisURL, TTL: cfg.sessionTTL, Sealer: keys, UserKey: pseudo})
	if err != nil {
		return fmt.Errorf("session store (stop serve first when it uses %s): %w", cfg.dataDir, err)
	}
	defer store.Close()
	rot, ok := store.(sessions.Rotator)
	if !ok {
		return fmt.Errorf("the %T session store cannot rotate keys", store)
	}
	rep := rotateReport{CurrentKey: keys.CurrentID()}
	var errs []error
	if rep.Sessions, err = rot.Rotate(ctx); err != nil {
		errs = append(errs, err) // already says "sessions: "
	}
	if cfg.redisURL != "" {
		client, err := redisopt.NewClient(cfg.redisURL, events.DefaultRedisTimeout)
		if err != nil {
			return fmt.Errorf("rotate-keys: %w", err)
		}
		profiles := events.NewRedisProfiles(client, events.ProfileConfig{Sealer: keys})
		defer profiles.Close() // closes client
		ps, err := profiles.Rotate(ctx)
		rep.Profiles = &ps
		if err != nil {
			errs = append(errs, fmt.Errorf("profiles: %w", err))
		}
		// Count old stream entries only where serve runs the Redis event
		// stream (NewRedisStream would create it).
		if n, err := client.Exists(ctx, events.DefaultKeyPrefix+"stream").Result(); err != nil {
			errs = append(errs, fmt.Errorf("event stream: %w", err))
		} else if n == 1 {
			stream, err := events.NewRedisStream(ctx, client, events.Config{Sealer: keys})
			if err != nil {
				errs = append(errs, fmt.Errorf("event stream: %w", err))
			} else {
				n, err := stream.Unrotated(ctx)
				rep.StreamUnrotated = &n
				if err != nil {
					errs = append(errs, fmt.Errorf("event stream: %w", err))
				}
			}
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	return errors.Join(errs...)
}
