package etcdclient

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/etcdtest"
)

// Dial connects to a real 3-member cluster, and every RPC the client sends is counted by method and exported
// as authsuite_etcd_requests_total.
func TestDialCountsRequests(t *testing.T) {
	c := etcdtest.Start(t, 3)
	reqs := NewRequests()
	cli, err := Dial(context.Background(), Options{Endpoints: c.Endpoints(), Prefix: "/authsuite/", DialTimeout: 5 * time.Second, Requests: reqs})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	const rangeMethod = "/etcdserverpb.KV/Range"
	if reqs.Count(rangeMethod) == 0 {
		t.Fatalf("the start-up read was not counted: %d requests in all", reqs.Total())
	}
	before, ranges := reqs.Total(), reqs.Count(rangeMethod)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "/authsuite/x", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "/authsuite/x"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	wch := cli.Watch(wctx, "/authsuite/", clientv3.WithPrefix(), clientv3.WithRev(1))
	<-wch // the watch stream is open and has delivered the first event
	cancel()
	if got := reqs.Total() - before; got < 3 {
		t.Errorf("Put, Get and a watch counted %d requests, want at least 3", got)
	}
	if got := reqs.Count(rangeMethod) - ranges; got != 1 {
		t.Errorf("one Get counted %d Range requests", got)
	}
	if reqs.Count("/etcdserverpb.KV/Put") != 1 || reqs.Count("/etcdserverpb.Watch/Watch") == 0 {
		t.Errorf("Put %d, Watch %d; want 1 and at least 1", reqs.Count("/etcdserverpb.KV/Put"), reqs.Count("/etcdserverpb.Watch/Watch"))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(reqs)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "authsuite_etcd_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	if uint64(sum) != reqs.Total() {
		t.Errorf("authsuite_etcd_requests_total sums to %v, Total() is %d", sum, reqs.Total())
	}
}

// With no member reachable, Dial fails within the dial timeout, naming the endpoints and the setting, and
// without a panic.
func TestDialUnreachable(t *testing.T) {
	var eps []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, "http://"+l.Addr().String())
		l.Close() // nothing listens there now
	}
	start := time.Now()
	cli, err := Dial(context.Background(), Options{Endpoints: eps, Prefix: "/authsuite/", DialTimeout: 300 * time.Millisecond})
	if err == nil {
		cli.Close()
		t.Fatal("Dial succeeded with no etcd running")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Dial took %s with a 300ms timeout", took)
	}
	for _, want := range append(eps, "--etcd-dial-timeout") {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// A context that ends first ends the wait too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cli, err := Dial(ctx, Options{Endpoints: eps, Prefix: "/authsuite/", DialTimeout: time.Minute}); err == nil {
		cli.Close()
		t.Fatal("Dial succeeded with an ended context")
	}
}

// With etcd authentication on, the user and password (from the options or a file) open the cluster, and a
// wrong password is a clear error that names the setting.
func TestDialAuth(t *testing.T) {
	c := etcdtest.Start(t, 1)
	root := c.Client(t)
	ctx := context.Background()
	if _, err := root.UserAdd(ctx, "root", "root-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.UserGrantRole(ctx, "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("root-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Options{Endpoints: c.Endpoints(), Prefix: "/authsuite/", DialTimeout: 5 * time.Second, Username: "root"}

	withFile := base
	withFile.PasswordFile = pwFile
	cli, err := Dial(ctx, withFile)
	if err != nil {
		t.Fatalf("password from a file: %v", err)
	}
	if _, err := cli.Put(ctx, "/authsuite/k", "v"); err != nil {
		t.Fatalf("write as root: %v", err)
	}
	cli.Close()

	wrong := base
	wrong.Password = "not-the-password"
	if cli, err := Dial(ctx, wrong); err == nil {
		cli.Close()
		t.Fatal("a wrong password was accepted")
	} else if !strings.Contains(err.Error(), "--etcd-username") || !strings.Contains(err.Error(), c.Endpoints()[0]) {
		t.Errorf("wrong password: %v; want the setting and the endpoint named", err)
	}
}

// A password file that is missing, empty or far too large is refused before anything connects.
func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	big := filepath.Join(dir, "big")
	os.WriteFile(empty, []byte("\n"), 0o600)
	os.WriteFile(big, []byte(strings.Repeat("x", MaxPasswordFileBytes+1)), 0o600)
	for _, f := range []string{filepath.Join(dir, "missing"), empty, big} {
		_, err := password(Options{Username: "u", PasswordFile: f})
		if err == nil || !strings.Contains(err.Error(), "--etcd-password-file (AUTHSUITE_ETCD_PASSWORD_FILE)") {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	if pw, err := password(Options{Username: "u", Password: "env", PasswordFile: empty}); err != nil || pw != "env" {
		t.Errorf("the environment's password wins: %q, %v", pw, err)
	}
}

// TLS files that cannot be read or hold no certificate are errors naming the flag.
func TestClientTLSErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{CAFile: filepath.Join(dir, "missing.pem")}, "--etcd-ca-file"},
		{Options{CAFile: notPEM}, "--etcd-ca-file"},
		{Options{CertFile: notPEM, KeyFile: notPEM}, "--etcd-cert-file"},
	} {
		tt.o.Endpoints = []string{"https://127.0.0.1:1"}
		if _, err := Dial(context.Background(), tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want an error naming %s", tt.o, err, tt.want)
		}
	}
}
