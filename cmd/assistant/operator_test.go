package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopassist/shopassist/web"
)

// TestOperatorAdd writes a password account and a token account that
// web.LoadAccounts reads back with their roles; mismatched passwords and
// bad roles are refused.
func TestOperatorAdd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "operators")
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := runOperator(ctx, []string{"add", "--file", file, "--name", "ada", "--role", "admin"}, strings.NewReader("correct horse battery\ncorrect horse battery\n"), &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	if err := runOperator(ctx, []string{"add", "--file", file, "--name", "bot", "--role", "viewer", "--token"}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) == "" {
		t.Error("no token printed")
	}
	accts, err := web.LoadAccounts(file)
	if err != nil {
		t.Fatal(err)
	}
	if accts == nil {
		t.Fatal("no accounts loaded")
	}
	if err := runOperator(ctx, []string{"add", "--file", file, "--name", "x", "--role", "agent"}, strings.NewReader("long password one\nlong password two\n"), &out, &errOut); err == nil {
		t.Error("mismatched passwords accepted")
	}
	if err := runOperator(ctx, []string{"add", "--file", file, "--name", "y", "--role", "boss", "--token"}, strings.NewReader(""), &out, &errOut); err == nil {
		t.Error("unknown role accepted")
	}
}
