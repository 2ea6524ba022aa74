package inference

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvORTLib names the environment variable that points at the ONNX Runtime
// shared library when --ort-lib is not given.
const EnvORTLib = "ASSISTANT_ORT_LIB"

// DefaultORTLib is where "make ort" (scripts/fetch-ort.sh) puts the library,
// relative to the repository root.
const DefaultORTLib = "third_party/onnxruntime/libonnxruntime.so.1"

// ErrNoRuntime matches (errors.Is) Init's error when the ONNX Runtime
// shared library cannot be found or loaded.
var ErrNoRuntime = errors.New("onnxruntime library unavailable")

// runtimeError is a missing or unloadable library: its text names the fix,
// and it matches ErrNoRuntime.
type runtimeError struct{ msg string }

func (e *runtimeError) Error() string        { return e.msg }
func (e *runtimeError) Is(target error) bool { return target == ErrNoRuntime }

func noRuntime(format string, args ...any) error {
	return &runtimeError{msg: fmt.Sprintf(format, args...)}
}

// RuntimeConfig selects the ONNX Runtime library and its defaults.
type RuntimeConfig struct {
	// LibPath is the shared library (--ort-lib). Empty: $ASSISTANT_ORT_LIB,
	// then DefaultORTLib in the working directory or any parent, then next
	// to the executable.
	LibPath string
	// IntraOpThreads is the default intra-op thread count of each session
	// (ModelOptions.IntraOpThreads overrides it). 0 means 1: the pool gives
	// parallelism across requests, which suits small encoders best.
	IntraOpThreads int
	// Device is "cpu" (default) or "cuda". CUDA needs a GPU build of the
	// library; the npm build that "make ort" fetches is CPU-only.
	Device string
}

var rt struct {
	mu   sync.Mutex
	path string // resolved library, set once initialised
	cfg  RuntimeConfig
}

// Init loads the ONNX Runtime shared library and creates its environment.
// It is safe to call from several goroutines and more than once: later
// calls that resolve to the same library return nil; a different library
// is an error, since a process can hold only one. A failed call may be
// retried (for example after "make ort").
func Init(cfg RuntimeConfig) error {
	switch cfg.Device {
	case "", "cpu", "cuda":
	default:
		return fmt.Errorf("inference: unknown device %q (want cpu or cuda)", cfg.Device)
	}
	if cfg.IntraOpThreads < 0 {
		return fmt.Errorf("inference: intra-op threads %d < 0", cfg.IntraOpThreads)
	}
	path, err := findLibrary(cfg.LibPath)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.path != "" {
		if rt.path != path {
			return fmt.Errorf("inference: onnxruntime already initialised from %s, cannot switch to %s", rt.path, path)
		}
		return nil
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return noRuntime("cannot load onnxruntime library %s (%v): run \"make ort\" or set --ort-lib/%s to a libonnxruntime.so for this platform",
			path, err, EnvORTLib)
	}
	rt.path, rt.cfg = path, cfg
	return nil
}

// RuntimeInfo reports the loaded library and ONNX Runtime version; ok is
// false before a successful Init.
func RuntimeInfo() (path, version string, ok bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.path == "" {
		return "", "", false
	}
	return rt.path, ort.GetVersion(), true
}

func runtimeConfig() (RuntimeConfig, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.cfg, rt.path != ""
}

func findLibrary(explicit string) (string, error) {
	notFound := func(where string) error {
		return noRuntime("onnxruntime library not found at %s: run \"make ort\" or set --ort-lib/%s", where, EnvORTLib)
	}
	for _, p := range []string{explicit, os.Getenv(EnvORTLib)} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", notFound(p)
		}
		return filepath.Abs(p)
	}
	where := DefaultORTLib
	if wd, err := os.Getwd(); err == nil {
		where = filepath.Join(wd, DefaultORTLib)
		for dir := wd; ; dir = filepath.Dir(dir) {
			if p := filepath.Join(dir, DefaultORTLib); isFile(p) {
				return p, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		for _, p := range []string{filepath.Join(dir, DefaultORTLib), filepath.Join(dir, filepath.Base(DefaultORTLib))} {
			if isFile(p) {
				return p, nil
			}
		}
	}
	return "", notFound(where + " (nor in a parent directory or next to the executable)")
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
