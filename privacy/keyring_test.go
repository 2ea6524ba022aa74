package privacy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustKey(t *testing.T, id string) string {
	t.Helper()
	e, err := GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustKeys(t *testing.T, text string) *Keyring {
	t.Helper()
	kr, err := ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenRoundTrip(t *testing.T) {
	kr := mustKeys(t, mustKey(t, "k1"))
	aad := AAD("transcript", "sess-1")
	for _, plain := range [][]byte{nil, []byte("x"), []byte(`{"role":"shopper","text":"call me on [phone]"}`), bytes.Repeat([]byte{0, 255}, 5000)} {
		sealed := kr.Seal(plain, aad)
		if len(sealed) != len(plain)+2+len("k1")+nonceSize+tagSize {
			t.Errorf("sealed %d bytes into %d, want %d of overhead", len(plain), len(sealed), 2+len("k1")+nonceSize+tagSize)
		}
		if len(plain) > 8 && bytes.Contains(sealed, plain[:8]) {
			t.Error("the plaintext shows through the sealed record")
		}
		got, err := kr.Open(sealed, aad)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
		if !IsSealed(sealed) || kr.NeedsRotation(sealed) {
			t.Errorf("IsSealed %v, NeedsRotation %v on a fresh record", IsSealed(sealed), kr.NeedsRotation(sealed))
		}
	}
	// Two seals of the same plaintext differ (random nonce).
	a, b := kr.Seal([]byte("same"), aad), kr.Seal([]byte("same"), aad)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are identical: the nonce is not fresh")
	}
}

func TestOpenTampered(t *testing.T) {
	kr := mustKeys(t, mustKey(t, "k1"))
	aad := AAD("transcript", "sess-1")
	sealed := kr.Seal([]byte("221B Baker Street"), aad)
	// Flip each bit of the body (nonce, ciphertext, tag) in turn.
	hlen := 2 + len("k1")
	for i := hlen; i < len(sealed); i++ {
		for bit := range 8 {
			bad := bytes.Clone(sealed)
			bad[i] ^= 1 << bit
			if _, err := kr.Open(bad, aad); !errors.Is(err, ErrTampered) {
				t.Fatalf("byte %d bit %d flipped: err %v, want ErrTampered", i, bit, err)
			}
		}
	}
	// Truncated records, bad versions and plaintext are malformed.
	for _, bad := range [][]byte{nil, {sealVersion}, sealed[:hlen+nonceSize+tagSize-1], append([]byte{2}, sealed[1:]...), []byte(`{"text":"hi"}`), {sealVersion, 0, 1, 2, 3}} {
		if _, err := kr.Open(bad, aad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Open(%q): err %v, want ErrMalformed", bad, err)
		}
		if IsSealed(bad) {
			t.Errorf("IsSealed(%q) = true", bad)
		}
	}
	// A key id changed in the header: unknown, or another key's id.
	renamed := bytes.Clone(sealed)
	renamed[3] = '9' // k1 -> k9
	if _, err := kr.Open(renamed, aad); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"k9"`) {
		t.Errorf("renamed key id: err %v, want ErrUnknownKey naming k9", err)
	}
	two := mustKeys(t, mustKey(t, "k1")+"\n"+mustKey(t, "k9"))
	if _, err := two.Open(renamed, aad); !errors.Is(err, ErrTampered) {
		t.Errorf("key id pointed at another real key: err %v, want ErrTampered", err)
	}
	// The header is authenticated: even with the same key material under
	// both ids, a record whose key id was rewritten does not open.
	material := strings.SplitN(mustKey(t, "x"), ":", 2)[1]
	twins := mustKeys(t, "k1:"+material+",k9:"+material)
	twinSealed := twins.Seal([]byte("221B Baker Street"), aad)
	twinSealed[3] = '9'
	if _, err := twins.Open(twinSealed, aad); !errors.Is(err, ErrTampered) {
		t.Errorf("rewritten key id with the same material: err %v, want ErrTampered", err)
	}
}

func TestOpenWrongAAD(t *testing.T) {
	kr := mustKeys(t, mustKey(t, "k1"))
	sealed := kr.Seal([]byte("jane@example.com"), AAD("transcript", "sess-1"))
	for _, aad := range [][]byte{AAD("transcript", "sess-2"), AAD("profile", "sess-1"), AAD("transcript", "sess-1\x00"), nil} {
		if _, err := kr.Open(sealed, aad); !errors.Is(err, ErrTampered) {
			t.Errorf("Open with aad %q: err %v, want ErrTampered (record moved to another session)", aad, err)
		}
	}
	// AAD keeps scope and id apart: ("a", "b\x00c") is not ("a\x00b", "c").
	if bytes.Equal(AAD("a", "bc"), AAD("ab", "c")) {
		t.Error("AAD is ambiguous")
	}
}

func TestRotation(t *testing.T) {
	old, next := mustKey(t, "2024-01"), mustKey(t, "2025-06")
	before := mustKeys(t, old)
	aad := AAD("transcript", "sess-1")
	sealedOld := before.Seal([]byte("+44 20 7946 0958"), aad)

	after := mustKeys(t, next+"\n"+old) // the new key first, the old one kept
	if after.CurrentID() != "2025-06" {
		t.Fatalf("current key %q, want the first entry", after.CurrentID())
	}
	if got, err := after.Open(sealedOld, aad); err != nil || string(got) != "+44 20 7946 0958" {
		t.Fatalf("old record after rotation: %q, %v", got, err)
	}
	if !after.NeedsRotation(sealedOld) || !after.NeedsRotation([]byte("plaintext")) {
		t.Error("a record under the old key (or plaintext) must need rotation")
	}
	resealed, changed, err := after.Reseal(sealedOld, aad)
	if err != nil || !changed {
		t.Fatalf("Reseal: changed %v, err %v", changed, err)
	}
	if after.NeedsRotation(resealed) {
		t.Error("a re-sealed record still needs rotation")
	}
	if got, _, _, _, _ := parse(resealed); got != "2025-06" {
		t.Errorf("re-sealed under %q, want the current key", got)
	}
	if again, changed, err := after.Reseal(resealed, aad); err != nil || changed || !bytes.Equal(again, resealed) {
		t.Errorf("Reseal of a current record: changed %v, err %v", changed, err)
	}
	// Once the old key is retired, the re-sealed record opens and the old one does not.
	retired := mustKeys(t, next)
	if _, err := retired.Open(resealed, aad); err != nil {
		t.Errorf("re-sealed record with the old key retired: %v", err)
	}
	if _, err := retired.Open(sealedOld, aad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old record with its key retired: err %v, want ErrUnknownKey", err)
	}
	if _, _, err := retired.Reseal(sealedOld, aad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Reseal without the old key: err %v, want ErrUnknownKey", err)
	}
}

func TestParseKeysErrors(t *testing.T) {
	good := mustKey(t, "k1")
	short := "k2:" + base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := "k2:" + base64.StdEncoding.EncodeToString(make([]byte, 33))
	cases := []struct {
		name, text, want string
		err              error
	}{
		{"empty", "", "", ErrNoKeys},
		{"only comments", "# keys\n\n  \n", "", ErrNoKeys},
		{"no colon", "k1", "entry 1 (line 1) is not id:base64", ErrKeyFormat},
		{"bad base64", good + "\nk2:not*base64!", `entry 2 (line 2), key "k2": not standard base64`, ErrKeyFormat},
		{"short key", good + "," + short, `entry 2 (line 1), key "k2": 16 bytes, want 32`, ErrKeyFormat},
		{"long key", long, `33 bytes, want 32`, ErrKeyFormat},
		{"duplicate id", good + "\n# old\n" + strings.Replace(mustKey(t, "kx"), "kx", "k1", 1), `entry 2 (line 3): key id "k1" is used twice`, ErrKeyFormat},
		{"empty id", ":" + strings.SplitN(good, ":", 2)[1], "key id of 0 bytes", ErrKeyFormat},
		{"bad id", "k 1:" + strings.SplitN(good, ":", 2)[1], `key id "k 1" has ' '`, ErrKeyFormat},
		{"long id", strings.Repeat("k", 33) + ":" + strings.SplitN(good, ":", 2)[1], "key id of 33 bytes", ErrKeyFormat},
	}
	secret := strings.SplitN(good, ":", 2)[1]
	for _, c := range cases {
		_, err := ParseKeys(c.text)
		if !errors.Is(err, c.err) || !strings.Contains(fmtErr(err), c.want) {
			t.Errorf("%s: err %v, want %v containing %q", c.name, err, c.err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows key material", c.name)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestKeySources(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("# current first\n"+k2+"\n"+k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := LoadKeyFile(path)
	if err != nil || fromFile.CurrentID() != "k2" {
		t.Fatalf("LoadKeyFile: %v, %v", fromFile, err)
	}
	if _, err := LoadKeyFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key file: err %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	_ = os.WriteFile(bad, []byte("k1:xx"), 0o600)
	if _, err := LoadKeyFile(bad); !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad key file: err %v, want ErrKeyFormat naming the path", err)
	}

	t.Setenv(EnvKeys, k2+","+k1)
	fromEnv, err := KeysFromEnv()
	if err != nil || fromEnv.CurrentID() != "k2" {
		t.Fatalf("KeysFromEnv: %v, %v", fromEnv, err)
	}
	// The same keys from either source open each other's records.
	aad := AAD("session", "s")
	if _, err := fromEnv.Open(fromFile.Seal([]byte("x"), aad), aad); err != nil {
		t.Errorf("file-sealed record under env keys: %v", err)
	}
	t.Setenv(EnvKeys, "")
	if _, err := KeysFromEnv(); !errors.Is(err, ErrNoKeys) {
		t.Errorf("empty env: err %v, want ErrNoKeys", err)
	}
	t.Setenv(EnvKeys, "k1:short")
	if _, err := KeysFromEnv(); !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), EnvKeys) {
		t.Errorf("bad env: err %v, want ErrKeyFormat naming the variable", err)
	}
	if s := fromFile.String(); s != "keyring(current k2; keys k2,k1)" || strings.Contains(s, strings.SplitN(k1, ":", 2)[1]) {
		t.Errorf("String() = %q", s)
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := mustKey(t, "k1"), mustKey(t, "k1")
	if a == b {
		t.Error("two generated keys are equal")
	}
	if _, err := ParseKeys(a); err != nil {
		t.Errorf("a generated key does not parse: %v", err)
	}
	if _, err := GenerateKey("bad id"); !errors.Is(err, ErrKeyFormat) {
		t.Errorf("GenerateKey with a bad id: err %v", err)
	}
}

func BenchmarkSeal(b *testing.B) {
	kr, _ := ParseKeys("k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	turn := bytes.Repeat([]byte("x"), 512)
	aad := AAD("transcript", "Wq3k9mZ1rT8uVb2nXc4yLg")
	b.SetBytes(int64(len(turn)))
	b.ReportAllocs()
	for b.Loop() {
		kr.Seal(turn, aad)
	}
}

func BenchmarkOpen(b *testing.B) {
	kr, _ := ParseKeys("k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	aad := AAD("transcript", "Wq3k9mZ1rT8uVb2nXc4yLg")
	sealed := kr.Seal(bytes.Repeat([]byte("x"), 512), aad)
	b.SetBytes(512)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Open(sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}
