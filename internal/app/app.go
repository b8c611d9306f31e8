// Package app assembles and runs authsuite roles. Start runs the all-in-one suite: the registry, token and
// provider services on one gRPC server, each on its own bbolt file, talking to each other through that server's
// gRPC API (never through each other's stores), and the REST gateway in front of them.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/backup"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/directory"
	"github.com/authsuite/authsuite/internal/etcdclient"
	"github.com/authsuite/authsuite/internal/grpcserver"
	"github.com/authsuite/authsuite/internal/httplimit"
	"github.com/authsuite/authsuite/internal/inproc"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/metrics"
	"github.com/authsuite/authsuite/internal/outbound"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/internal/tlsconfig"
	"github.com/authsuite/authsuite/services/gateway"
	provserver "github.com/authsuite/authsuite/services/provider/server"
	"github.com/authsuite/authsuite/services/registry"
	regserver "github.com/authsuite/authsuite/services/registry/server"
	tokserver "github.com/authsuite/authsuite/services/token/server"
)

// Suite is a running authsuite process: all-in-one or one role.
type Suite struct {
	HTTPAddr  net.Addr // where the REST API listens (one-process mode and gateway); nil for a service role
	AdminAddr net.Addr // where /metrics, /healthz and /readyz answer (every role); /metrics only there
	GRPCAddr  net.Addr // where the gRPC services listen; nil for the gateway role
	Issuer    string   // the OAuth issuer URL

	log          *slog.Logger
	grpc         *grpcserver.Server
	http         *http.Server // the REST API; nil for a service role
	admin        *http.Server
	metrics      *metrics.Metrics
	etcd         *clientv3.Client        // the etcd client of --store etcd, shared by the role's stores
	etcdRequests *etcdclient.Requests    // what it has sent
	local        healthpb.HealthServer   // this process's health service, when it runs services
	remote       []healthpb.HealthClient // the backends' health, for a gateway of remote services
	closers      []func() error
	cancel       context.CancelFunc
	wg           sync.WaitGroup

	auditLayer *audit.Interceptor   // records the admin actions of the services of this process
	auditLogs  map[string]audit.Log // their audit logs, by service name, for AuditService

	background chan struct{} // closed when the services' background loops have returned
	endStreams func()        // ends the registry's watch streams, when this process runs the registry
	errs       chan error
}

