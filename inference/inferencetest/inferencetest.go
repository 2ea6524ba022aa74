// Package inferencetest holds test helpers for packages that need the ONNX
// Runtime shared library.
package inferencetest

import (
	"errors"
	"os"
	"testing"

	"github.com/shopassist/shopassist/inference"
)

// RequireRuntime initialises ONNX Runtime (library discovery as in
// inference.Init). When the library is missing the test fails if $CI is
// set, and is skipped with a pointer to "make ort" otherwise; any other
// error fails the test.
func RequireRuntime(t testing.TB) {
	t.Helper()
	err := inference.Init(inference.RuntimeConfig{})
	switch {
	case err == nil:
	case errors.Is(err, inference.ErrNoRuntime) && os.Getenv("CI") == "":
		t.Skipf("no onnxruntime library (run \"make ort\"): %v", err)
	default:
		t.Fatalf("inference.Init: %v", err)
	}
}
