package app

import (
	"context"
	"fmt"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/services/provider"
	provstore "github.com/authsuite/authsuite/services/provider/bboltstore"
	provetcd "github.com/authsuite/authsuite/services/provider/etcdstore"
	provmem "github.com/authsuite/authsuite/services/provider/memstore"
	"github.com/authsuite/authsuite/services/registry"
	regstore "github.com/authsuite/authsuite/services/registry/bboltstore"
	regetcd "github.com/authsuite/authsuite/services/registry/etcdstore"
	regmem "github.com/authsuite/authsuite/services/registry/memstore"
	"github.com/authsuite/authsuite/services/token"
	tokstore "github.com/authsuite/authsuite/services/token/bboltstore"
	toketcd "github.com/authsuite/authsuite/services/token/etcdstore"
	tokmem "github.com/authsuite/authsuite/services/token/memstore"
)

// The stores of the three services, on the backend --store names. Each is closed at shutdown; a bbolt file
// is also watched by the metrics and streamed by the backup service (dbs). On etcd every store of the process
// shares one client (s.etcd, dialled before the stores and closed after them) and keeps its keys under
// --etcd-prefix + its service name.

func (s *Suite) registryStore(ctx context.Context, cfg config.Config, dbs map[string]*bolt.DB) (registry.Store, error) {
	switch cfg.Store {
	case config.StoreMemory:
		return keep(s, regmem.New()), nil
	case config.StoreEtcd:
		st, err := regetcd.Open(ctx, s.etcd, cfg.EtcdPrefix)
		if err != nil {
			return nil, fmt.Errorf("registry store on etcd: %w", err)
		}
		return keep(s, st), nil
	case config.StoreBbolt:
	default:
		return nil, noBackend(cfg)
	}
	db, err := regstore.Open(filepath.Join(cfg.DataDir, "registry.db"))
	if err != nil {
		return nil, fmt.Errorf("registry store: %w", err)
	}
	s.keepBolt("registry", db.DB(), dbs)
	return keep(s, db), nil
}

func (s *Suite) tokenStore(ctx context.Context, cfg config.Config, dbs map[string]*bolt.DB) (token.Store, error) {
	switch cfg.Store {
	case config.StoreMemory:
		return keep(s, tokmem.New()), nil
	case config.StoreEtcd:
		st, err := toketcd.Open(ctx, s.etcd, cfg.EtcdPrefix)
		if err != nil {
			return nil, fmt.Errorf("token store on etcd: %w", err)
		}
		return keep(s, st), nil
	case config.StoreBbolt:
	default:
		return nil, noBackend(cfg)
	}
	db, err := tokstore.Open(filepath.Join(cfg.DataDir, "token.db"))
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	s.keepBolt("token", db.DB(), dbs)
	return keep(s, db), nil
}

func (s *Suite) providerStore(ctx context.Context, cfg config.Config, dbs map[string]*bolt.DB) (provider.Store, error) {
	switch cfg.Store {
	case config.StoreMemory:
		return keep(s, provmem.New()), nil
	case config.StoreEtcd:
		st, err := provetcd.Open(ctx, s.etcd, cfg.EtcdPrefix)
		if err != nil {
			return nil, fmt.Errorf("provider store on etcd: %w", err)
		}
		return keep(s, st), nil
	case config.StoreBbolt:
	default:
		return nil, noBackend(cfg)
	}
	db, err := provstore.Open(filepath.Join(cfg.DataDir, "provider.db"))
	if err != nil {
		return nil, fmt.Errorf("provider store: %w", err)
	}
	s.keepBolt("provider", db.DB(), dbs)
	return keep(s, db), nil
}

// noBackend refuses a --store this build cannot open, rather than falling back to another backend.
func noBackend(cfg config.Config) error {
	return fmt.Errorf("--store (%s): %s is not available in this build", config.EnvName("store"), cfg.Store)
}

// keepBolt records an open bbolt file: its metrics, and a place in the backup.
func (s *Suite) keepBolt(name string, db *bolt.DB, dbs map[string]*bolt.DB) {
	s.metrics.WatchBolt(name, db)
	dbs[name] = db
}

// keep closes c when the suite shuts down, and returns it.
func keep[C interface{ Close() error }](s *Suite, c C) C {
	s.closers = append(s.closers, c.Close)
	return c
}
