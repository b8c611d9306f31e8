package app

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// The suite's master-key record in etcd: the first replica writes it, a replica with the same key starts, one
// with another key is refused with the setting and both key ids named and nothing written, a rotation (NEW,OLD)
// records the new key, after which the old key alone is refused; concurrent first starts agree on one record.
func TestEtcdKeyring(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	ctx := context.Background()
	oldKey, newKey, otherKey := suitekey.Generate(), suitekey.Generate(), suitekey.Generate()
	id := func(spec string) string {
		kr, err := suitekey.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		return kr.PrimaryID()
	}
	cfgWith := func(key string) config.Config {
		return config.Config{Store: config.StoreEtcd, EtcdPrefix: "/suite-a/", MasterKey: key}
	}
	record := func() (suitekey.Record, int64) {
		t.Helper()
		resp, err := cli.Get(ctx, EtcdKeyRecord("/suite-a/"))
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("record: %v, %d keys", err, len(resp.Kvs))
		}
		rec, err := suitekey.ParseRecord(resp.Kvs[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		return rec, resp.Kvs[0].ModRevision
	}

	// Concurrent first starts of replicas with one key: all start, the record names that key once.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = openEtcdKeyring(ctx, cfgWith(oldKey), cli) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rec, rev := record()
	if !slices.Equal(rec.Keys, []string{id(oldKey)}) {
		t.Fatalf("record %v, want [%s]", rec.Keys, id(oldKey))
	}

	// Another key is refused; the record is unchanged.
	_, err := openEtcdKeyring(ctx, cfgWith(otherKey), cli)
	if err == nil {
		t.Fatal("a replica with another master key started")
	}
	for _, want := range []string{"AUTHSUITE_MASTER_KEY", id(oldKey), id(otherKey), "/suite-a/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, after := record(); after != rev {
		t.Error("a refused replica wrote the record")
	}

	// Another suite (prefix) of the same cluster has its own record.
	other := cfgWith(otherKey)
	other.EtcdPrefix = "/suite-b/"
	if _, err := openEtcdKeyring(ctx, other, cli); err != nil {
		t.Fatalf("a second suite under its own prefix: %v", err)
	}

	// The first rolling restart of a rotation, OLD,NEW: the old key still seals, nothing is recorded, OLD
	// alone still starts.
	if _, err := openEtcdKeyring(ctx, cfgWith(oldKey+","+newKey), cli); err != nil {
		t.Fatalf("OLD,NEW: %v", err)
	}
	if rec, after := record(); !slices.Equal(rec.Keys, []string{id(oldKey)}) || after != rev {
		t.Fatalf("OLD,NEW changed the record to %v", rec.Keys)
	}
	if _, err := openEtcdKeyring(ctx, cfgWith(oldKey), cli); err != nil {
		t.Fatalf("OLD after OLD,NEW: %v", err)
	}

	// The second, NEW,OLD: starts and records NEW; afterwards OLD alone is refused, NEW,OLD still starts.
	if _, err := openEtcdKeyring(ctx, cfgWith(newKey+","+oldKey), cli); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if rec, _ := record(); !slices.Equal(rec.Keys, []string{id(oldKey), id(newKey)}) {
		t.Fatalf("after the rotation the record is %v", rec.Keys)
	}
	if _, err := openEtcdKeyring(ctx, cfgWith(oldKey), cli); err == nil || !strings.Contains(err.Error(), id(newKey)) {
		t.Fatalf("the old key alone after a rotation: %v", err)
	}
	if _, err := openEtcdKeyring(ctx, cfgWith(newKey+","+oldKey), cli); err != nil {
		t.Fatal(err)
	}

	// No key: never generated; a missing key file is an error naming both settings.
	noKey := cfgWith("")
	noKey.MasterKeyFile = filepath.Join(t.TempDir(), "master.key")
	_, err = openEtcdKeyring(ctx, noKey, cli)
	if err == nil || !strings.Contains(err.Error(), "AUTHSUITE_MASTER_KEY") || !strings.Contains(err.Error(), "--master-key-file") {
		t.Fatalf("without a key: %v", err)
	}
	if m, _ := filepath.Glob(noKey.MasterKeyFile); len(m) != 0 {
		t.Error("a key file was generated")
	}
}
