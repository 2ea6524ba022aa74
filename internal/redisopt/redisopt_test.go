package redisopt

import (
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	if got := MaskURL("redis://user:secret@localhost:6379/0"); strings.Contains(got, "secret") || !strings.HasPrefix(got, "redis://user:") {
		t.Errorf("password kept or user lost: %s", got)
	}
	if got := MaskURL("redis://localhost:6379"); got != "redis://localhost:6379" {
		t.Errorf("URL without password changed: %s", got)
	}
	if got := MaskURL("redis://:sec ret@%zz"); strings.Contains(got, "sec") {
		t.Errorf("unparsable URL leaked its password: %s", got)
	}
}
