package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/cli"
)

// TestBackupRestoresApiResources: an API resource written before a backup is in the suite restored from it,
// every setting kept.
func TestBackupRestoresApiResources(t *testing.T) {
	s := startSuite(t)
	conn, ctx, _ := adminConn(t, s)
	want := &registryv1.ApiResource{ResourceId: "https://orders.internal", DisplayName: "Orders", Scopes: []string{"orders.read", "orders.write"},
		AccessTokenLifetime: proto.Int32(300)}
	created, err := registryv1.NewApiResourceServiceClient(conn).CreateApiResource(ctx, &registryv1.CreateApiResourceRequest{TenantId: "default", Resource: want})
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "backup")
	if r := run(t, s.env(), "", "backup", "--out", out); r.code != cli.ExitOK {
		t.Fatalf("backup: exit %d: %s", r.code, r.err)
	}
	restored := t.TempDir()
	key, err := os.ReadFile(filepath.Join(s.dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "", "restore", "--from", out, "--data-dir", restored); r.code != cli.ExitOK {
		t.Fatalf("restore: exit %d: %s", r.code, r.err)
	}
	s.stop()
	s.dataDir = restored
	s.start()

	conn, ctx, _ = adminConn(t, s)
	got, err := registryv1.NewApiResourceServiceClient(conn).GetApiResource(ctx, &registryv1.GetApiResourceRequest{TenantId: "default", ResourceId: "https://orders.internal"})
	if err != nil {
		t.Fatalf("the restored suite lacks the API resource: %v", err)
	}
	if !proto.Equal(got.GetResource(), created.GetResource()) {
		t.Fatalf("restored %v, backed up %v", got.GetResource(), created.GetResource())
	}
}
