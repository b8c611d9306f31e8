package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/migrate/fence"
)

// writeBackupDir writes dump as a backup directory (etcd.db and its manifest), as Fetch would.
func writeBackupDir(t *testing.T, dump []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd.db"), dump, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(dump)
	m, _ := json.Marshal(Manifest{Format: ManifestFormat, Databases: []DatabaseFile{{Name: EtcdDatabase, File: "etcd.db",
		SizeBytes: int64(len(dump)), SHA256: hex.EncodeToString(sum[:])}}})
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), m, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEtcdDumpAndRestore: a dump taken while writers keep changing the prefix holds exactly the prefix's
// keys at the dump's revision (no later write, no earlier value), without leased keys or the token service's
// client snapshot; restored into another empty prefix it is the same set of keys and values, written in
// transactions within etcd's default limits even with values of hundreds of KiB; a prefix that holds keys is
// refused, naming it; a prefix with an import in progress is not dumped.
func TestEtcdDumpAndRestore(t *testing.T) {
	ctx := context.Background()
	cli := etcdtest.Start(t, 3).Client(t)
	big := strings.Repeat("v", 300<<10)
	for i := range 300 {
		v := fmt.Sprint(i)
		if i%50 == 0 {
			v = big // several of these exceed what one default request may carry together
		}
		if _, err := cli.Put(ctx, fmt.Sprintf("/src/registry/k%03d", i), v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, "/src/token/c/ptr", "cache"); err != nil {
		t.Fatal(err)
	}
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/src/registry/seed", "lock", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/srcX/other", "not ours"); err != nil {
		t.Fatal(err)
	}

	var (
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			cli.Put(ctx, fmt.Sprintf("/src/registry/k%03d", i%300), fmt.Sprintf("changed %d", i))
			cli.Put(ctx, fmt.Sprintf("/src/registry/new%05d", i), "new")
		}
	})
	var buf bytes.Buffer
	h, err := DumpEtcd(ctx, cli, "/src/", &buf)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	want, err := cli.Get(ctx, "/src/", clientv3.WithPrefix(), clientv3.WithRev(h.Revision))
	if err != nil {
		t.Fatal(err)
	}
	var wantKV []string
	for _, kv := range want.Kvs {
		k := string(kv.Key)
		if kv.Lease == 0 && !strings.HasPrefix(k, "/src/token/c/") {
			wantKV = append(wantKV, strings.TrimPrefix(k, "/src/")+"="+string(kv.Value))
		}
	}
	var got []string
	if _, err := ReadDump(bytes.NewReader(buf.Bytes()), func(k, v []byte) error { got = append(got, string(k)+"="+string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(wantKV, "\n") || int64(len(got)) != h.Keys {
		t.Fatalf("dump at revision %d holds %d keys, the prefix had %d then", h.Revision, len(got), len(wantKV))
	}

	dir := writeBackupDir(t, buf.Bytes())
	var fe *apierror.FieldError
	if _, err := Restore(RestoreOptions{From: dir, DataDir: t.TempDir()}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "etcd") {
		t.Errorf("file restore of an etcd backup: %v; want it refused, saying where it goes", err)
	}
	start := time.Now()
	if _, err := RestoreEtcd(ctx, EtcdRestoreOptions{From: dir, Client: cli, Prefix: "/dst/"}); err != nil {
		t.Fatal(err)
	}
	t.Logf("dump of %d keys (%d bytes) restored in %s", h.Keys, buf.Len(), time.Since(start))
	after, err := cli.Get(ctx, "/dst/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var restored []string
	for _, kv := range after.Kvs {
		restored = append(restored, strings.TrimPrefix(string(kv.Key), "/dst/")+"="+string(kv.Value))
	}
	if strings.Join(restored, "\n") != strings.Join(wantKV, "\n") {
		t.Errorf("restored %d keys, want the dump's %d", len(restored), len(wantKV))
	}
	if err := fence.Check(ctx, cli, "/dst/"); err != nil {
		t.Errorf("fence after a finished restore: %v", err)
	}
	if _, err := RestoreEtcd(ctx, EtcdRestoreOptions{From: dir, Client: cli, Prefix: "/dst/"}); !errors.Is(err, apierror.ErrFailedPrecondition) || !strings.Contains(err.Error(), "/dst/") {
		t.Errorf("restore into a prefix with keys: %v", err)
	}

	if _, err := fence.Claim(ctx, cli, "/busy/", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := DumpEtcd(ctx, cli, "/busy/", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "import") {
		t.Errorf("dump of a prefix with an import in progress: %v", err)
	}
}
