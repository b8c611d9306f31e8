package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdclient"
	"github.com/authsuite/authsuite/internal/migrate"
	"github.com/authsuite/authsuite/internal/migrate/fence"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// etcdFlags are the connection settings of a command that talks to etcd itself, named and defaulted as
// `authsuite serve` names them (flag, else AUTHSUITE_* variable).
type etcdFlags struct {
	prefix, caFile, certFile, keyFile, username, passwordFile string
	dialTimeout                                               time.Duration
}

func (f *etcdFlags) register(e *env, fs *flag.FlagSet) {
	def := func(name, fallback string) string {
		if v := e.vars[config.EnvName(name)]; v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&f.prefix, "etcd-prefix", def("etcd-prefix", config.DefaultEtcdPrefix), "key prefix of the suite in etcd (AUTHSUITE_ETCD_PREFIX)")
	fs.StringVar(&f.caFile, "etcd-ca-file", def("etcd-ca-file", ""), "PEM CA of the etcd servers' certificates (https endpoints)")
	fs.StringVar(&f.certFile, "etcd-cert-file", def("etcd-cert-file", ""), "PEM client certificate for etcd (with --etcd-key-file)")
	fs.StringVar(&f.keyFile, "etcd-key-file", def("etcd-key-file", ""), "PEM client key for etcd")
	fs.StringVar(&f.username, "etcd-username", def("etcd-username", ""), "etcd user (password in AUTHSUITE_ETCD_PASSWORD or --etcd-password-file)")
	fs.StringVar(&f.passwordFile, "etcd-password-file", def("etcd-password-file", ""), "file holding the etcd user's password")
	fs.DurationVar(&f.dialTimeout, "etcd-dial-timeout", 5*time.Second, "how long to wait for the etcd cluster to answer")
}

// dial checks the settings and connects to endpoints.
func (f *etcdFlags) dial(ctx context.Context, e *env, endpoints []string) (*clientv3.Client, error) {
	if err := config.ValidatePrefix(f.prefix); err != nil {
		return nil, flagErr("--etcd-prefix", "%v", err)
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, flagErr("--etcd-cert-file", "--etcd-cert-file and --etcd-key-file go together")
	}
	cli, err := etcdclient.Dial(ctx, etcdclient.Options{
		Endpoints: endpoints, Prefix: f.prefix, CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile,
		Username: f.username, Password: e.vars["AUTHSUITE_ETCD_PASSWORD"], PasswordFile: f.passwordFile,
		DialTimeout: f.dialTimeout,
	})
	if err != nil {
		return nil, &ExitError{Code: ExitUnavailable, Err: fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)}
	}
	return cli, nil
}

// migrateUsage is the migrate command's help: where the data may come from.
const migrateUsage = `--from bbolt:DIR --to etcd:ENDPOINTS [--etcd-prefix P] [etcd flags]

Copies a single-node install's data (registry.db, token.db, provider.db of DIR) into an EMPTY prefix of an
etcd cluster, for replicas started with --store etcd and the same master key. DIR must not be in use: stop
the install, or take a backup of the running node, restore it to a directory, and migrate from there.
The master key is AUTHSUITE_MASTER_KEY, else --master-key-file (default DIR/master.key).`

// migrate copies a data directory into an empty etcd prefix.
func (e *env) migrate(ctx context.Context, args []string) error {
	var from, to, keyFile, output string
	var ef etcdFlags
	fs := e.newFlagSet("migrate", migrateUsage)
	fs.StringVar(&from, "from", "", "bbolt:DIR, the data directory of a stopped install (required)")
	fs.StringVar(&to, "to", "", "etcd:ENDPOINTS, e.g. etcd:http://h1:2379,http://h2:2379,http://h3:2379 (required)")
	fs.StringVar(&keyFile, "master-key-file", "", "the install's master key file when AUTHSUITE_MASTER_KEY is not set (default DIR/master.key)")
	fs.StringVar(&output, "output", "table", "output format: json or table")
	ef.register(e, fs)
	pos, given, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(pos); err != nil {
		return err
	}
	dir, ok := strings.CutPrefix(from, "bbolt:")
	if !ok || dir == "" {
		return flagErr("--from", "want bbolt:DIR (the data directory of a stopped install), got %q", from)
	}
	spec, ok := strings.CutPrefix(to, "etcd:")
	if !ok {
		return flagErr("--to", "want etcd:ENDPOINTS, got %q", to)
	}
	endpoints, err := config.ParseEndpoints(spec)
	if err != nil {
		return flagErr("--to", "%v", err)
	}
	if err := config.ValidatePrefix(ef.prefix); err != nil {
		return flagErr("--etcd-prefix", "%v", err)
	}
	if !given["master-key-file"] {
		keyFile = filepath.Join(dir, "master.key")
	}
	var kr *suitekey.Keyring
	if v := e.vars["AUTHSUITE_MASTER_KEY"]; v != "" {
		if kr, err = suitekey.Parse(v); err != nil {
			return flagErr("AUTHSUITE_MASTER_KEY", "%v", err)
		}
	} else if kr, err = suitekey.LoadFile(keyFile); err != nil {
		return flagErr("--master-key-file", "%v (the install's master key is needed: replicas on etcd start with it)", err)
	}
	start := time.Now()
	snaps, rec, err := migrate.ReadDir(ctx, dir, kr)
	if err != nil {
		var missing *suitekey.MissingKeyError
		if errors.As(err, &missing) || errors.Is(err, migrate.ErrNoData) {
			return &ExitError{Code: ExitConflict, Err: err}
		}
		return err
	}
	cli, err := ef.dial(ctx, e, endpoints)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := migrate.Import(ctx, cli, ef.prefix, "bbolt:"+dir, snaps, rec); err != nil {
		if errors.Is(err, fence.ErrNotEmpty) {
			return &ExitError{Code: ExitConflict, Err: err}
		}
		return err
	}
	counts := snaps.Counts()
	if output == "json" {
		b, err := json.Marshal(map[string]any{"prefix": ef.prefix, "counts": counts, "seconds": time.Since(start).Seconds()})
		if err != nil {
			return err
		}
		return writeIndented(e.io.Stdout, b)
	}
	tw := tabwriter.NewWriter(e.io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCOUNT")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%d\n", c.Kind, c.N)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.io.Stdout, "migrated %s into %s at %s in %s; start the replicas with --store etcd --etcd-prefix %s and the same master key\n",
		dir, strings.Join(endpoints, ","), ef.prefix, time.Since(start).Round(time.Millisecond), ef.prefix)
	return err
}
