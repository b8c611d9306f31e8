package app

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/backup"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdclient"
)

// dialEtcd connects the process to the etcd cluster of --store etcd (s.etcd): one client that every store of
// the role shares, closed at shutdown after them, its requests counted in the process's metrics.
func (s *Suite) dialEtcd(ctx context.Context, cfg config.Config) error {
	reqs := etcdclient.NewRequests()
	if err := s.metrics.Register(reqs); err != nil {
		return fmt.Errorf("etcd metrics: %w", err)
	}
	opts := etcdclient.FromConfig(cfg)
	opts.Requests = reqs
	opts.Log = s.log.With("component", "etcd_client")
	cli, err := etcdclient.Dial(ctx, opts)
	if err != nil {
		return fmt.Errorf("--etcd-endpoints (%s): %w", config.EnvName("etcd-endpoints"), err)
	}
	s.etcd, s.etcdRequests = cli, reqs
	s.closers = append(s.closers, cli.Close) // closers run in reverse: the stores opened later close first
	return nil
}

// EtcdRequests is the number of RPCs this process has sent to etcd so far (authsuite_etcd_requests_total,
// all methods), 0 when it runs on another backend. Benchmarks read it to show which paths reach etcd.
func (s *Suite) EtcdRequests() uint64 {
	if s.etcdRequests == nil {
		return 0
	}
	return s.etcdRequests.Total()
}

// noBackup answers the backup service in etcd mode, whose state is no set of files this process could stream:
// a caller the backup service admits (it authorizes every call, with no database to list) gets
// FAILED_PRECONDITION saying what to use instead; anyone else its usual refusal.
type noBackup struct {
	*backup.Server // without databases: used to authorize
}

func (b noBackup) Register(gs grpc.ServiceRegistrar) { opsv1.RegisterBackupServiceServer(gs, b) }

func (b noBackup) refuse(ctx context.Context) error {
	if _, err := b.Server.ListDatabases(ctx, &opsv1.ListDatabasesRequest{}); err != nil {
		return err
	}
	return apierror.FailedPrecondition("backups of this server's files are not available with --store etcd: the state is in the etcd cluster; take an etcd snapshot (etcdctl snapshot save) instead")
}

// ListDatabases implements opsv1.BackupServiceServer.
func (b noBackup) ListDatabases(ctx context.Context, _ *opsv1.ListDatabasesRequest) (*opsv1.ListDatabasesResponse, error) {
	return nil, b.refuse(ctx)
}

// Backup implements opsv1.BackupServiceServer.
func (b noBackup) Backup(_ *opsv1.BackupRequest, stream grpc.ServerStreamingServer[opsv1.BackupResponse]) error {
	return b.refuse(stream.Context())
}
