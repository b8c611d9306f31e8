package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/migrate/fence"
)

// dumpPage is how many keys one read of DumpEtcd returns: values reach 1 MiB (the token service's client
// snapshot chunks), so a page stays far below what a response may carry.
const dumpPage = 100

// restoreTxnOps and restoreTxnBytes bound one transaction of RestoreEtcd, within etcd's defaults (128
// operations, 1.5 MiB per request).
const (
	restoreTxnOps   = 100
	restoreTxnBytes = 1 << 20
)

// fenceKey is the import marker relative to the prefix (package fence).
var fenceKey = []byte(fence.Key(""))

// derived are the key ranges (relative to the prefix) a dump leaves out because they are caches of other
// keys, tied to the etcd revisions those keys had: the token service's client snapshot (a copy of the
// registry's clients as of a registry revision). Restored keys get new revisions, so such a cache would
// claim a state the restored registry never had; a replica rebuilds it from the registry instead.
var derived = [][]byte{[]byte("token/c/")}

// DumpEtcd writes an etcd dump (see the format above) of every key under prefix to w, all read at one etcd
// revision (paged reads WithRev), so the dump is consistent while the suite goes on writing. Keys attached
// to a lease (locks of a seed in progress) are left out: they mean nothing without their holder; so are
// caches of other keys (derived). A prefix
// with an import in progress (package fence) is refused: its data is not complete. When etcd compacts the
// revision during the dump the error says so; taking the backup again reads at a new revision.
func DumpEtcd(ctx context.Context, cli *clientv3.Client, prefix string, w io.Writer) (DumpHeader, error) {
	end := clientv3.GetPrefixRangeEnd(prefix)
	first, err := cli.Get(ctx, prefix, clientv3.WithRange(end), clientv3.WithCountOnly())
	if err != nil {
		return DumpHeader{}, err
	}
	h := DumpHeader{Prefix: prefix, Revision: first.Header.Revision}
	page := func(fn func(key, value []byte) error) error {
		from := prefix
		for {
			resp, err := cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(h.Revision),
				clientv3.WithLimit(dumpPage), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
			if err != nil {
				return fmt.Errorf("read at revision %d: %w", h.Revision, err)
			}
			for _, kv := range resp.Kvs {
				rel := kv.Key[len(prefix):]
				if kv.Lease != 0 || slices.ContainsFunc(derived, func(p []byte) bool { return bytes.HasPrefix(rel, p) }) {
					continue
				}
				if bytes.Equal(rel, fenceKey) {
					return fmt.Errorf("%s holds an import in progress (or one that failed part way): nothing to back up yet", prefix)
				}
				if err := fn(rel, kv.Value); err != nil {
					return err
				}
			}
			if !resp.More || len(resp.Kvs) == 0 {
				return nil
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	// The count is read like the keys themselves (etcd's keys-only reads leave out the lease the filter
	// needs), at the same revision, so it matches exactly what follows.
	if err := page(func([]byte, []byte) error { h.Keys++; return nil }); err != nil {
		return DumpHeader{}, err
	}
	dw, err := NewDumpWriter(w, h)
	if err != nil {
		return DumpHeader{}, err
	}
	if err := page(dw.Add); err != nil {
		return DumpHeader{}, err
	}
	return h, dw.Close()
}

// checkDump verifies an etcd dump file: format, order and checksum.
func checkDump(path string) (DumpHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return DumpHeader{}, err
	}
	defer f.Close()
	return ReadDump(f, nil)
}

// EtcdRestoreOptions say what RestoreEtcd does.
type EtcdRestoreOptions struct {
	From   string           // a backup directory written by Fetch from a suite on etcd
	Client *clientv3.Client // the target cluster
	Prefix string           // the suite's prefix to restore into: must be empty
}

// RestoreEtcd restores the etcd dump of the backup in opts.From into the empty prefix opts.Prefix (which may
// differ from the prefix the backup was taken under). The backup is verified first (manifest size and
// SHA-256, the dump's own format and checksum): a damaged one changes nothing (an error wrapping
// *apierror.FieldError for --from). The prefix is claimed in the transaction that finds it empty (else
// apierror.ErrFailedPrecondition naming it) and fenced for the whole restore (package fence): the keys are
// written in transactions within etcd's limits, and no replica starts on the prefix until the last one is
// in and the fence lifted. A failure part way leaves the fence: clear the prefix and restore again.
func RestoreEtcd(ctx context.Context, opts EtcdRestoreOptions) (DumpHeader, error) {
	m, err := ReadManifest(opts.From)
	if err != nil {
		return DumpHeader{}, err
	}
	var d *DatabaseFile
	for i := range m.Databases {
		if m.Databases[i].Name == EtcdDatabase {
			d = &m.Databases[i]
		}
	}
	if d == nil || len(m.Databases) != 1 {
		return DumpHeader{}, apierror.Invalid("--from", "%s is not a backup of a suite on etcd (it holds bbolt files: restore it with --data-dir)", opts.From)
	}
	path := filepath.Join(opts.From, d.File)
	if err := Verify(path, *d); err != nil {
		return DumpHeader{}, apierror.Invalid("--from", "%s: %v", d.File, err)
	}
	rev, err := fence.Claim(ctx, opts.Client, opts.Prefix, "backup "+opts.From)
	if errors.Is(err, fence.ErrNotEmpty) {
		return DumpHeader{}, apierror.FailedPrecondition("%v", err)
	}
	if err != nil {
		return DumpHeader{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return DumpHeader{}, err
	}
	defer f.Close()
	var (
		ops  []clientv3.Op
		size int
	)
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := opts.Client.Txn(ctx).Then(ops...).Commit()
		ops, size = ops[:0], 0
		return err
	}
	h, err := ReadDump(f, func(key, value []byte) error {
		n := len(opts.Prefix) + len(key) + len(value) + 16
		if len(ops) == restoreTxnOps || (len(ops) > 0 && size+n > restoreTxnBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		ops = append(ops, clientv3.OpPut(opts.Prefix+string(key), string(value)))
		size += n
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return DumpHeader{}, fmt.Errorf("restore into %s (the prefix stays fenced: delete its keys and restore again): %w", opts.Prefix, err)
	}
	return h, fence.Finish(ctx, opts.Client, opts.Prefix, rev)
}
