package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shopassist/shopassist/web"
)

// runOperator is "assistant operator add": append an operator account to
// --operators-file (created with mode 0600). With --token it makes an API
// token account and prints the token once; otherwise it reads the password
// from stdin (twice; at least 12 characters) and stores its bcrypt hash.
func runOperator(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: assistant operator add --file FILE --name NAME --role viewer|agent|admin [--token]")
	}
	fs := flag.NewFlagSet("operator add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "the accounts file serve reads with --operators-file (required)")
	name := fs.String("name", "", "operator name (required)")
	role := fs.String("role", "agent", "viewer (read), agent (+ take over, reply, hand back) or admin (+ export, originals, erasure, audit log)")
	token := fs.Bool("token", false, "make an API token account (Authorization: Bearer) instead of a password one")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" || *name == "" {
		return errors.New("operator add: --file and --name are required")
	}
	var line, secret string
	var err error
	if *token {
		line, secret, err = web.NewTokenLine(*name, *role)
	} else {
		sc := bufio.NewScanner(stdin)
		read := func(prompt string) string {
			fmt.Fprint(stderr, prompt)
			sc.Scan()
			return strings.TrimRight(sc.Text(), "\r\n")
		}
		pw := read("password: ")
		if again := read("again: "); again != pw {
			return errors.New("operator add: the passwords differ")
		}
		line, err = web.AccountLine(*name, *role, pw)
	}
	if err != nil {
		return fmt.Errorf("operator add: %w", err)
	}
	f, err := os.OpenFile(*file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("operator add: %w", err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return fmt.Errorf("operator add: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("operator add: %w", err)
	}
	fmt.Fprintf(stderr, "added %s (%s) to %s; restart serve to load it\n", *name, *role, *file)
	if secret != "" {
		fmt.Fprintln(stdout, secret) // shown once; only its hash is stored
	}
	return nil
}
