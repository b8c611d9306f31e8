package clients

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// maxPendingUses bounds the uses held while the registry is unreachable; beyond it new secrets are dropped
// (their clients still work; only lastUsed is less fresh).
const maxPendingUses = 100_000

type useKey struct{ client, secret string }

// UseRecorder collects which secret authenticated which client, latest time per secret, and reports them to
// the registry with one RecordSecretUse call per flush — never one per request. Record is a map write under
// a mutex. Uses that fail to flush are kept and retried with the next flush.
type UseRecorder struct {
	reg     registryv1.RegistryInternalServiceClient
	log     *slog.Logger
	mu      sync.Mutex
	pending map[useKey]time.Time
	calls   atomic.Uint64
}

// NewUseRecorder returns a recorder that reports to reg.
func NewUseRecorder(reg registryv1.RegistryInternalServiceClient, log *slog.Logger) *UseRecorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &UseRecorder{reg: reg, log: log, pending: map[useKey]time.Time{}}
}

// Record notes that secretID authenticated clientID at t.
func (u *UseRecorder) Record(clientID, secretID string, t time.Time) {
	k := useKey{clientID, secretID}
	u.mu.Lock()
	if old, ok := u.pending[k]; (ok && t.After(old)) || (!ok && len(u.pending) < maxPendingUses) {
		u.pending[k] = t
	}
	u.mu.Unlock()
}

// Calls counts the RecordSecretUse calls made.
func (u *UseRecorder) Calls() uint64 { return u.calls.Load() }

// Flush sends every pending use in one RecordSecretUse call; with nothing pending it calls nothing.
func (u *UseRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = map[useKey]time.Time{}
	u.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	req := &registryv1.RecordSecretUseRequest{Uses: make([]*registryv1.SecretUse, 0, len(batch))}
	for k, t := range batch {
		req.Uses = append(req.Uses, &registryv1.SecretUse{ClientId: k.client, SecretId: k.secret, UsedTime: timestamppb.New(t)})
	}
	u.calls.Add(1)
	if _, err := u.reg.RecordSecretUse(ctx, req); err != nil {
		u.mu.Lock()
		for k, t := range batch {
			if old, ok := u.pending[k]; !ok || t.After(old) {
				u.pending[k] = t
			}
		}
		u.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then makes a last attempt bounded by one second.
func (u *UseRecorder) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			if err := u.Flush(fctx); err != nil {
				u.log.Warn("final secret-use flush failed", "err", err)
			}
			cancel()
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := u.Flush(fctx); err != nil {
				u.log.Warn("secret-use flush failed; will retry", "err", err)
			}
			cancel()
		}
	}
}
