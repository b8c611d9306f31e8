package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// barrierHeader carries "<service>:<revision>" values: a write answers the revision it produced, and a request
// carrying it waits (bounded) until the replica that serves it has applied that revision.
const barrierHeader = "Authsuite-Revision"

// cluster is a 3-member etcd cluster of real etcd processes with authsuite replicas on it, the way operators
// run it: every replica has the same --etcd-endpoints, --etcd-prefix, master key and issuer, and a load
// balancer (lb, round robin over the running replicas) is the issuer's address. Tests talk to one replica
// directly through its suite (whose base is that replica's own listener) to choose where a request lands.
type cluster struct {
	t      testing.TB
	etcd   *etcdtest.Cluster
	key    string // AUTHSUITE_MASTER_KEY, shared by every replica
	prefix string // --etcd-prefix
	issuer string // the load balancer's URL
	lb     *httptest.Server

	mu       sync.Mutex
	backends []*url.URL // the replicas the load balancer sends to
	next     int
}

// newCluster starts the etcd cluster and the load balancer; replicas are added with replica (in-process) or
// replicaProcess (a child process that can be killed).
func newCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{t: t, etcd: etcdtest.Start(t, 3), key: suitekey.Generate()}
	p := make([]byte, 4)
	rand.Read(p)
	c.prefix = "/authsuite-" + hex.EncodeToString(p) + "/"
	c.lb = httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(c.pick())
		r.Out.Host = r.In.Host // the issuer's host, as behind a real load balancer
	}})
	t.Cleanup(c.lb.Close)
	c.issuer = c.lb.URL
	return c
}

func (c *cluster) pick() *url.URL {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.backends) == 0 {
		return &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	}
	c.next++
	return c.backends[c.next%len(c.backends)]
}

func (c *cluster) addBackend(base string) {
	u, err := url.Parse(base)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.backends = append(c.backends, u)
	c.mu.Unlock()
}

// serveArgs are the flags every replica of the suite under prefix shares.
func (c *cluster) serveArgs(prefix string) []string {
	return []string{"--store", "etcd", "--etcd-endpoints", strings.Join(c.etcd.Endpoints(), ","), "--etcd-prefix", prefix,
		"--issuer", c.issuer, "--allow-private-outbound"}
}

func (c *cluster) env() []string {
	return []string{"AUTHSUITE_MASTER_KEY=" + c.key, "AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret, "AUTHSUITE_BOOTSTRAP_PASSWORD=admin-password-1"}
}

// replica starts a one-process authsuite in this test process on the cluster, with its own listeners on
// 127.0.0.1:0 and its own data directory, and returns it as a suite whose base is its own HTTP listener. Its
// warnings and errors are logged when the test fails. It is shut down when the test ends.
func (c *cluster) replica() *suite {
	c.t.Helper()
	return c.replicaOn(c.prefix)
}

// replicaOn is replica for the suite under another key prefix of the same etcd cluster.
func (c *cluster) replicaOn(prefix string) *suite {
	t := c.t
	t.Helper()
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0", adminAddr: "127.0.0.1:0"}
	args := append([]string{"--http-addr", s.httpAddr, "--grpc-addr", s.grpcAddr, "--admin-addr", s.adminAddr, "--data-dir", s.dataDir}, c.serveArgs(prefix)...)
	cfg, err := config.Load(config.RoleAll, args, c.env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica %s log:\n%s", cmp.Or(s.base, "(not started)"), tail(logs.String(), 8<<10))
		}
	})
	running, err := app.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})), io.Discard)
	if err != nil {
		t.Fatalf("replica on etcd: %v", err)
	}
	s.running = running
	s.base = "http://" + running.HTTPAddr.String()
	s.httpAddr, s.grpcAddr, s.adminAddr = running.HTTPAddr.String(), running.GRPCAddr.String(), running.AdminAddr.String()
	t.Cleanup(s.stop)
	c.addBackend(s.base)
	return s
}

// replicaProcess is a one-process authsuite run as a child process (`authsuite serve --store etcd …`) on fixed
// loopback addresses, so it can be killed with SIGKILL and started again where it was.
type replicaProcess struct {
	*process
	s *suite // base is the process's HTTP listener; running is nil
}

func (c *cluster) replicaProcess(t *testing.T) *replicaProcess {
	t.Helper()
	httpAddr, grpcAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	args := append([]string{"serve", "--log-format", "json", "--log-level", "warn", "--http-addr", httpAddr, "--grpc-addr", grpcAddr,
		"--admin-addr", adminAddr, "--data-dir", filepath.Join(t.TempDir(), "data")}, c.serveArgs(c.prefix)...)
	r := &replicaProcess{process: &process{t: t, args: args, env: c.env()}, s: &suite{t: t, base: "http://" + httpAddr, adminAddr: adminAddr}}
	r.start()
	t.Cleanup(func() {
		r.kill9()
		if t.Failed() {
			t.Logf("replica process %s log:\n%s", r.s.base, tail(r.logs.String(), 8<<10))
		}
	})
	waitReady(t, r.s.base+"/readyz", r.process)
	c.addBackend(r.s.base)
	return r
}

// restart starts a killed replica process again on its addresses and waits until it is ready.
func (r *replicaProcess) restart() {
	r.t.Helper()
	r.start()
	waitReady(r.t, r.s.base+"/readyz", r.process)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// revisionOf returns the "<service>:<n>" value r answered in Authsuite-Revision, failing the test when there
// is none for service.
func revisionOf(t testing.TB, what string, r response, service string) string {
	t.Helper()
	for _, v := range r.header.Values(barrierHeader) {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if n, ok := strings.CutPrefix(part, service+":"); ok {
				if _, err := strconv.ParseInt(n, 10, 64); err != nil {
					t.Fatalf("%s: %s %q is not <service>:<n>", what, barrierHeader, part)
				}
				return part
			}
		}
	}
	t.Fatalf("%s: no %s value for %s in %v", what, barrierHeader, service, r.header)
	return ""
}

// createClient creates client id (client_credentials, scope orders.read) in tenant through s and a secret for it,
// and returns the secret and the registry revision the secret's creation answered.
func createClient(t testing.TB, s *suite, admin, tenant, id string) (secret, rev string) {
	t.Helper()
	expect(t, "client "+id, s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/", admin, map[string]any{
		"clientId": id, "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read"},
	}), 201)
	r := s.call("POST", "/api/adminapi2/v1/tenants/"+tenant+"/clients/"+id+"/secrets/", admin, map[string]any{})
	secret = expect(t, "secret "+id, r, 201)["value"].(string)
	return secret, revisionOf(t, "secret "+id, r, "registry")
}

// within measures how long cond takes to hold, polling, and fails the test when it does not within limit.
func within(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	eventually(t, limit, what, cond)
	return time.Since(began)
}

// loadClient is the HTTP client of load goroutines: bounded, so a request stuck on a dead node cannot hang
// the test.
var loadClient = &http.Client{Timeout: 10 * time.Second}

// tryForm POSTs a form to base+path as basicUser, from any goroutine: a transport error is returned, never
// fails the test. Header are name, value pairs.
func tryForm(base, path, body, basicUser, basicPass string, header ...string) (response, error) {
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	return tryDo(req, header...)
}

// tryCall sends method base+path with an optional JSON body and bearer token, from any goroutine.
func tryCall(method, base, path, token string, body any, header ...string) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return tryDo(req, header...)
}

func tryDo(req *http.Request, header ...string) (response, error) {
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := loadClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}
