package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// maxSecretUses bounds one RecordSecretUse batch.
const maxSecretUses = 10000

// internalService implements RegistryInternalService. The internal credential is checked by the gRPC
// server's interceptor (grpcserver.New) before any method runs.
type internalService struct {
	registryv1.UnimplementedRegistryInternalServiceServer
	s *Server
}

// errWatchBehind ends a stream whose watcher could not keep up; the client reconnects and resyncs.
var errWatchBehind = fmt.Errorf("client watch fell behind; reconnect to resync: %w", apierror.ErrUnavailable)

// WatchClients subscribes first, then sends the snapshot (every client, then every user account, paged from
// the store), then synced (with users_synced), then every queued and later event. Events may repeat state
// already in the snapshot; each carries the whole new state, so applying them in order converges.
func (is *internalService) WatchClients(_ *registryv1.WatchClientsRequest, stream grpc.ServerStreamingServer[registryv1.WatchClientsResponse]) error {
	ctx := stream.Context()
	s := is.s
	s.clientWrites.Lock() // no change is between its commit and its publication while we subscribe
	w := s.feed.subscribe()
	s.clientWrites.Unlock()
	defer s.feed.unsubscribe(w)

	codes := map[string]string{}
	after := ""
	for {
		items, next, err := s.store.ListClients(ctx, "", registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			return err
		}
		for _, c := range items {
			code, ok := codes[c.TenantID]
			if !ok {
				t, err := s.store.GetTenant(ctx, c.TenantID)
				if err != nil {
					return err
				}
				code, codes[c.TenantID] = t.Code, t.Code
			}
			if err := stream.Send(upsertEvent(c, code)); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	if err := s.sendUsers(ctx, stream.Send); err != nil {
		return err
	}
	synced := &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Synced{Synced: true}, UsersSynced: true}
	if err := stream.Send(synced); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.gone:
			// Events were lost: end the stream so the watcher reconnects and gets a fresh snapshot.
			return errWatchBehind
		case ev := <-w.ch:
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}

// RecordSecretUse stores the batch's last-use times in one write. lastUsed is not part of ClientRecord, so
// no watch event follows.
func (is *internalService) RecordSecretUse(ctx context.Context, req *registryv1.RecordSecretUseRequest) (*registryv1.RecordSecretUseResponse, error) {
	if len(req.GetUses()) > maxSecretUses {
		return nil, apierror.Invalid("uses", "at most %d uses per call", maxSecretUses)
	}
	uses, err := secretUsesFromProto(req.GetUses())
	if err != nil {
		return nil, err
	}
	if err := is.s.store.RecordSecretUse(ctx, uses); err != nil {
		return nil, err
	}
	return &registryv1.RecordSecretUseResponse{}, nil
}

// ResolveUser finds the user a sudo selector names in a tenant (by id or code). A disabled user cannot be
// impersonated: PERMISSION_DENIED, unless include_disabled asks for it (with its disabled flag set).
func (is *internalService) ResolveUser(ctx context.Context, req *registryv1.ResolveUserRequest) (*registryv1.ResolveUserResponse, error) {
	sel, err := access.ParseSelector(req.GetSelector())
	if err != nil {
		return nil, err
	}
	var t registry.Tenant
	switch {
	case req.GetTenantId() != "":
		t, err = is.s.store.GetTenant(ctx, req.GetTenantId())
	case req.GetTenantCode() != "":
		t, err = is.s.store.GetTenantByCode(ctx, req.GetTenantCode())
	default:
		return nil, apierror.Invalid("tenantId", "tenantId or tenantCode is required")
	}
	if err != nil {
		return nil, err
	}
	u, err := is.s.store.FindUser(ctx, t.ID, sel)
	if err != nil {
		return nil, err
	}
	if u.Disabled && !req.GetIncludeDisabled() {
		return nil, apierror.PermissionDenied("user %q is disabled and cannot be impersonated", u.ID)
	}
	return &registryv1.ResolveUserResponse{User: userToProto(u), TenantCode: t.Code, Incarnation: u.Incarnation}, nil
}

// dummyPasswordHash is verified against when no user matches, so that an unknown login name takes as long
// to refuse as a wrong password (no user enumeration by timing).
var dummyPasswordHash = registry.HashPassword("authsuite-dummy-password-never-matches")

// errBadCredentials is the one answer for an unknown user or a wrong password.
var errBadCredentials = apierror.Unauthenticated("invalid user name or password")

// refuse spends a password check on the dummy hash, within the same bound as a real one, and answers
// errBadCredentials (or the bound's refusal, as a real check would).
func refuse(ctx context.Context, password string) error {
	if _, err := registry.VerifyPasswordContext(ctx, dummyPasswordHash, password); err != nil {
		return err
	}
	return errBadCredentials
}

// AuthenticateUser checks a sign-in attempt: the tenant's user whose login name (or, when the login contains
// "@" and no login name matches, e-mail) equals login, case-insensitively, and whose argon2id password hash
// verifies password. Unknown users, users without a password and wrong passwords fail alike with
// UNAUTHENTICATED; a disabled user with the right password fails with PERMISSION_DENIED. The password is
// never logged or returned.
func (is *internalService) AuthenticateUser(ctx context.Context, req *registryv1.AuthenticateUserRequest) (*registryv1.AuthenticateUserResponse, error) {
	if req.GetTenantId() == "" {
		return nil, apierror.Invalid("tenantId", "is required")
	}
	login, password := req.GetLogin(), req.GetPassword()
	if login == "" || len(login) > 256 || password == "" || len(password) > registry.MaxPasswordLen {
		return nil, refuse(ctx, "x")
	}
	u, err := is.s.store.FindUser(ctx, req.GetTenantId(), access.Selector{Kind: access.ByLoginName, Value: login})
	if errors.Is(err, apierror.ErrNotFound) && strings.Contains(login, "@") {
		u, err = is.s.store.FindUser(ctx, req.GetTenantId(), access.Selector{Kind: access.ByEmail, Value: login})
	}
	switch {
	case errors.Is(err, apierror.ErrNotFound):
		return nil, refuse(ctx, password)
	case err != nil:
		return nil, err
	}
	if u.PasswordHash == "" {
		return nil, refuse(ctx, password)
	}
	// Bounded (registry.VerifyPasswordContext): beyond the hashing slots and queue the attempt is shed with
	// UNAVAILABLE and a retry hint before any hashing, so a burst of sign-ins cannot exhaust memory.
	ok, err := registry.VerifyPasswordContext(ctx, u.PasswordHash, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadCredentials
	}
	if u.Disabled {
		return nil, apierror.PermissionDenied("the user is disabled")
	}
	return &registryv1.AuthenticateUserResponse{User: userToProto(u), Incarnation: u.Incarnation}, nil
}
