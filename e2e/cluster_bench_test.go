package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/registry"
	regetcd "github.com/authsuite/authsuite/services/registry/etcdstore"
	"github.com/authsuite/authsuite/services/token"
	toketcd "github.com/authsuite/authsuite/services/token/etcdstore"
)

// The cluster benchmarks run the suite on a real 3-member etcd cluster (go test -run x -bench Cluster ./e2e/).
// Replicas run in the benchmark's process, so one and two replicas share the machine's cores: the numbers show
// what a replica costs and that a second one shares the work without coordination, not a scale-out.

// etcdRequests is authsuite_etcd_requests_total on s's admin /metrics, by label set, and its sum.
func etcdRequests(tb testing.TB, s *suite) (byLabels map[string]float64, sum float64) {
	tb.Helper()
	r := s.adminGet("/metrics")
	if r.status != 200 {
		tb.Fatalf("/metrics: %d", r.status)
	}
	byLabels = map[string]float64{}
	for _, line := range strings.Split(string(r.body), "\n") {
		rest, ok := strings.CutPrefix(line, "authsuite_etcd_requests_total")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		labels, value := "", strings.TrimSpace(rest)
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			labels, value = rest[:i+1], strings.TrimSpace(rest[i+1:])
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			tb.Fatalf("metric line %q: %v", line, err)
		}
		byLabels[labels] += v
		sum += v
	}
	if len(byLabels) == 0 {
		tb.Fatalf("no authsuite_etcd_requests_total on %s's /metrics", s.base)
	}
	return byLabels, sum
}

// benchCluster starts two replicas on a 3-member etcd cluster with client bench (client_credentials, with a
// secret) known at both.
func benchCluster(b *testing.B) (replicas []*suite, secret, admin string) {
	c := newCluster(b)
	a, r2 := c.replica(), c.replica()
	admin = clientToken(b, a, "admin", bootstrapSecret, "adminapi")
	expect(b, "client", a.call("POST", "/api/adminapi2/v1/tenants/default/clients", admin, map[string]any{
		"clientId": "bench", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"bench"},
	}), 201)
	r := a.call("POST", "/api/adminapi2/v1/tenants/default/clients/bench/secrets", admin, map[string]any{})
	secret = expect(b, "secret", r, 201)["value"].(string)
	rev := revisionOf(b, "secret", r, "registry")
	for _, s := range []*suite{a, r2} {
		expect(b, "bench known at "+s.base, s.formWith("/connect/token", "grant_type=client_credentials", "bench", secret, barrierHeader, rev), 200)
	}
	return []*suite{a, r2}, secret, admin
}

// runSpread runs req in parallel, spreading requests round robin over bases, and reports the etcd requests
// the replicas made per operation meanwhile (etcd-req/op; 0 means no etcd round trip in steady state).
func runSpread(b *testing.B, replicas []*suite, req func(base string) *http.Request) {
	b.Helper()
	for _, s := range replicas { // warm: connections open, caches filled
		for range 20 {
			mustOK(b, req(s.base))
		}
	}
	before, beforeBy := 0.0, map[string]float64{}
	for _, s := range replicas {
		by, sum := etcdRequests(b, s)
		before += sum
		for k, v := range by {
			beforeBy[k] += v
		}
	}
	var next atomic.Uint64
	b.SetParallelism(16) // 32 concurrent keep-alive connections on two cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mustOK(b, req(replicas[next.Add(1)%uint64(len(replicas))].base))
		}
	})
	b.StopTimer()
	after, afterBy := 0.0, map[string]float64{}
	for _, s := range replicas {
		by, sum := etcdRequests(b, s)
		after += sum
		for k, v := range by {
			afterBy[k] += v
		}
	}
	var made []string
	for k, v := range afterBy {
		if d := v - beforeBy[k]; d > 0 {
			made = append(made, fmt.Sprintf("%s %g", k, d))
		}
	}
	slices.Sort(made)
	b.ReportMetric((after-before)/float64(b.N), "etcd-req/op")
	b.ReportMetric(after-before, "etcd-req")
	if len(made) > 0 {
		b.Logf("etcd requests during %d operations: %s", b.N, strings.Join(made, ", "))
	}
}

