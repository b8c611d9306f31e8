package server

import (
	"context"
	"errors"
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

// WatchClients sends the snapshot (every client, then every user account, paged from the store, read after
// noting the store's revision), then synced (with users_synced and that revision), then every commit after
// it as the store reports it (Server.watchClients). Events may repeat state already in the snapshot; each
// carries the whole new state, so applying them in order converges. A watcher that falls behind, a history
// the store no longer keeps and EndWatches end the stream with UNAVAILABLE.
func (is *internalService) WatchClients(_ *registryv1.WatchClientsRequest, stream grpc.ServerStreamingServer[registryv1.WatchClientsResponse]) error {
	ctx, done, err := is.s.watches.add(stream.Context())
	if err != nil {
		return err
	}
	defer done()
	err = is.s.watchClients(ctx, stream.Send)
	if cause := context.Cause(ctx); errors.Is(cause, errWatchEnded) {
		return cause
	}
	return err
}

// RecordSecretUse stores the batch's last-use times in one write and answers its revision. lastUsed is not
// part of ClientRecord, but the store reports the clients as changed, so their (unchanged) records come
// again on the feed.
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
	is.s.answerRevision(ctx)
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
