package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/backup"
	"github.com/authsuite/authsuite/internal/config"
)

// backup streams every database of the server into --out.
func (e *env) backup(ctx context.Context, args []string) error {
	var c common
	var out string
	fs := e.newFlagSet("backup", "--out DIR [connection flags]")
	c.register(fs, 0)
	fs.StringVar(&out, "out", "", "directory to write the backup to: new or empty (required)")
	pos, _, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(pos); err != nil {
		return err
	}
	if out == "" {
		return flagErr("--out", "required: the directory to write the backup to")
	}
	s, err := e.connect(ctx, &c)
	if err != nil {
		return err
	}
	defer s.close()
	m, err := backup.Fetch(s.ctx, opsv1.NewBackupServiceClient(s.conn), out, time.Now)
	if err != nil {
		return err
	}
	return e.printManifest(c.output, m, "backup complete: "+out)
}

// restore installs a backup into a data directory no server has open, or the backup of a suite on etcd into
// an empty etcd prefix (--to etcd:ENDPOINTS).
func (e *env) restore(ctx context.Context, args []string) error {
	var from, dataDir, to, output string
	var force bool
	var ef etcdFlags
	fs := e.newFlagSet("restore", "--from DIR (--data-dir DIR [--force] | --to etcd:ENDPOINTS [--etcd-prefix P] [etcd flags])")
	fs.StringVar(&from, "from", "", "backup directory written by authsuite backup (required)")
	fs.StringVar(&dataDir, "data-dir", "", "data directory of the stopped server to restore bbolt files into")
	fs.BoolVar(&force, "force", false, "replace database files that exist in --data-dir")
	fs.StringVar(&to, "to", "", "etcd:ENDPOINTS: restore the backup of a suite on etcd into the empty --etcd-prefix there")
	fs.StringVar(&output, "output", "table", "output format: json or table")
	ef.register(e, fs)
	pos, _, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(pos); err != nil {
		return err
	}
	if to != "" {
		if dataDir != "" || force {
			return flagErr("--to", "restores into etcd: --data-dir and --force are for bbolt backups")
		}
		return e.restoreEtcd(ctx, from, to, output, &ef)
	}
	m, err := backup.Restore(backup.RestoreOptions{From: from, DataDir: dataDir, Force: force})
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "master.key")); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(e.io.Stderr, "note: "+dataDir+" has no master.key: start the server with the master key of the backed-up server (AUTHSUITE_MASTER_KEY, or a copy of its master.key).")
	}
	return e.printManifest(output, m, "restored into "+dataDir)
}

// restoreEtcd restores an etcd backup into an empty prefix (backup.RestoreEtcd).
func (e *env) restoreEtcd(ctx context.Context, from, to, output string, ef *etcdFlags) error {
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
	if from == "" {
		return flagErr("--from", "required: a backup directory")
	}
	if _, err := backup.ReadManifest(from); err != nil {
		return err
	}
	cli, err := ef.dial(ctx, e, endpoints)
	if err != nil {
		return err
	}
	defer cli.Close()
	h, err := backup.RestoreEtcd(ctx, backup.EtcdRestoreOptions{From: from, Client: cli, Prefix: ef.prefix})
	if err != nil {
		return err
	}
	if output == "json" {
		b, err := json.Marshal(map[string]any{"prefix": ef.prefix, "keys": h.Keys, "fromPrefix": h.Prefix, "revision": h.Revision})
		if err != nil {
			return err
		}
		return writeIndented(e.io.Stdout, b)
	}
	_, err = fmt.Fprintf(e.io.Stdout, "restored %d keys (taken under %s at etcd revision %d) into %s; start the replicas with --store etcd --etcd-prefix %s and the backed-up suite's master key\n",
		h.Keys, h.Prefix, h.Revision, ef.prefix, ef.prefix)
	return err
}

func (e *env) printManifest(format string, m *backup.Manifest, summary string) error {
	if format == "json" {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return writeIndented(e.io.Stdout, b)
	}
	tw := tabwriter.NewWriter(e.io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join([]string{"NAME", "FILE", "SIZE_BYTES", "SHA256"}, "\t"))
	for _, d := range m.Databases {
		fmt.Fprintln(tw, strings.Join([]string{d.Name, d.File, strconv.FormatInt(d.SizeBytes, 10), d.SHA256}, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(e.io.Stdout, summary)
	return err
}
