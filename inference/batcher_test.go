package inference

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func requireRuntime(t testing.TB) {
	t.Helper()
	err := Init(RuntimeConfig{})
	switch {
	case err == nil:
	case errors.Is(err, ErrNoRuntime) && os.Getenv("CI") == "":
		t.Skipf("no onnxruntime library (run \"make ort\"): %v", err)
	default:
		t.Fatalf("Init: %v", err)
	}
}

// gate holds every batch at the start of its run until released, and tells
// the test when a batch has started and how big it is.
type gate struct {
	started chan int
	release chan struct{}
}

func newGatedModel(t *testing.T, sessions int) (*Model, *gate) {
	t.Helper()
	requireRuntime(t)
	m, err := LoadModel(filepath.Join("testdata", "tiny"), ModelOptions{Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	g := &gate{started: make(chan int, 100), release: make(chan struct{})}
	m.testHook = func(n int) {
		g.started <- n
		<-g.release
	}
	return m, g
}

func TestBatcherBusyWhenQueueFull(t *testing.T) {
	m, g := newGatedModel(t, 1)
	b := NewBatcher(m, BatcherConfig{QueueSize: 1, MaxBatch: 8})
	defer b.Close()
	enc := m.Encode("show me red shoes")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	call := func() {
		defer wg.Done()
		_, err := b.Logits(ctx, enc)
		errs <- err
	}
	wg.Add(1)
	go call()                     // runs at once: nothing queued, a session free
	if n := <-g.started; n != 1 { // the only session is now held
		t.Fatalf("first batch has %d sequences, want 1", n)
	}
	// The second is taken by the (single) worker, which waits for the
	// session; the third fills the queue.
	wg.Add(1)
	go call()
	waitFor(t, func() bool { return b.accepted.Load() == 2 && len(b.queue) == 0 })
	wg.Add(1)
	go call()
	waitFor(t, func() bool { return len(b.queue) == 1 })
	_, err := b.Logits(ctx, enc)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Logits with full queue = %v, want ErrBusy", err)
	}
	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("queued request: %v", err)
		}
	}
	// The two queued requests ran together as one batch.
	if n := <-g.started; n != 2 {
		t.Errorf("second batch has %d sequences, want 2", n)
	}
	if batches, seqs := b.Stats(); batches != 2 || seqs != 3 {
		t.Errorf("Stats = %d batches, %d sequences, want 2, 3", batches, seqs)
	}
}

func TestBatcherCancelWhileQueued(t *testing.T) {
	m, g := newGatedModel(t, 1)
	b := NewBatcher(m, BatcherConfig{QueueSize: 4})
	defer b.Close()
	enc := m.Encode("where is my order")
	done := make(chan error, 1)
	go func() {
		_, err := b.Logits(context.Background(), enc)
		done <- err
	}()
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := b.Logits(ctx, enc)
		cancelled <- err
	}()
	waitFor(t, func() bool { return b.accepted.Load() == 2 })
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request = %v, want context.Canceled", err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The cancelled request is dropped, not run.
	b.Close()
	if batches, seqs := b.Stats(); batches != 1 || seqs != 1 {
		t.Errorf("Stats = %d batches, %d sequences, want 1, 1", batches, seqs)
	}
	if _, err := b.Logits(context.Background(), enc); !errors.Is(err, ErrClosed) {
		t.Errorf("Logits after Close = %v, want ErrClosed", err)
	}
}

func TestModelLogitsHonoursContext(t *testing.T) {
	m, g := newGatedModel(t, 1)
	enc := m.Encode("hi")
	held := make(chan error, 1)
	go func() {
		_, err := m.Logits(context.Background(), []Encoding{enc})
		held <- err
	}()
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Logits(ctx, []Encoding{enc}); !errors.Is(err, context.Canceled) {
		t.Errorf("Logits with no free session and a cancelled ctx = %v, want context.Canceled", err)
	}
	close(g.release)
	if err := <-held; err != nil { // before Cleanup closes the model
		t.Fatal(err)
	}
}

// TestBatcherMatchesDirect checks that batched, padded results are the
// same as one-at-a-time ones under concurrency.
func TestBatcherMatchesDirect(t *testing.T) {
	requireRuntime(t)
	m, err := LoadModel(filepath.Join("testdata", "tiny"), ModelOptions{Sessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := NewBatcher(m, BatcherConfig{MaxWait: time.Millisecond})
	defer b.Close()
	texts := []string{"show me red shoes under $49.95", "where is my order", "hi", "refund please", "lc51c", "talk to a human!", "cheap running headphones size 100"}
	want := make([][]float32, len(texts))
	for i, s := range texts {
		out, err := m.Logits(context.Background(), []Encoding{m.Encode(s)})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out[0]
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := (w + i) % len(texts)
				got, err := b.Logits(context.Background(), m.Encode(texts[k]))
				if err != nil {
					t.Error(err)
					return
				}
				for j := range got {
					if d := got[j] - want[k][j]; d > 1e-5 || d < -1e-5 {
						t.Errorf("%q logit %d: batched %v, direct %v", texts[k], j, got[j], want[k][j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	batches, seqs := b.Stats()
	t.Logf("%d sequences in %d batches", seqs, batches)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