// BenchmarkClusterToken: POST /connect/token (client_credentials) on etcd, at one replica and spread over
// two; etcd-req/op is the etcd requests the replicas made per token.
func BenchmarkClusterToken(b *testing.B) {
	replicas, secret, _ := benchCluster(b)
	token := func(base string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, base+"/connect/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("bench", url.QueryEscape(secret))
		return req
	}
	b.Run("replicas=1", func(b *testing.B) { runSpread(b, replicas[:1], token) })
	b.Run("replicas=2", func(b *testing.B) { runSpread(b, replicas, token) })
}

// BenchmarkClusterCheck: GET /api/oauth2/server/tokens/check of one live token on etcd, at one replica and
// spread over two.
func BenchmarkClusterCheck(b *testing.B) {
	replicas, secret, _ := benchCluster(b)
	tok := benchToken(b, replicas[0].base, "bench", secret)
	check := func(base string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/oauth2/server/tokens/check?token="+tok, nil)
		return req
	}
	b.Run("replicas=1", func(b *testing.B) { runSpread(b, replicas[:1], check) })
	b.Run("replicas=2", func(b *testing.B) { runSpread(b, replicas, check) })
}

// BenchmarkClusterAdminWrites: client creations through the admin API, in parallel, on etcd (spread over two
// replicas) and on bbolt (one process, its file).
func BenchmarkClusterAdminWrites(b *testing.B) {
	var seq atomic.Uint64
	create := func(b *testing.B, bases []string, admin string) {
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := seq.Add(1)
				r, err := tryCall("POST", bases[n%uint64(len(bases))], "/api/adminapi2/v1/tenants/default/clients", admin, map[string]any{
					"clientId": fmt.Sprintf("w-%d", n), "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"bench"},
				})
				if err != nil || r.status != 201 {
					b.Errorf("create client: %v %d %s", err, r.status, r.body)
				}
			}
		})
	}
	b.Run("store=etcd", func(b *testing.B) {
		replicas, _, admin := benchCluster(b)
		create(b, []string{replicas[0].base, replicas[1].base}, admin)
	})
	b.Run("store=bbolt", func(b *testing.B) {
		s := startSuite(b)
		admin := clientToken(b, s, "admin", bootstrapSecret, "adminapi")
		create(b, []string{s.base}, admin)
	})
}

// benchSecret is the secret of every seeded client.
const benchSecret = "bench-secret-0123456789abcdef0123456789"

// seedClients seeds the registry under prefix with tenant bench and n clients (client_credentials, one secret
// benchSecret each), named c000000…, through the etcd store itself (one Seed: faster than the admin API).
func seedClients(b *testing.B, cli *clientv3.Client, key, prefix string, n int) {
	b.Helper()
	kr, err := suitekey.Parse(key)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := regetcd.Open(ctx, cli, prefix)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	keyID, sum := kr.Digest(registry.SecretDigestPurpose, []byte(benchSecret))
	tenant := registry.Tenant{ID: "t-bench", Code: "bench", Name: "Bench", CreateTime: now}
	clients := make([]registry.Client, n)
	for i := range clients {
		c := registry.DefaultClient()
		c.ID, c.TenantID, c.Name = fmt.Sprintf("c%06d", i), tenant.ID, "Seeded"
		c.AllowedGrantTypes, c.AllowedScopes = []string{registry.GrantClientCredentials}, []string{"orders.read"}
		c.CreateTime, c.UpdateTime = now, now
		c.Secrets = []registry.Secret{{ID: fmt.Sprintf("s%06d", i), KeyID: keyID, Digest: sum, ValueDisplay: registry.DisplayPrefix(benchSecret),
			StartTime: now, Expiration: now.AddDate(1, 0, 0)}}
		clients[i] = c
	}
	began := time.Now()
	if done, err := st.Seed(ctx, []registry.Tenant{tenant}, clients, nil); err != nil || !done {
		b.Fatalf("seeding %d clients: %v (seeded %t)", n, err, done)
	}
	b.Logf("seeded %d clients in %s", n, time.Since(began).Round(time.Millisecond))
}

