// Package server is the gRPC edge of the registry service: TenantService, ClientService and UserService (the
// admin API of docs/reference/admin-api.md, reached through the REST gateway) and RegistryInternalService (the other services'
// API: client change feed, secret-use recording, sudo user resolution).
//
// Every public call is authorized per call from the bearer token in the "authorization" metadata (see
// Authenticator) and audited with slog; internal calls are guarded by the suite's internal credential,
// which grpcserver.New enforces. Handlers return apierror values; grpcserver's interceptor maps them.
package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
)

// Deps are the server's dependencies. Store and Keyring are required. Auth verifies admin bearer tokens;
// when nil every admin call answers UNAUTHENTICATED. Log defaults to discarding, Now to time.Now.
type Deps struct {
	Store   registry.Store
	Keyring *suitekey.Keyring
	Auth    bearer.Authenticator
	Log     *slog.Logger
	Now     func() time.Time
	// PublicURL is the suite's public URL: new tenants get their admin console client for it (console.go).
	PublicURL string
}

// Server implements the registry's gRPC services. It is safe for concurrent use.
type Server struct {
	store   registry.Store
	keyring *suitekey.Keyring
	auth    bearer.Authenticator
	log     *slog.Logger
	now     func() time.Time

	publicURL string

	// watches are the open WatchClients streams. Their events come from the store's watch, not from the
	// handlers: a change made through any replica sharing the store reaches every watcher of every replica,
	// and writers never wait for watchers.
	watches watches
}

// New builds a server from d. It panics if d.Store or d.Keyring is nil (a programming error, caught at
// start-up).
func New(d Deps) *Server {
	if d.Store == nil || d.Keyring == nil {
		panic("registry server: Deps.Store and Deps.Keyring are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Server{store: d.Store, keyring: d.Keyring, auth: d.Auth, log: d.Log, now: d.Now, publicURL: d.PublicURL}
}

// Register adds TenantService, ClientService, ApiResourceService, UserService and RegistryInternalService to
// s.
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	registryv1.RegisterTenantServiceServer(gs, &tenantService{s: s})
	registryv1.RegisterClientServiceServer(gs, &clientService{s: s})
	registryv1.RegisterApiResourceServiceServer(gs, &resourceService{s: s})
	registryv1.RegisterUserServiceServer(gs, &userService{s: s})
	registryv1.RegisterRegistryInternalServiceServer(gs, &internalService{s: s})
	registryv1.RegisterConsoleServiceServer(gs, &consoleService{s: s})
	registryv1.RegisterIdentityProviderServiceServer(gs, &identityProviderService{s: s})
	registryv1.RegisterFactorInternalServiceServer(gs, &factorService{s: s})
}

// admin runs one admin API call: it authenticates the caller, checks that the principal may act in tenantID
// (system tenant only when systemOnly), runs fn, and writes one audit record whatever the outcome.
func (s *Server) admin(ctx context.Context, tenantID string, systemOnly bool, fn func(p principal) error) error {
	p, err := s.authorize(ctx, tenantID, systemOnly)
	if err == nil {
		err = fn(p)
	}
	s.audit(ctx, p, tenantID, err)
	return err
}

// adminWrite is admin for the calls that write: after fn succeeds it answers the revision the write
// produced (answerRevision), so the caller can ask any replica to wait until it has seen the write.
func (s *Server) adminWrite(ctx context.Context, tenantID string, systemOnly bool, fn func(p principal) error) error {
	err := s.admin(ctx, tenantID, systemOnly, fn)
	if err == nil {
		s.answerRevision(ctx)
	}
	return err
}

// revisionMetadata is the response header metadata naming the revision a write produced, "registry:<n>".
// The gateway answers it as the HTTP header Authsuite-Revision; a request carrying that value makes a token
// service wait until its client view has applied revision n.
const revisionMetadata = "authsuite-revision"

// answerRevision sets the response header metadata authsuite-revision to "registry:<n>", n being the store's
// revision now: at or after the revision of every write this server has acknowledged, so at or after the
// caller's write. Call it after the write succeeded, before the handler returns.
func (s *Server) answerRevision(ctx context.Context) {
	md := metadata.Pairs(revisionMetadata, "registry:"+strconv.FormatInt(s.store.Revision(), 10))
	if err := grpc.SetHeader(ctx, md); err != nil {
		s.log.Debug("cannot answer the write's revision", "err", err)
	}
}

// audit logs who did what where, and how it ended (bearer.Audit: the RPC method, the real caller and, under
// sudo, the impersonated user). It never logs request contents, tokens or secrets.
func (s *Server) audit(ctx context.Context, p principal, tenantID string, err error) {
	bearer.Audit(ctx, s.log, p, err, slog.String("tenant", tenantID))
}
