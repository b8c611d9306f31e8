package app

import (
	"context"
	"fmt"

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
