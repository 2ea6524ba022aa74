package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestAccountLineRoundTrip(t *testing.T) {
	accts := testAccounts(t)
	if accts.Len() != 4 {
		t.Fatalf("%d accounts, want 4", accts.Len())
	}
	alex := accts.lookup("  alex ")
	if alex == nil || alex.Name != "Alex" || alex.Role != "agent" || !checkPassword(alex, testPassword) || checkPassword(alex, testPassword+"!") {
		t.Fatalf("Alex: %+v", alex)
	}
	if cost, _ := bcrypt.Cost(alex.hash); cost != MinBcryptCost {
		t.Errorf("bcrypt cost %d, want %d", cost, MinBcryptCost)
	}
	if r := accts.byBearer(apiToken); r == nil || r.Name != "Robot" || r.hash != nil {
		t.Fatalf("Robot by its token: %+v", r)
	}
	if strings.Contains(accountsText, apiToken) {
		t.Error("the accounts file holds the API token itself")
	}
	for _, bad := range [][3]string{
		{"Al:ex", "agent", testPassword},
		{" Alex", "agent", testPassword},
		{"Alex", "boss", testPassword},
		{"Alex", "agent", "short"},
		{"Alex", "agent", strings.Repeat("x", 73)},
	} {
		if _, err := AccountLine(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("AccountLine(%q, %q, %d-byte password) accepted", bad[0], bad[1], len(bad[2]))
		}
	}
	if _, _, err := NewTokenLine("Robot", "root"); err == nil {
		t.Error("NewTokenLine with an unknown role accepted")
	}
}

// TestParseAccountsErrors: every malformed line is refused with the
// source and line number in the message.
func TestParseAccountsErrors(t *testing.T) {
	testAccounts(t)
	good := strings.Split(strings.TrimSpace(accountsText), "\n")[1] // Vera's line
	hash := strings.SplitN(good, ":", 3)[2]
	low, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	hex64 := strings.Repeat("ab", 32)
	cases := []struct{ text, want string }{
		{"# only a comment\n\n", "no accounts"},
		{"Vera:viewer", "want name:role"},
		{"Vera:viewer:" + hash + ":x:y", "want name:role"},
		{"V@ra:viewer:" + hash, "account name"},
		{"Vera :viewer:" + hash, "spaces"},
		{"Vera:boss:" + hash, `unknown role "boss"`},
		{"Vera:viewer:plaintext-password", "not a bcrypt hash"},
		{"Vera:viewer:" + string(low), "bcrypt cost 4 is below 10"},
		{"Robot:agent:token-md5:" + hex64, "token-sha256"},
		{"Robot:agent:token-sha256:abc", "64 hex digits"},
		{good + "\n" + strings.Replace(good, "Vera", "VERA", 1), `"VERA" is defined twice`},
		{"A:agent:token-sha256:" + hex64 + "\nB:admin:token-sha256:" + hex64, "same token"},
	}
	for _, tc := range cases {
		_, err := ParseAccounts("ops.txt", "# header\n"+tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ops.txt") {
			t.Errorf("%q: %v, want an error with %q", tc.text, err, tc.want)
			continue
		}
		if tc.want != "no accounts" && !strings.Contains(err.Error(), "ops.txt:2") && !strings.Contains(err.Error(), "ops.txt:3") {
			t.Errorf("%q: %v does not name the line", tc.text, err)
		}
	}
}

func TestLoadAccounts(t *testing.T) {
	testAccounts(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "operators")
	if err := os.WriteFile(path, []byte(accountsText), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := LoadAccounts(path)
	if err != nil || a.Len() != 4 {
		t.Fatalf("LoadAccounts: %v", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAccounts(path); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("a world-writable accounts file: %v", err)
	}
	if _, err := LoadAccounts(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file loaded")
	}
}
