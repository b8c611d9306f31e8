// Package app assembles and runs authsuite roles. Start runs the all-in-one suite: the registry, token and
// provider services on one gRPC server, each on its own bbolt file, talking to each other through that server's
// gRPC API (never through each other's stores), and the REST gateway in front of them.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/grpcserver"
	"github.com/authsuite/authsuite/internal/inproc"
	"github.com/authsuite/authsuite/internal/internalauth"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/gateway"
	provstore "github.com/authsuite/authsuite/services/provider/bboltstore"
	provserver "github.com/authsuite/authsuite/services/provider/server"
	"github.com/authsuite/authsuite/services/registry"
	regstore "github.com/authsuite/authsuite/services/registry/bboltstore"
	regserver "github.com/authsuite/authsuite/services/registry/server"
	tokserver "github.com/authsuite/authsuite/services/token/server"
	tokstore "github.com/authsuite/authsuite/services/token/store/boltstore"
)

// Suite is a running all-in-one authsuite.
type Suite struct {
	HTTPAddr net.Addr // where the REST gateway listens
	GRPCAddr net.Addr // where the gRPC services listen
	Issuer   string   // the OAuth issuer URL

	log     *slog.Logger
	grpc    *grpcserver.Server
	http    *http.Server
	health  healthpb.HealthClient
	closers []func() error
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	background chan struct{} // closed when the token service's background loops have returned
	errs       chan error
}

// Start opens the stores in cfg.DataDir, bootstraps an empty registry, binds the listeners and serves until
// Shutdown. Bootstrap output (a generated admin secret) goes to bootstrapOut.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, bootstrapOut io.Writer) (s *Suite, err error) {
	s = &Suite{log: log, errs: make(chan error, 4)}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	keys, err := loadKeyring(cfg)
	if err != nil {
		return nil, err
	}

	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("--grpc-addr: %w", err)
	}
	s.closers = append(s.closers, ignoreClosed(grpcLis.Close))
	httpLis, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	s.closers = append(s.closers, ignoreClosed(httpLis.Close))
	s.GRPCAddr, s.HTTPAddr = grpcLis.Addr(), httpLis.Addr()
	s.Issuer = cfg.IssuerFor(s.HTTPAddr)

	// In one process the services reach each other, and the gateway reaches them, through an in-process
	// gRPC channel running the same interceptors as the network server: the same API, without the socket.
	s.grpc = grpcserver.New(log, keys.InternalCredential())
	unary, stream := grpcserver.Interceptors(log, keys.InternalCredential())
	channel := inproc.New(unary, stream, metadata.Pairs(internalauth.MetadataKey, keys.InternalCredential()))
	both := registrars{s.grpc.Server, channel}
	healthpb.RegisterHealthServer(channel, s.grpc.Health)

	regDB, err := regstore.Open(filepath.Join(cfg.DataDir, "registry.db"))
	if err != nil {
		return nil, fmt.Errorf("registry store: %w", err)
	}
	s.closers = append(s.closers, regDB.Close)
	tokDB, err := tokstore.Open(filepath.Join(cfg.DataDir, "token.db"))
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	s.closers = append(s.closers, tokDB.Close)

	provDB, err := provstore.Open(filepath.Join(cfg.DataDir, "provider.db"))
	if err != nil {
		return nil, fmt.Errorf("provider store: %w", err)
	}
	s.closers = append(s.closers, provDB.Close)

	if err := registry.Bootstrap(ctx, regDB, keys, registry.BootstrapOptions{
		Secret: cfg.BootstrapSecret, Password: cfg.BootstrapPassword, Out: bootstrapOut,
	}); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}

	regSrv := regserver.New(regserver.Deps{
		Store:   regDB,
		Keyring: keys,
		Auth:    bearer.NewTokenService(tokenv1.NewTokenInternalServiceClient(channel)),
		Log:     log.With("service", "registry"),
		Now:     time.Now,
	})
	regSrv.Register(both)
	tokSrv, err := tokserver.New(tokserver.Deps{
		Store:       tokDB,
		Keyring:     keys,
		Registry:    registryv1.NewRegistryInternalServiceClient(channel),
		Issuer:      s.Issuer,
		Log:         log.With("service", "token"),
		Now:         time.Now,
		SigningAlg:  cfg.SigningAlg,
		KeyRotation: cfg.KeyRotation,
	})
	if err != nil {
		return nil, fmt.Errorf("token service: %w", err)
	}
	tokSrv.Register(both)

	provSrv := provserver.New(provserver.Deps{
		Store:     provDB,
		Keyring:   keys,
		Auth:      bearer.NewTokenService(tokenv1.NewTokenInternalServiceClient(channel)),
		PublicURL: s.Issuer,
		Log:       log.With("service", "provider"),
		Now:       time.Now,
	})
	provSrv.Register(both)

	public := channel.WithMetadata(nil) // the gateway carries no internal credential
	s.health = healthpb.NewHealthClient(public)
	gw, err := gateway.New(ctx, gateway.Backends{Registry: public, Token: public, Provider: public}, log.With("service", "gateway"))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/", gw)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.goRun("grpc", func() error { return s.grpc.Serve(grpcLis) })
	s.background = make(chan struct{})
	s.goRun("token background", func() error { defer close(s.background); return tokSrv.Run(runCtx) })
	s.goRun("provider sweeper", func() error { provSrv.RunSweeper(runCtx, time.Minute); return nil })
	s.goRun("http", func() error {
		if err := s.http.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	s.grpc.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	log.Info("authsuite serving", "http_addr", s.HTTPAddr.String(), "grpc_addr", s.GRPCAddr.String(), "issuer", s.Issuer, "data_dir", cfg.DataDir)
	return s, nil
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

// readyz answers 200 when the gRPC services report SERVING.
func (s *Suite) readyz(w http.ResponseWriter, r *http.Request) {
	resp, err := s.health.Check(r.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		http.Error(w, "not ready\n", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}

// Shutdown stops accepting requests, lets in-flight ones finish (until ctx ends), stops the background
// loops and closes the stores. Every write acknowledged before it is durable.
func (s *Suite) Shutdown(ctx context.Context) error {
	s.grpc.Health.Shutdown()
	httpErr := s.http.Shutdown(ctx)
	// Background loops first: the token service's registry watch is a stream GracefulStop would wait for,
	// and its last flush of secret uses still needs the registry serving.
	s.cancel()
	<-s.background
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	s.wg.Wait()
	return errors.Join(httpErr, s.closeAll())
}

func (s *Suite) closeAll() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// loadKeyring takes AUTHSUITE_MASTER_KEY when set, else the key file (created on first start).
func loadKeyring(cfg config.Config) (*suitekey.Keyring, error) {
	if cfg.MasterKey != "" {
		kr, err := suitekey.Parse(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("AUTHSUITE_MASTER_KEY: %w", err)
		}
		return kr, nil
	}
	kr, err := suitekey.LoadOrCreateFile(cfg.MasterKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--master-key-file: %w", err)
	}
	return kr, nil
}

// registrars registers a service on several registrars at once.
type registrars []grpc.ServiceRegistrar

func (rs registrars) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, r := range rs {
		r.RegisterService(desc, impl)
	}
}

// dialable turns a listen address into one a client can dial (an unspecified host becomes loopback).
func dialable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func ignoreClosed(f func() error) func() error {
	return func() error {
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}
