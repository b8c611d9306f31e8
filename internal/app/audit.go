package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/directory"
)

// auditRecorder opens the audit log of service on the process's backend (a bucket in the service's bbolt
// file, a prefix beside the suite's etcd keys, or memory), starts its Recorder, hands it to the interceptor
// layer that records admin actions, and notes the log for AuditService. The recorder is closed (its queue
// stored) before the stores close: closers run in reverse.
func (s *Suite) auditRecorder(cfg config.Config, service string, dbs map[string]*bolt.DB, log *slog.Logger) (*audit.Recorder, error) {
	var lg audit.Log
	switch {
	case dbs[service] != nil:
		bl, err := audit.NewBoltLog(dbs[service], audit.MaxEvents)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", service, err)
		}
		lg = bl
	case cfg.Store == config.StoreEtcd && s.etcd != nil:
		lg = audit.NewEtcdLog(s.etcd, cfg.EtcdPrefix+"audit/"+service+"/", audit.MaxEvents)
	default:
		lg = audit.NewMemoryLog(audit.MaxEvents)
	}
	rec := audit.NewRecorder(audit.Options{Service: service, Log: lg, Logger: log})
	if err := s.metrics.Register(rec.Collectors()...); err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return rec.Close(ctx)
	})
	s.auditLayer.Add(rec)
	if s.auditLogs == nil {
		s.auditLogs = map[string]audit.Log{}
	}
	s.auditLogs[service] = lg
	return rec, nil
}

// auditServer is the process's AuditService over the logs of the services it runs, authorizing callers by
// the suite's rule with the token service's verdict on their token.
func (s *Suite) auditServer(token, registry grpc.ClientConnInterface) *audit.Server {
	auth := bearer.NewTokenService(tokenv1.NewTokenInternalServiceClient(token))
	dir := directory.NewRegistry(registryv1.NewRegistryInternalServiceClient(registry))
	return audit.NewServer(s.auditLogs, func(ctx context.Context) (access.Principal, error) {
		return bearer.Resolve(ctx, auth, dir)
	})
}
