package registry

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
)

// TestPasswordGate: at most the slots run at once, at most the queue waits, every further caller is shed at
// once with an Overloaded error, and a waiter whose context ends leaves the queue.
func TestPasswordGate(t *testing.T) {
	g := newGate(2, 3)
	ctx := context.Background()
	for range 2 {
		if err := g.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan error, 3)
	for range 3 {
		go func() { got <- g.acquire(ctx) }()
	}
	for g.waiting.Load() != 3 { // the waiters are queued; nothing else signals it
		runtime.Gosched()
	}
	if err := g.acquire(ctx); !errors.Is(err, errHashBusy) || !errors.Is(err, apierror.ErrUnavailable) {
		t.Fatalf("caller beyond slots and queue: %v, want shed", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g.release()
	if err := <-got; err != nil {
		t.Fatalf("first waiter: %v", err)
	}
	if err := g.acquire(cctx); !errors.Is(err, errHashBusy) && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	for range 2 {
		g.release()
		if err := <-got; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
	if n := g.waiting.Load(); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// BenchmarkVerifyPasswordContext runs password checks from 100 goroutines per core, as a burst of sign-ins
// does, and reports the heap's peak above its start (peak-heap-MiB) and the share of checks shed.
func BenchmarkVerifyPasswordContext(b *testing.B) {
	hash := HashPassword("correct horse battery staple")
	ctx := context.Background()
	runtime.GC()
	base := heapObjects()
	var peak, shed, total atomic.Uint64
	var mu sync.Mutex
	b.SetParallelism(100)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			total.Add(1)
			if _, err := VerifyPasswordContext(ctx, hash, "wrong"); err != nil {
				shed.Add(1)
			}
			mu.Lock()
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			mu.Unlock()
		}
	})
	b.ReportMetric(float64(peak.Load()-min(base, peak.Load()))/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(shed.Load())/float64(max(total.Load(), 1)), "shed-ratio")
}

// BenchmarkVerifyPassword is one argon2id check (m=19 MiB, t=2, p=1) on one goroutine.
func BenchmarkVerifyPassword(b *testing.B) {
	hash := HashPassword("correct horse battery staple")
	for b.Loop() {
		VerifyPassword(hash, "wrong")
	}
}