// Start runs cfg.Role: for the all-in-one role, every service and the gateway connected through an
// in-process gRPC channel; for a service role, that service on its own gRPC listener, reaching the others
// over the network; for the gateway, the REST API in front of remote services. It opens the role's stores
// in cfg.DataDir, bootstraps an empty registry (bootstrap output, such as a generated admin secret, goes to
// bootstrapOut), binds the listeners and serves until Shutdown.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, bootstrapOut io.Writer) (_ *Suite, err error) {
	// s is not the named result: every failing return sets that to nil, and abort must run on what was built.
	s := &Suite{log: log, errs: make(chan error, 8), background: make(chan struct{}), metrics: metrics.New(roleName(cfg.Role)),
		auditLayer: audit.NewInterceptor()}
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	role := cfg.Role
	runsServices := role != config.RoleGateway

	var httpLis net.Listener
	if role.Runs(config.RoleGateway) {
		if httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("--http-addr: %w", err)
		}
		s.closers = append(s.closers, ignoreClosed(httpLis.Close))
		s.HTTPAddr = httpLis.Addr()
	}
	adminLis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr: %w", err)
	}
	s.closers = append(s.closers, ignoreClosed(adminLis.Close))
	s.AdminAddr = adminLis.Addr()
	s.Issuer = cfg.IssuerFor(s.HTTPAddr)

	var (
		keys      *suitekey.Keyring
		grpcLis   net.Listener
		registrar grpc.ServiceRegistrar
		conns     backends // what the services use to reach each other (with the internal credential)
		public    backends // what the gateway uses (without it)
	)
	if runsServices {
		if cfg.Store == config.StoreEtcd {
			if err := s.dialEtcd(ctx, cfg); err != nil {
				return nil, err
			}
			keys, err = openEtcdKeyring(ctx, cfg, s.etcd) // checks the suite's key before anything is written
		} else {
			keys, err = openKeyring(cfg) // checks the data's key before anything is written
		}
		if err != nil {
			return nil, err
		}
		if grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return nil, fmt.Errorf("--grpc-addr: %w", err)
		}
		s.closers = append(s.closers, ignoreClosed(grpcLis.Close))
		s.GRPCAddr = grpcLis.Addr()
		var serverOpts []grpc.ServerOption
		if cfg.GRPCTLSCA != "" {
			tlsCfg, err := mutualTLS(cfg, true)
			if err != nil {
				return nil, err
			}
			serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(tlsCfg)))
		}
		unary, stream := grpcserver.Interceptors(log, guardOf(keys), s.metrics, s.auditLayer)
		s.grpc = grpcserver.NewWith(unary, stream, serverOpts...)
		registrar = s.grpc.Server
		s.local = s.grpc.Health
	}
	if role == config.RoleAll {
		// In one process the services reach each other, and the gateway reaches them, through an in-process
		// gRPC channel running the same interceptors as the network server: the same API, without the socket.
		unary, stream := grpcserver.Interceptors(log, guardOf(keys), s.metrics, s.auditLayer)
		channel := inproc.New(unary, stream, metadata.Pairs(internalauth.MetadataKey, keys.InternalCredential()))
		healthpb.RegisterHealthServer(channel, s.grpc.Health)
		registrar = registrars{s.grpc.Server, channel}
		conns = backends{Token: channel, Registry: channel, Provider: channel}
		// The gateway carries the gateway credential, which opens the browser-facing methods only.
		pub := channel.WithMetadata(metadata.Pairs(internalauth.GatewayMetadataKey, internalauth.GatewayCredential(keys)))
		public = backends{Token: pub, Registry: pub, Provider: pub}
	} else {
		var cred credentials.PerRPCCredentials
		if keys != nil {
			cred = internalauth.Credentials(keys.InternalCredential())
		} else {
			gw, err := gatewayCredential(cfg, nil)
			if err != nil {
				return nil, err
			}
			cred = internalauth.GatewayCredentials(gw)
		}
		if conns, err = s.dialBackends(cfg, cred); err != nil {
			return nil, err
		}
		if role == config.RoleGateway {
			public = conns
		}
	}
	both := registrar // every service registers here: the gRPC server, and the in-process channel when all-in-one

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	var (
		background []func() error
		ready      <-chan struct{} // closed when this process can serve: the token service knows the clients
	)
	dbs := map[string]*bolt.DB{} // the role's databases, streamed by BackupService

	if role.Runs(config.RoleRegistry) {
		regDB, err := s.registryStore(ctx, cfg, dbs)
		if err != nil {
			return nil, err
		}
		if err := registry.Bootstrap(ctx, regDB, keys, registry.BootstrapOptions{
			Secret: cfg.BootstrapSecret, Password: cfg.BootstrapPassword, Out: bootstrapOut, Log: log.With("service", "registry"),
			PublicURL: s.Issuer,
		}); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		// Tenants from before the admin console get their console client (AlreadyExists from a replica
		// doing the same is no error).
		if _, err := registry.EnsureConsoleClients(ctx, regDB, s.Issuer, time.Now().UTC()); err != nil {
			return nil, err
		}
		if _, err := s.auditRecorder(cfg, "registry", dbs, log.With("service", "registry")); err != nil {
			return nil, err
		}
		regSrv := regserver.New(regserver.Deps{
			Store:   regDB,
			Keyring: keys,
			Auth:    bearer.NewTokenService(tokenv1.NewTokenInternalServiceClient(conns.Token)),
			Log:     log.With("service", "registry"),
			Now:     time.Now,
			// New tenants get their admin console client.
			PublicURL: s.Issuer,
		})
		regSrv.Register(both)
		s.endStreams = regSrv.EndWatches
	}
	if role.Runs(config.RoleToken) {
		tokDB, err := s.tokenStore(ctx, cfg, dbs)
		if err != nil {
			return nil, err
		}
		tokAudit, err := s.auditRecorder(cfg, "token", dbs, log.With("service", "token"))
		if err != nil {
			return nil, err
		}
		cas, err := clientCAs(cfg.TLSClientCA)
		if err != nil {
			return nil, err
		}
		tokSrv, err := tokserver.New(tokserver.Deps{
			Store:       tokDB,
			Keyring:     keys,
			Registry:    registryv1.NewRegistryInternalServiceClient(conns.Registry),
			Factors:     registryv1.NewFactorInternalServiceClient(conns.Registry),
			Issuer:      s.Issuer,
			Log:         log.With("service", "token"),
			Now:         time.Now,
			Audit:       tokAudit,
			SigningAlg:  cfg.SigningAlg,
			KeyRotation: cfg.KeyRotation,
			HTTPClient:  outbound.New(outbound.Options{AllowPrivate: cfg.AllowPrivateOutbound, Timeout: tokserver.BackChannelTimeout}),
			// Client keys and certificates (RFC 7523, RFC 8705): certificates reach the service through the HTTPS
			// listener (one process) or the gateway role in front of a token role given --tls-client-ca.
			JWKSFetcher:        jwksFetcher(cfg.AllowPrivateOutbound),
			ClientCAs:          cas,
			ClientCertificates: cfg.TLSCert != "" || cfg.TLSClientCA != "",
		})
		if err != nil {
			return nil, fmt.Errorf("token service: %w", err)
		}
		tokSrv.Register(both)
		if cfg.AuthzRoutes != "" {
			// On the network listener only: Envoy calls it there; the gateway never does.
			if err := registerAuthz(s.grpc.Server, tokSrv, cfg.AuthzRoutes, log); err != nil {
				return nil, err
			}
		}
		ready = tokSrv.ReadyC()
		background = append(background, func() error { return tokSrv.Run(runCtx) })
	}
	if role.Runs(config.RoleProvider) {
		provDB, err := s.providerStore(ctx, cfg, dbs)
		if err != nil {
			return nil, err
		}
		if _, err := s.auditRecorder(cfg, "provider", dbs, log.With("service", "provider")); err != nil {
			return nil, err
		}
		provSrv := provserver.New(provserver.Deps{
			Store:     provDB,
			Keyring:   keys,
			Auth:      bearer.NewTokenService(tokenv1.NewTokenInternalServiceClient(conns.Token)),
			Sessions:  provserver.TokenSessions(tokenv1.NewTokenInternalServiceClient(conns.Token)),
			Directory: directory.NewRegistry(registryv1.NewRegistryInternalServiceClient(conns.Registry)),
			PublicURL: s.Issuer,
			HTTPClient: outbound.New(outbound.Options{AllowPrivate: cfg.AllowPrivateOutbound,
				Timeout: provserver.DefaultHTTPTimeout, MaxResponseBytes: provserver.MaxResponseBytes}),
			Log: log.With("service", "provider"),
			Now: time.Now,
		})
		provSrv.Register(both)
		background = append(background, func() error { provSrv.RunSweeper(runCtx, time.Minute); return nil })
		background = append(background, func() error { return provSrv.Run(runCtx) }) // the grant cache follows the store
	}
	if runsServices {
		s.auditServer(conns.Token, conns.Registry).Register(both)
		bs := backup.New(backup.Deps{
			Databases:          dbs,
			Auth:               bearer.NewTokenService(tokenv1.NewTokenInternalServiceClient(conns.Token)),
			InternalCredential: keys.InternalCredential(),
			Log:                log.With("service", "backup"),
			Etcd:               s.etcd, // nil unless --store etcd: then the backup is an etcd dump of the suite's prefix
			EtcdPrefix:         cfg.EtcdPrefix,
			SpoolDir:           cfg.DataDir, // writable in every deployment (images have no /tmp)
		})
		bs.Register(both)
	}

	// Every store opened with the keyring and its service started: record the primary key in each before
	// any request can seal under it (a file from before key records is adopted here).
	if err := adoptKeys(dbs, keys); err != nil {
		return nil, err
	}

	// The admin listener: metrics, liveness and readiness, in every role. /metrics is served here only, never
	// on the public REST port, which keeps /healthz and /readyz for load balancers that probe it.
	adminMux := http.NewServeMux()
	adminMux.HandleFunc("GET /healthz", healthz)
	adminMux.HandleFunc("GET /readyz", s.readyz)
	adminMux.Handle("GET /metrics", s.metrics.Handler())
	s.admin = adminServer(s.metrics.HTTPMiddleware(adminMux))

	mux := http.NewServeMux()
	var gatewayOpts []gateway.Option
	if role.Runs(config.RoleGateway) {
		gwCred, err := gatewayCredential(cfg, keys)
		if err != nil {
			return nil, err
		}
		gatewayOpts = []gateway.Option{gateway.WithServerKey(gwCred), gateway.WithSecureCookies(strings.HasPrefix(s.Issuer, "https://")),
			gateway.WithBodyLimits(cfg.MaxBodyBytes, cfg.MaxProviderConfigBytes), gateway.WithPublicURL(s.Issuer)}
	}
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if role.Runs(config.RoleGateway) {
		if s.local == nil {
			s.remote = []healthpb.HealthClient{
				healthpb.NewHealthClient(public.Token), healthpb.NewHealthClient(public.Registry), healthpb.NewHealthClient(public.Provider),
			}
		}
		gw, err := gateway.New(ctx, gateway.Backends{Registry: public.Registry, Token: public.Token, Provider: public.Provider}, log.With("service", "gateway"),
			append(gatewayOpts, gateway.WithTrustedProxies(cfg.TrustedProxies))...)
		if err != nil {
			return nil, err
		}
		mux.Handle("GET /openapi.json", gateway.OpenAPI())
		mux.Handle("/", gw)
		s.http, httpLis = restServer(cfg, httpLis, s.metrics.HTTPMiddleware(mux))
		if cfg.TLSCert != "" {
			s.http.TLSConfig = restTLS() // asks for client certificates (clienttls.go)
		}
	}

	if s.grpc != nil {
		s.goRun("grpc", func() error { return s.grpc.Serve(grpcLis) })
	}
	s.goRun("background", func() error {
		defer close(s.background)
		var wg sync.WaitGroup
		errs := make([]error, len(background))
		for i, f := range background {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = f() }()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if s.http != nil {
		s.goRun("http", func() error {
			var err error
			if cfg.TLSCert != "" {
				err = s.http.ServeTLS(httpLis, cfg.TLSCert, cfg.TLSKey)
			} else {
				err = s.http.Serve(httpLis)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	s.goRun("admin", func() error {
		if err := s.admin.Serve(adminLis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if s.grpc != nil {
		if ready == nil {
			s.grpc.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		} else {
			// Not serving until the token service has its view of the clients (from token.db or the registry).
			s.grpc.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			go func() {
				select {
				case <-ready:
					s.grpc.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
				case <-runCtx.Done():
				}
			}()
		}
	}
	if role == config.RoleAll {
		// The registry is in this process: wait for the first sync, so the suite answers for every client
		// as soon as Start returns.
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return nil, errors.New("the token service did not receive the clients from the registry within 30s")
		}
	}
	attrs := []any{"role", roleName(role), "admin_addr", s.AdminAddr.String(), "issuer", s.Issuer}
	if s.HTTPAddr != nil {
		attrs = append(attrs, "http_addr", s.HTTPAddr.String())
	}
	if s.GRPCAddr != nil {
		attrs = append(attrs, "grpc_addr", s.GRPCAddr.String(), "store", cfg.Store)
		switch cfg.Store {
		case config.StoreBbolt:
			attrs = append(attrs, "data_dir", cfg.DataDir)
		case config.StoreEtcd:
			attrs = append(attrs, "etcd_endpoints", strings.Join(cfg.EtcdEndpoints, ","), "etcd_prefix", cfg.EtcdPrefix)
		}
	}
	log.Info("authsuite serving", attrs...)
	return s, nil
}

// backends are the connections to the three services.
type backends struct {
	Token, Registry, Provider grpc.ClientConnInterface
}

// dialBackends connects to the services a split role talks to, presenting cred: the internal credential
// (service roles) or the gateway credential (the gateway). With --grpc-tls-ca every connection is mutual TLS.
// A service given as several addresses is balanced over its healthy replicas (dialService).
func (s *Suite) dialBackends(cfg config.Config, cred credentials.PerRPCCredentials) (backends, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if cfg.GRPCTLSCA != "" {
		tlsCfg, err := mutualTLS(cfg, false)
		if err != nil {
			return backends{}, err
		}
		opts = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg))}
	}
	opts = append(opts, grpc.WithPerRPCCredentials(cred))
	var b backends
	for _, t := range []struct {
		addr string
		into *grpc.ClientConnInterface
	}{{cfg.TokenAddr, &b.Token}, {cfg.RegistryAddr, &b.Registry}, {cfg.ProviderAddr, &b.Provider}} {
		var cc *grpc.ClientConn
		cc, err := dialService(t.addr, append(opts[:len(opts):len(opts)], backendDialOptions(&cc)...)...) // connects lazily: roles may start in any order
		if err != nil {
			return backends{}, err
		}
		s.closers = append(s.closers, cc.Close)
		*t.into = cc
	}
	return b, nil
}

// mutualTLS builds a role's TLS configuration from --grpc-tls-cert, --grpc-tls-key and --grpc-tls-ca.
func mutualTLS(cfg config.Config, server bool) (*tls.Config, error) {
	c, err := tlsconfig.Mutual(cfg.GRPCTLSCert, cfg.GRPCTLSKey, cfg.GRPCTLSCA, server)
	if err != nil {
		return nil, fmt.Errorf("--grpc-tls-cert/--grpc-tls-key/--grpc-tls-ca: %w", err)
	}
	return c, nil
}

func roleName(r config.Role) string {
	if r == config.RoleAll {
		return "all"
	}
	return string(r)
}

func (s *Suite) goRun(name string, f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("component stopped", "component", name, "err", err)
			s.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// Errors reports a component that stopped unexpectedly.
func (s *Suite) Errors() <-chan error { return s.errs }

// healthz answers 200 while the process runs.
func healthz(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }

// readyz answers 200 when this process's gRPC services report SERVING, or, for the gateway, when every
// backend does.
func (s *Suite) readyz(w http.ResponseWriter, r *http.Request) {
	ok := true
	if s.local != nil {
		resp, err := s.local.Check(r.Context(), &healthpb.HealthCheckRequest{})
		ok = err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}
	for _, h := range s.remote {
		resp, err := h.Check(r.Context(), &healthpb.HealthCheckRequest{})
		ok = ok && err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}
	if !ok {
		http.Error(w, "not ready\n", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

// Shutdown stops accepting requests, lets in-flight ones finish (until ctx ends), stops the background
// loops and closes the stores. Every write acknowledged before it is durable. The order matters: REST first
// (its handlers are the in-process callers of the services), then the registry's watch streams, which other
// processes hold open and GracefulStop would wait on, then gRPC, and only then the background loops, so no
// request can start background work while the services wait for theirs to end. The admin listener answers
// until the end (/readyz 503 from the start of Shutdown), so probes and scrapes see the drain.
func (s *Suite) Shutdown(ctx context.Context) error {
	if s.grpc != nil {
		s.grpc.Health.Shutdown()
	}
	var httpErr error
	if s.http != nil {
		httpErr = s.http.Shutdown(ctx)
	}
	if s.endStreams != nil {
		s.endStreams()
	}
	if s.grpc != nil {
		stopped := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-ctx.Done():
			s.grpc.Stop()
		}
	}
	s.cancel()
	<-s.background
	adminErr := s.admin.Shutdown(ctx)
	s.wg.Wait()
	return errors.Join(httpErr, adminErr, s.closeAll())
}

// abort undoes a Start that failed part-way: whatever was started is stopped before the stores close.
func (s *Suite) abort() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.http != nil {
		s.http.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.grpc != nil {
		s.grpc.Stop()
	}
	if s.endStreams != nil {
		s.endStreams()
	}
	s.wg.Wait()
	s.closeAll()
}

func (s *Suite) closeAll() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// guardOf is the access rule of this process's gRPC services: the internal credential opens everything,
// the gateway credential the browser-facing methods (internal/internalauth).
func guardOf(keys *suitekey.Keyring) internalauth.Guard {
	return internalauth.Guard{Internal: keys.InternalCredential(), Gateway: internalauth.GatewayCredential(keys)}
}

// gatewayCredential is what the gateway presents to the services, and what keys its CSRF tokens: derived
// from keys when this process holds them (all-in-one), else AUTHSUITE_GATEWAY_CREDENTIAL, or the credential
// derived from AUTHSUITE_MASTER_KEY when only that is given. The gateway never presents the internal
// credential.
func gatewayCredential(cfg config.Config, keys *suitekey.Keyring) (string, error) {
	switch {
	case keys != nil:
		return internalauth.GatewayCredential(keys), nil
	case cfg.GatewayCredential != "":
		return cfg.GatewayCredential, nil
	}
	kr, err := suitekey.Parse(cfg.MasterKey)
	if err != nil {
		return "", fmt.Errorf("AUTHSUITE_MASTER_KEY: %w", err)
	}
	return internalauth.GatewayCredential(kr), nil
}

// restServer bounds the REST listener (issue: trickled bodies held connections forever): the whole request
// must arrive within --http-read-timeout, the answer within --http-write-timeout, an idle keep-alive
// connection closes after --http-idle-timeout, and at most --max-connections are open, one in eight (at
// least 2) kept for /healthz and /readyz (internal/httplimit) so the orchestrator still sees the process
// while clients hold the rest.
func restServer(cfg config.Config, lis net.Listener, h http.Handler) (*http.Server, net.Listener) {
	or := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	read := or(cfg.HTTPReadTimeout, 30*time.Second)
	maxConns := cfg.MaxConnections
	if maxConns <= 0 {
		maxConns = 1024
	}
	limited := httplimit.NewListener(lis, maxConns, max(maxConns/8, 2))
	return &http.Server{
		Handler:           httplimit.Handler(h, "/healthz", "/readyz"),
		ConnContext:       httplimit.ConnContext,
		ReadHeaderTimeout: min(10*time.Second, read),
		ReadTimeout:       read,
		WriteTimeout:      or(cfg.HTTPWriteTimeout, 60*time.Second),
		IdleTimeout:       or(cfg.HTTPIdleTimeout, 120*time.Second),
	}, limited
}

// adminServer serves the admin listener: small answers to probes and scrapers, with timeouts so that a stalled
// client cannot hold a connection.
func adminServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}

// registrars registers a service on several registrars at once.
type registrars []grpc.ServiceRegistrar

func (rs registrars) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, r := range rs {
		r.RegisterService(desc, impl)
	}
}

func ignoreClosed(f func() error) func() error {
	return func() error {
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}
