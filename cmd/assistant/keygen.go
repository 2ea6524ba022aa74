package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/shopassist/shopassist/privacy"
)

// runKeygen is "assistant keygen": print a new encryption key line
// (id:base64 of 32 random bytes) for --encryption-key-file or
// ASSISTANT_ENCRYPTION_KEYS. To rotate, put the new line first and keep the
// old ones below it: old records still open, new writes use the new key.
func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", time.Now().UTC().Format("k20060102"), "key id stored with every record sealed by this key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	line, err := privacy.GenerateKey(*id)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	_, err = fmt.Fprintln(stdout, line)
	return err
}
