package etcdstore

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/authsuite/authsuite/services/provider"
)

// ErrNotEmpty is returned by Import when the store already holds keys.
var ErrNotEmpty = errors.New("provider etcdstore: the store is not empty")

// importWorkers is how many connectors or pending authorizations Import writes at once.
const importWorkers = 32

// Import writes snap into an empty store (ErrNotEmpty when it holds any key) as it is: the providers with
// their sealed secrets, then every connector with its id, status, sealed grant and refresh lease, then the
// pending authorizations. Each is written by the method that stores it in normal operation (within etcd's
// limits), several at a time, so the import as a whole is not atomic: the caller fences it (internal/migrate
// writes a marker before the first write and removes it after the last, and a suite refuses to start on a
// prefix with the marker).
func (s *Store) Import(ctx context.Context, snap provider.Snapshot) error {
	resp, err := s.cli.Get(ctx, s.p, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("provider import: %w", err)
	}
	if resp.Count > 0 {
		return fmt.Errorf("provider import: %w (%d keys under %q)", ErrNotEmpty, resp.Count, s.p)
	}
	if err := s.PutProviders(ctx, snap.Providers); err != nil {
		return fmt.Errorf("provider import: providers: %w", err)
	}
	var jobs []func(context.Context) error
	for _, c := range snap.Connectors {
		jobs = append(jobs, func(ctx context.Context) error {
			if err := s.CreateConnector(ctx, c, provider.AuthState{}); err != nil {
				return fmt.Errorf("connector %s: %w", c.ID, err)
			}
			return nil
		})
	}
	if err := runAll(ctx, jobs); err != nil {
		return fmt.Errorf("provider import: %w", err)
	}
	jobs = jobs[:0]
	for _, st := range snap.AuthStates {
		jobs = append(jobs, func(ctx context.Context) error {
			if err := s.PutAuthState(ctx, st); err != nil {
				return fmt.Errorf("pending authorization of connector %s: %w", st.ConnectorID, err)
			}
			return nil
		})
	}
	if err := runAll(ctx, jobs); err != nil {
		return fmt.Errorf("provider import: %w", err)
	}
	return nil
}

// runAll runs jobs, importWorkers at a time, and returns the first error (the jobs not yet started are
// skipped and the running ones see their context cancelled).
func runAll(ctx context.Context, jobs []func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(importWorkers)
	for _, job := range jobs {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return job(ctx) })
	}
	return g.Wait()
}
