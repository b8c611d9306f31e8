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

// restore installs a backup into a data directory no server has open.
func (e *env) restore(args []string) error {
	var from, dataDir, output string
	var force bool
	fs := e.newFlagSet("restore", "--from DIR --data-dir DIR [--force]")
	fs.StringVar(&from, "from", "", "backup directory written by authsuite backup (required)")
	fs.StringVar(&dataDir, "data-dir", "", "data directory of the stopped server to restore into (required)")
	fs.BoolVar(&force, "force", false, "replace database files that exist in --data-dir")
	fs.StringVar(&output, "output", "table", "output format: json or table")
	pos, _, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(pos); err != nil {
		return err
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
