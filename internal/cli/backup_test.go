package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/backup"
	"github.com/authsuite/authsuite/internal/cli"
)

// adminConn returns a connection to the suite and a context carrying an admin access token.
func adminConn(t testing.TB, s *suite) (*grpc.ClientConn, context.Context, string) {
	t.Helper()
	conn, err := grpc.NewClient(s.running.GRPCAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	resp, err := tokenv1.NewOAuthServiceClient(conn).Token(context.Background(), &tokenv1.TokenRequest{
		Client:    &tokenv1.ClientCredentials{ClientId: "admin", ClientSecret: bootstrapSecret},
		GrantType: "client_credentials", Scope: "adminapi",
	})
	if err != nil {
		t.Fatal(err)
	}
	return conn, metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+resp.GetAccessToken()), resp.GetAccessToken()
}

func TestBackupUnderWriteLoadRestores(t *testing.T) {
	s := startSuite(t)
	conn, ctx, token := adminConn(t, s)
	clients, users := registryv1.NewClientServiceClient(conn), registryv1.NewUserServiceClient(conn)
	createClient := func(id string) error {
		_, err := clients.CreateClient(ctx, &registryv1.CreateClientRequest{TenantId: "default", Client: &registryv1.Client{
			ClientId: id, AllowedGrantTypes: []string{"client_credentials"}, AllowedScopes: []string{"orders.read"},
		}})
		return err
	}
	createUser := func(id string) error {
		_, err := users.CreateUser(ctx, &registryv1.CreateUserRequest{TenantId: "default", User: &registryv1.User{UserId: id, LoginName: id}})
		return err
	}

	// Writes acknowledged before the backup starts: the backup must hold every one.
	var before []string
	for i := range 10 {
		id := fmt.Sprintf("before-%d", i)
		if err := createClient(id); err != nil {
			t.Fatal(err)
		}
		if err := createUser(id); err != nil {
			t.Fatal(err)
		}
		before = append(before, id)
	}

	// Writers keep creating clients and users while the backup runs.
	var (
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		acked     atomic.Int64
		mu        sync.Mutex
		attempted = map[string]bool{}
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("load-%d-%d", w, n)
				mu.Lock()
				attempted[id] = true
				mu.Unlock()
				create := createClient
				if n%2 == 1 {
					create = createUser
				}
				if err := create(id); err != nil {
					t.Errorf("write %s under load: %v", id, err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	waitFor(t, "writes under load", func() bool { return acked.Load() >= 8 })

	out := filepath.Join(t.TempDir(), "backup")
	r := run(t, s.env(), "", "backup", "--out", out, "--output", "json")
	during := acked.Load()
	close(stop)
	wg.Wait()
	if r.code != cli.ExitOK {
		t.Fatalf("backup: exit %d: %s", r.code, r.err)
	}
	if after := acked.Load(); after <= 8 || during < 8 {
		t.Fatalf("the writers did not run during the backup (%d acknowledged, %d by its end)", after, during)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("backup --output json: %v\n%s", err, r.stdout)
	}
	var names []string
	for _, d := range m.Databases {
		names = append(names, d.Name)
		if err := backup.Verify(filepath.Join(out, d.File), d); err != nil {
			t.Errorf("%s: %v", d.File, err)
		}
	}
	if got := strings.Join(names, ","); got != "provider,registry,token" {
		t.Errorf("backed-up databases %s, want provider,registry,token", got)
	}

	// Restore into a new data directory, with the original master key (the backup does not hold it).
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

	// The admin token issued before the backup still works, and so does the bootstrap secret.
	got := map[string]bool{}
	for _, kind := range []string{"client", "user"} {
		r := run(t, s.env("AUTHSUITE_TOKEN="+token), "", kind, "list", "--output", "json")
		if r.code != cli.ExitOK {
			t.Fatalf("%s list on the restored suite: exit %d: %s", kind, r.code, r.err)
		}
		var list struct {
			Items []struct{ ClientID, UserID string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatal(err)
		}
		for _, it := range list.Items {
			got[kind+":"+it.ClientID+it.UserID] = true
		}
	}
	for _, id := range before {
		if !got["client:"+id] || !got["user:"+id] {
			t.Errorf("the restored suite lacks %s, acknowledged before the backup", id)
		}
	}
	for k := range got {
		_, id, _ := strings.Cut(k, ":")
		if !attempted[id] && !strings.HasPrefix(id, "before-") && id != "admin" && id != "console" { // bootstrap's clients
			t.Errorf("the restored suite holds %s, which nobody wrote", k)
		}
	}
	if r := run(t, s.env(), "", "tenant", "list"); r.code != cli.ExitOK {
		t.Errorf("the bootstrap admin secret no longer works after restore: exit %d: %s", r.code, r.err)
	}
}

func TestBackupAndRestoreRefusals(t *testing.T) {
	s := startSuite(t)
	out := filepath.Join(t.TempDir(), "backup")
	if r := run(t, s.env(), "", "backup", "--out", out); r.code != cli.ExitOK {
		t.Fatalf("backup: exit %d: %s", r.code, r.err)
	}
	tr := newTranscript(t, s)
	tr.env = s.env()
	tmp := t.TempDir()
	tr.maskPath(tmp, "<TMP>")
	tr.maskPath(s.dataDir, "<DATA_DIR>")
	tr.maskPath(out, "<BACKUP>")
	// Checksums, sizes and transaction ids depend on generated keys and times.
	tr.patterns[regexp.MustCompile(`\b[0-9a-f]{64}\b`)] = 'h'
	tr.patterns[regexp.MustCompile(`(?:"(?:sizeBytes|transactionId)": |\.db +)([0-9]+)`)] = 'N'

	registry := filepath.Join(s.dataDir, "registry.db")
	inode := stat(t, registry)

	tr.run(cli.ExitConflict, "", "backup", "--out", out)
	tr.run(cli.ExitUsage, "", "backup")
	tr.run(cli.ExitUsage, "", "restore", "--data-dir", filepath.Join(tmp, "x"))
	tr.run(cli.ExitUsage, "", "restore", "--from", out)
	tr.run(cli.ExitUsage, "", "restore", "--from", out, "--data-dir", out)
	tr.run(cli.ExitUsage, "", "restore", "--from", tmp, "--data-dir", filepath.Join(tmp, "x"))
	// The running suite's files exist, and are open: refused with and without --force.
	tr.run(cli.ExitConflict, "", "restore", "--from", out, "--data-dir", s.dataDir)
	tr.run(cli.ExitConflict, "", "restore", "--from", out, "--data-dir", s.dataDir, "--force")
	if !os.SameFile(inode, stat(t, registry)) {
		t.Error("a refused restore replaced registry.db")
	}

	// A damaged backup is refused before anything is written.
	damaged := filepath.Join(tmp, "damaged")
	copyDir(t, out, damaged)
	f, err := os.OpenFile(filepath.Join(damaged, "token.db"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("garbage"), 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	target := filepath.Join(tmp, "target")
	tr.run(cli.ExitUsage, "", "restore", "--from", damaged, "--data-dir", target)
	if entries, _ := os.ReadDir(target); len(entries) > 0 {
		t.Errorf("a refused restore wrote into the data directory: %v", entries)
	}
	// A backup without its manifest is incomplete.
	os.Remove(filepath.Join(damaged, backup.ManifestFile))
	tr.run(cli.ExitUsage, "", "restore", "--from", damaged, "--data-dir", target)

	// Once the server is stopped, --force replaces its files, and it starts on them.
	tr.run(cli.ExitOK, "", "restore", "--from", out, "--data-dir", target)
	tr.run(cli.ExitConflict, "", "restore", "--from", out, "--data-dir", target)
	tr.run(cli.ExitOK, "", "restore", "--from", out, "--data-dir", target, "--force", "--output", "json")
	s.stop()
	tr.run(cli.ExitOK, "", "restore", "--from", out, "--data-dir", s.dataDir, "--force")
	s.start()
	tr.env = s.env()
	if r := run(t, s.env(), "", "client", "get", "admin"); r.code != cli.ExitOK {
		t.Errorf("after restore --force: exit %d: %s", r.code, r.err)
	}
	tr.check("backup")
}

func stat(t testing.TB, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		<-tick.C
	}
}
