package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/migrate/fence"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// EtcdKeyRecord is the etcd key of a suite's master-key record (a suitekey.Record: the ids of the keys its
// data may be sealed or digested under, and the retained digest keys of dropped ones). It is the etcd
// counterpart of the record each bbolt file keeps, one for the whole suite since every store of it shares
// the cluster. It lies outside every store's own range (prefix + "registry/", "token/", "provider/").
func EtcdKeyRecord(prefix string) string { return prefix + "suite/master-keys" }

// openEtcdKeyring returns the master keyring of a replica on etcd: AUTHSUITE_MASTER_KEY, else the existing
// --master-key-file; a key is never generated, since every replica must hold the same one. The first replica
// of a suite writes the key record; every later one must hold every key the record names (else an error names
// the setting and the key ids, and nothing is written), and records its primary key when that is new (a
// rotation: NEW,OLD). Concurrent starts are settled by compare-and-swap on the record's revision.
func openEtcdKeyring(ctx context.Context, cfg config.Config, cli *clientv3.Client) (*suitekey.Keyring, error) {
	kr, err := sharedKeyring(cfg)
	if err != nil {
		return nil, err
	}
	// Bounded like the connection check: a cluster that answered it and then lost its quorum must not hang
	// the start.
	ctx, cancel := context.WithTimeout(ctx, max(cfg.EtcdDialTimeout, 5*time.Second))
	defer cancel()
	if err := fence.Check(ctx, cli, cfg.EtcdPrefix); err != nil {
		return nil, err
	}
	key := EtcdKeyRecord(cfg.EtcdPrefix)
	for {
		resp, err := cli.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("master key record %s in etcd: %w", key, err)
		}
		var (
			rec  suitekey.Record
			cond clientv3.Cmp
		)
		if len(resp.Kvs) == 0 {
			cond = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		} else {
			kv := resp.Kvs[0]
			if rec, err = suitekey.ParseRecord(kv.Value); err != nil {
				return nil, fmt.Errorf("%s in etcd: %w", key, err)
			}
			if err := kr.Check(rec); err != nil {
				var missing *suitekey.MissingKeyError
				if errors.As(err, &missing) {
					return nil, fmt.Errorf("%s: the suite at %s in etcd holds data sealed under master key id %s, but the key has id %s: every replica must start with the suite's key (the one its first replica started with); nothing was changed",
						keySource(cfg), cfg.EtcdPrefix, strings.Join(missing.Missing, ", "), strings.Join(missing.Have, ", "))
				}
				return nil, err
			}
			cond = clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)
		}
		next, changed := kr.Adopt(rec)
		if changed {
			txn, err := cli.Txn(ctx).If(cond).Then(clientv3.OpPut(key, string(next.Marshal()))).Commit()
			if err != nil {
				return nil, fmt.Errorf("master key record %s in etcd: %w", key, err)
			}
			if !txn.Succeeded {
				continue // another replica wrote the record meanwhile: check against what it wrote
			}
		}
		kr, err = kr.WithRetained(next)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keySource(cfg), err)
		}
		return kr, nil
	}
}

// sharedKeyring reads the key every replica shares: AUTHSUITE_MASTER_KEY, else --master-key-file, which must
// exist.
func sharedKeyring(cfg config.Config) (*suitekey.Keyring, error) {
	if cfg.MasterKey != "" {
		kr, err := suitekey.Parse(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("AUTHSUITE_MASTER_KEY: %w", err)
		}
		return kr, nil
	}
	src := fmt.Sprintf("--master-key-file (%s)", config.EnvName("master-key-file"))
	if _, err := os.Stat(cfg.MasterKeyFile); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--store etcd needs the suite's shared master key: set AUTHSUITE_MASTER_KEY, or %s to an existing key file (%s does not exist; replicas must share one key, so none is generated)",
			src, cfg.MasterKeyFile)
	}
	kr, err := suitekey.LoadFile(cfg.MasterKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return kr, nil
}
