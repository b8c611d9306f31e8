package server

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// TestBarrierIsBounded: the barrier header is the caller's to set, on public calls (checks, the token
// endpoint) too. A token revision beyond the store's whole history is refused at once (INVALID_ARGUMENT)
// instead of waiting; a registry revision the token service cannot judge may wait, but at most
// maxBarrierWaits requests wait at once: the others are refused at once with UNAVAILABLE, so requests
// carrying "registry:<huge>" cannot pile up parked calls on a replica.
func TestBarrierIsBounded(t *testing.T) {
	e := newEnvOn(t, memstore.New())
	tok := e.mustToken("svc", svcSecret, "")

	began := time.Now()
	_, err := e.simple.CheckToken(atRevisions(context.Background(), "token:9223372036854775807"), &tokenv1.CheckTokenRequest{Token: tok})
	if status.Code(err) != codes.InvalidArgument || time.Since(began) > time.Second {
		t.Fatalf("a token revision no store produced: %v after %v, want INVALID_ARGUMENT at once", err, time.Since(began))
	}

	const callers = 3 * maxBarrierWaits
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var refusedAtOnce, waited atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			start := time.Now()
			_, err := e.simple.CheckToken(atRevisions(ctx, "registry:9223372036854775807"), &tokenv1.CheckTokenRequest{Token: tok})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("registry revision never applied: %v, want UNAVAILABLE", err)
			}
			if time.Since(start) < MaxRevisionWait/2 {
				refusedAtOnce.Add(1)
			} else {
				waited.Add(1)
			}
		})
	}
	wg.Wait()
	if waited.Load() > maxBarrierWaits {
		t.Errorf("%d requests waited at the barrier at once, want at most %d", waited.Load(), maxBarrierWaits)
	}
	if refusedAtOnce.Load() < callers-maxBarrierWaits {
		t.Errorf("%d of %d requests were refused at once, want at least %d", refusedAtOnce.Load(), callers, callers-maxBarrierWaits)
	}
}
