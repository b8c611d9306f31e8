package etcdstore

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/authsuite/authsuite/services/token"
)

// ErrNotEmpty is returned by Import when the store already holds keys.
var ErrNotEmpty = errors.New("token etcdstore: the store is not empty")

// importWorkers is how many records Import writes at once (each record is its own transaction).
const importWorkers = 32

// Import writes snap into an empty store (ErrNotEmpty when it holds any key but the session-list marker Open
// writes) as it is: the signing keys with
// their ids (tokens signed before still verify), every revocation, and the sign-in records (sessions with
// their SID index, codes, refresh tokens with their families and chains, consents, login failures,
// interactions) with the expiries they carry.
//
// Each record is written by the method that stores it in normal operation (one transaction per record,
// within etcd's limits), several at a time, so the import as a whole is not atomic: the caller fences it
// (internal/migrate writes a marker before the first write and removes it after the last, and a suite refuses
// to start on a prefix with the marker). The signing keys are written last, so a token replica that somehow
// opened a partial import would find no key set rather than an incomplete state.
func (s *Store) Import(ctx context.Context, snap token.Snapshot) error {
	resp, err := s.cli.Get(ctx, s.p, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("token import: %w", err)
	}
	count := resp.Count
	if count > 0 {
		// Open marks a store whose sessions are all in the session list (indexSessionList), an empty one
		// too: that marker alone holds no data, and every session imported is listed as it is written.
		marker, err := s.cli.Get(ctx, s.listMarker(), clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("token import: %w", err)
		}
		count -= marker.Count
	}
	if count > 0 {
		return fmt.Errorf("token import: %w (%d keys under %q)", ErrNotEmpty, count, s.p)
	}
	jobs, err := s.revocationBatches(snap.Revocations)
	if err != nil {
		return fmt.Errorf("token import: %w", err)
	}
	for _, i := range snap.Interactions {
		jobs = append(jobs, func(ctx context.Context) error { return s.PutInteraction(ctx, i) })
	}
	for _, se := range snap.Sessions {
		jobs = append(jobs, func(ctx context.Context) error { return s.PutSession(ctx, se) })
	}
	for _, c := range snap.Codes {
		jobs = append(jobs, func(ctx context.Context) error { return s.PutCode(ctx, c) })
	}
	for _, t := range snap.RefreshTokens {
		jobs = append(jobs, func(ctx context.Context) error { return s.PutRefreshToken(ctx, t) })
	}
	for _, c := range snap.Consents {
		jobs = append(jobs, func(ctx context.Context) error { return s.PutConsent(ctx, c) })
	}
	for _, f := range snap.LoginFailures {
		jobs = append(jobs, func(ctx context.Context) error {
			_, err := s.UpdateLoginFailureSet(ctx, []string{f.Key}, func([]token.LoginFailures) ([]token.LoginFailures, error) {
				return []token.LoginFailures{f}, nil
			})
			return err
		})
	}
	if len(snap.DeviceCodes) > 0 {
		jobs = append(jobs, func(ctx context.Context) error { return s.importDeviceCodes(ctx, snap.DeviceCodes) })
	}
	if err := runAll(ctx, jobs); err != nil {
		return fmt.Errorf("token import: %w", err)
	}
	if len(snap.Keys) > 0 {
		if err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) { return snap.Keys, nil }); err != nil {
			return fmt.Errorf("token import: signing keys: %w", err)
		}
	}
	return nil
}

// importRevocationsPerTxn is how many revocations one import transaction writes (two operations each, within
// etcd's 128), and importTxnBytes the most bytes one carries (within its 1.5 MiB per request).
const (
	importRevocationsPerTxn = 60
	importTxnBytes          = 1 << 20
)

// revocationBatches returns the jobs that write revs, each one transaction of several revocations with
// their expiry index entries, keyed as Revoke keys them (a million revocations are some 17,000 requests,
// not a million).
func (s *Store) revocationBatches(revs []token.Revocation) ([]func(context.Context) error, error) {
	var (
		jobs []func(context.Context) error
		ops  []clientv3.Op
		size int
	)
	flush := func() {
		if len(ops) > 0 {
			batch := ops
			jobs = append(jobs, func(ctx context.Context) error { _, err := s.commit(ctx, nil, batch...); return err })
			ops, size = nil, 0
		}
	}
	for _, r := range revs {
		if r.JTI == "" || len(r.JTI) > maxJTI {
			return nil, fmt.Errorf("revocation with an empty or oversized jti (%d bytes)", len(r.JTI))
		}
		n := 2*len(s.p) + 2*len(r.JTI) + 64
		if len(ops) == 2*importRevocationsPerTxn || size+n > importTxnBytes {
			flush()
		}
		ops = append(ops, clientv3.OpPut(s.p+"w/r/"+r.JTI, encodeExpiry(r.Expiry)),
			clientv3.OpPut(s.p+"x/r/"+expKey(r.Expiry)+"/"+r.JTI, ""))
		size += n
	}
	flush()
	return jobs, nil
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