// seedRevocations records n revocations (jti r0000000…, expiring in an hour) under prefix. One Revoke per
// revocation costs a transaction each (about 1,300 a second on this machine: 13 minutes for a million), so
// they are written 64 to a transaction (etcd's default limit is 128 operations) in the token store's own
// layout, and then read back through the token etcd store (Open, Revocations): a layout that is no longer the
// store's fails the benchmark instead of seeding what a replica would ignore.
func seedRevocations(b *testing.B, cli *clientv3.Client, prefix string, n int) {
	b.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var value [8]byte
	binary.BigEndian.PutUint64(value[:], uint64(exp.Unix()))
	expKey := fmt.Sprintf("%016x", uint64(exp.Unix())^(1<<63))
	began := time.Now()
	const perTxn = 64
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for failed.Load() == nil {
				first := next.Add(perTxn) - perTxn
				if first >= int64(n) {
					return
				}
				var ops []clientv3.Op
				for i := first; i < min(first+perTxn, int64(n)); i++ {
					jti := fmt.Sprintf("r%07d", i)
					ops = append(ops, clientv3.OpPut(prefix+"token/w/r/"+jti, string(value[:])), clientv3.OpPut(prefix+"token/x/r/"+expKey+"/"+jti, ""))
				}
				// The puts are idempotent, so a transaction an overloaded etcd timed out is sent again.
				var err error
				for range 5 {
					if _, err = cli.Txn(ctx).Then(ops...).Commit(); err == nil {
						break
					}
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("seeding revocations: %v", err)
	}
	took := time.Since(began)
	st, err := toketcd.Open(ctx, cli, prefix)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	got, err := st.Revocations(ctx)
	if err != nil || len(got) != n {
		b.Fatalf("the token store reads %d of %d seeded revocations (%v): the seed's layout is not the store's", len(got), n, err)
	}
	want := token.Revocation{JTI: "r0000000", Expiry: exp}
	if !slices.ContainsFunc(got, func(r token.Revocation) bool { return r.JTI == want.JTI && r.Expiry.Equal(want.Expiry) }) {
		b.Fatalf("the token store does not read revocation %+v back as seeded", want)
	}
	b.Logf("recorded %d revocations in %s (read back through the store)", n, took.Round(time.Millisecond))
}

// readyReplica starts a replica on prefix and returns it with the time from the start to its first
// successful /readyz.
func readyReplica(b *testing.B, c *cluster, prefix string) (*suite, time.Duration) {
	b.Helper()
	began := time.Now()
	s := c.replicaOn(prefix)
	eventually(b, 5*time.Minute, "the new replica ready", func() bool {
		r, err := tryCall("GET", s.base, "/readyz", "", nil)
		return err == nil && r.status == 200
	})
	return s, time.Since(began)
}

// heapInUse is the process's heap in use after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkClusterReplicaReady: the time a new replica takes from its start to ready on a suite of 100,000
// clients and 1,000,000 revoked tokens (seconds-to-ready), and whether it then serves a seeded client.
// Seeding takes minutes; run it alone: go test -run x -bench ClusterReplicaReady -benchtime 1x ./e2e/
func BenchmarkClusterReplicaReady(b *testing.B) {
	const clients, revoked = 100_000, 1_000_000
	c := newCluster(b)
	cli := c.etcd.Client(b)
	seedClients(b, cli, c.key, c.prefix, clients)
	seedRevocations(b, cli, c.prefix, revoked)
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		s, took := readyReplica(b, c, c.prefix)
		total += took
		b.StopTimer()
		expect(b, "a seeded client's token at the new replica", s.form("/connect/token", "grant_type=client_credentials", "c099999", benchSecret), 200)
		s.stop()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "seconds-to-ready")
}

// BenchmarkClusterMemoryPer100kClients: the heap a replica holds for 100,000 clients (its client view): the
// heap in use grown by a replica of a suite with 100,000 clients, less that grown by one of an empty suite.
func BenchmarkClusterMemoryPer100kClients(b *testing.B) {
	const clients = 100_000
	c := newCluster(b)
	full := strings.TrimSuffix(c.prefix, "/") + "-full/"
	seedClients(b, c.etcd.Client(b), c.key, full, clients)
	b.ResetTimer()
	var perClients float64
	for range b.N {
		grown := func(prefix string) uint64 {
			before := heapInUse()
			s, took := readyReplica(b, c, prefix)
			after := heapInUse()
			b.Logf("a replica of the suite under %s was ready in %s", prefix, took.Round(time.Millisecond))
			s.stop()
			if after < before {
				return 0
			}
			return after - before
		}
		empty, seeded := grown(c.prefix), grown(full)
		b.Logf("heap grown by a replica: %.1f MiB on an empty suite, %.1f MiB with %d clients", float64(empty)/(1<<20), float64(seeded)/(1<<20), clients)
		perClients += (float64(seeded) - float64(empty)) / (1 << 20)
	}
	b.ReportMetric(perClients/float64(b.N), "MiB/100k-clients")
}
