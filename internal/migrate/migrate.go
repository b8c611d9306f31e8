// Package migrate moves a single-node install's data (the three bbolt files of a data directory) into an
// empty prefix of an etcd cluster, where replicas started with --store etcd serve it: every record as it is
// (users keep their incarnations, clients their secrets' digests, the token service its signing keys and
// their ids, connectors their sealed grants), under the same master key.
//
// The source must not be written while it is read: a stopped install's data directory, or one a backup of a
// running install was restored into. Each file is read in one read transaction (Export), and a file another
// process holds open is refused (bbolt's lock); a file of an older schema is upgraded first, as a start of
// this version would upgrade it. The target prefix is fenced for the whole import (package
// fence): it must be empty, and no replica starts on it until the import finished.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/boltdb"
	"github.com/authsuite/authsuite/internal/migrate/fence"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/provider"
	provbolt "github.com/authsuite/authsuite/services/provider/bboltstore"
	provetcd "github.com/authsuite/authsuite/services/provider/etcdstore"
	"github.com/authsuite/authsuite/services/registry"
	regbolt "github.com/authsuite/authsuite/services/registry/bboltstore"
	regetcd "github.com/authsuite/authsuite/services/registry/etcdstore"
	"github.com/authsuite/authsuite/services/token"
	tokbolt "github.com/authsuite/authsuite/services/token/bboltstore"
	toketcd "github.com/authsuite/authsuite/services/token/etcdstore"
)

// ErrNoData is returned when the data directory holds none of the three store files.
var ErrNoData = errors.New("no registry.db, token.db or provider.db in the data directory")

// Count is how many records of one kind moved.
type Count struct {
	Kind string `json:"kind"`
	N    int    `json:"count"`
}

// Snapshots are the three services' data; a nil one is a service whose file the directory lacks.
type Snapshots struct {
	Registry *registry.Snapshot
	Token    *token.Snapshot
	Provider *provider.Snapshot
}

// Counts lists how many records of each kind s holds, in a fixed order.
func (s Snapshots) Counts() []Count {
	var out []Count
	add := func(kind string, n int) { out = append(out, Count{kind, n}) }
	if r := s.Registry; r != nil {
		add("tenants", len(r.Tenants))
		add("clients", len(r.Clients))
		add("users", len(r.Users))
		add("api_resources", len(r.Resources))
	}
	if t := s.Token; t != nil {
		add("signing_keys", len(t.Keys))
		add("revocations", len(t.Revocations))
		add("interactions", len(t.Interactions))
		add("sessions", len(t.Sessions))
		add("codes", len(t.Codes))
		add("refresh_tokens", len(t.RefreshTokens))
		add("consents", len(t.Consents))
		add("login_failures", len(t.LoginFailures))
		add("device_codes", len(t.DeviceCodes))
	}
	if p := s.Provider; p != nil {
		add("providers", len(p.Providers))
		add("connectors", len(p.Connectors))
		add("pending_authorizations", len(p.AuthStates))
	}
	return out
}

// Files are the store files of a data directory, by service.
var Files = map[string]string{"registry": "registry.db", "token": "token.db", "provider": "provider.db"}

// ReadDir exports the store files of dir (each in one read transaction) and returns them with the master
// key record they need: every key id any of them is sealed under, and the retained digest keys. kr must hold
// every such key (else a *suitekey.MissingKeyError naming the ids): an install moved with another key would
// open nothing. A file another process has open is refused.
func ReadDir(ctx context.Context, dir string, kr *suitekey.Keyring) (Snapshots, suitekey.Record, error) {
	var (
		snaps Snapshots
		rec   suitekey.Record
		found bool
	)
	for _, name := range []string{"registry", "token", "provider"} {
		path := filepath.Join(dir, Files[name])
		r, exists, err := boltdb.ReadKeyRecord(path)
		if err != nil {
			return Snapshots{}, rec, fmt.Errorf("%s: %w (is the install still running? migrate reads a stopped install's data directory)", path, err)
		}
		if !exists {
			continue
		}
		found = true
		if err := kr.Check(r); err != nil {
			return Snapshots{}, rec, fmt.Errorf("%s: %w", path, err)
		}
		rec = merge(rec, r)
		if err := exportFile(ctx, name, path, &snaps); err != nil {
			return Snapshots{}, rec, err
		}
	}
	if !found {
		return Snapshots{}, rec, fmt.Errorf("%s: %w", dir, ErrNoData)
	}
	rec, _ = kr.Adopt(rec)
	return snaps, rec, nil
}

func exportFile(ctx context.Context, name, path string, snaps *Snapshots) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	var err error
	switch name {
	case "registry":
		snaps.Registry, err = exportOne(ctx, path, regbolt.Open)
	case "token":
		snaps.Token, err = exportOne(ctx, path, tokbolt.Open)
	case "provider":
		snaps.Provider, err = exportOne(ctx, path, provbolt.Open)
	}
	return err
}

// exportOne opens one service's bbolt file at path, exports it (one read transaction) and closes it.
func exportOne[S any, T interface {
	Export(context.Context) (S, error)
	Close() error
}](ctx context.Context, path string, open func(string) (T, error)) (*S, error) {
	st, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer st.Close()
	s, err := st.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// merge returns the union of two key records.
func merge(a, b suitekey.Record) suitekey.Record {
	out := suitekey.Record{Keys: slices.Clone(a.Keys)}
	for _, id := range b.Keys {
		if !slices.Contains(out.Keys, id) {
			out.Keys = append(out.Keys, id)
		}
	}
	for _, m := range []map[string][]byte{a.Retained, b.Retained} {
		for id, v := range m {
			if out.Retained == nil {
				out.Retained = map[string][]byte{}
			}
			out.Retained[id] = v
		}
	}
	return out
}

// Import writes snaps into the empty prefix of cli's cluster, fenced (package fence): the prefix is claimed
// in the transaction that finds it empty (else an error wrapping fence.ErrNotEmpty naming it), every store
// imports its snapshot, and the master key record rec is written in the transaction that lifts the fence.
// A failure leaves the fence in place, so no replica serves the partial import. source names the data's
// origin in the marker.
func Import(ctx context.Context, cli *clientv3.Client, prefix, source string, snaps Snapshots, rec suitekey.Record) error {
	rev, err := fence.Claim(ctx, cli, prefix, source)
	if err != nil {
		return err
	}
	if err := importOne(ctx, "registry", snaps.Registry, func() (*regetcd.Store, error) { return regetcd.Open(ctx, cli, prefix) }); err != nil {
		return err
	}
	if err := importOne(ctx, "token", snaps.Token, func() (*toketcd.Store, error) { return toketcd.Open(ctx, cli, prefix) }); err != nil {
		return err
	}
	if err := importOne(ctx, "provider", snaps.Provider, func() (*provetcd.Store, error) { return provetcd.Open(ctx, cli, prefix) }); err != nil {
		return err
	}
	return fence.Finish(ctx, cli, prefix, rev, clientv3.OpPut(app.EtcdKeyRecord(prefix), string(rec.Marshal())))
}

// importOne opens one service's etcd store, imports snap into it and closes it; a nil snap imports nothing.
func importOne[S any, T interface {
	Import(context.Context, S) error
	Close() error
}](ctx context.Context, name string, snap *S, open func() (T, error)) error {
	if snap == nil {
		return nil
	}
	st, err := open()
	if err != nil {
		return fmt.Errorf("%s store on etcd: %w", name, err)
	}
	defer st.Close()
	return st.Import(ctx, *snap)
}
