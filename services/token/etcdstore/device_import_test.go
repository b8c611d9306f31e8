package etcdstore_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/etcdstore"
)

// TestDeviceCodesMigrate: device authorizations travel from a bbolt store (Export) to etcd (Import) with
// their status and approval, and where an expired record not yet swept shares its user code with a newer
// one, the user code finds the newer one on etcd as on bbolt.
func TestDeviceCodesMigrate(t *testing.T) {
	ctx := context.Background()
	bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "token.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	t0 := time.Unix(1_700_000_000, 0)
	old := token.DeviceCode{Hash: bytes.Repeat([]byte{1}, 32), UserCode: []byte("k:SAME"), ClientID: "tv", TenantID: "t",
		Scopes: []string{"openid"}, Expiry: t0.Add(time.Minute)}
	fresh := token.DeviceCode{Hash: bytes.Repeat([]byte{2}, 32), UserCode: []byte("k:SAME"), ClientID: "tv", TenantID: "t",
		Scopes: []string{"openid", "offline_access"}, Expiry: t0.Add(20 * time.Minute), Status: token.DeviceApproved,
		UserID: "u", SID: "sid", AuthTime: t0, Incarnation: "inc", Authn: token.Authn{AMR: []string{"pwd"}, ACR: "1"}}
	if err := bs.PutDeviceCode(ctx, old, t0); err != nil {
		t.Fatal(err)
	}
	if err := bs.PutDeviceCode(ctx, fresh, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	snap, err := bs.Export(ctx)
	if err != nil || len(snap.DeviceCodes) != 2 {
		t.Fatalf("export: %d device codes, %v", len(snap.DeviceCodes), err)
	}
	cli := etcdtest.Start(t, 1).Client(t)
	es, err := etcdstore.Open(ctx, cli, "/imp/")
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	if err := es.Import(ctx, snap); err != nil {
		t.Fatal(err)
	}
	got, err := es.DeviceCodeByUserCode(ctx, []byte("k:SAME"))
	if err != nil || !bytes.Equal(got.Hash, fresh.Hash) || got.Status != token.DeviceApproved || got.UserID != "u" ||
		got.SID != "sid" || !got.AuthTime.Equal(t0) || got.ACR != "1" || len(got.AMR) != 1 || !got.Expiry.Equal(fresh.Expiry) {
		t.Fatalf("by user code on etcd: %+v, %v", got, err)
	}
	if o, err := es.DeviceCode(ctx, old.Hash); err != nil || !o.Expiry.Equal(old.Expiry) {
		t.Fatalf("the older record on etcd: %+v, %v", o, err)
	}
}
