package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	regetcd "github.com/authsuite/authsuite/services/registry/etcdstore"
)

// failBound is how long after the etcd leader's kill writes may fail. A write the dead leader had taken but
// not committed has an unknown outcome, which etcd reports only when its request timeout passes (5 s plus two
// election timeouts: 6 s in etcdtest); 2 s more are room for a loaded two-core machine.
const failBound = 8 * time.Second

// resumeBound is how soon after the etcd leader's kill a write must be acknowledged again: the election
// (500 ms timeout in etcdtest) and the client's switch to another member, with room for a loaded machine.
const resumeBound = 3 * time.Second

// etcdLeader returns the index of the etcd cluster's current leader.
func etcdLeader(t *testing.T, c *cluster) int {
	t.Helper()
	cli := c.etcd.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, ep := range c.etcd.Endpoints() {
		st, err := cli.Status(ctx, ep)
		if err != nil {
			t.Fatalf("etcd status of %s: %v", ep, err)
		}
		if st.Header.MemberId == st.Leader {
			return i
		}
	}
	t.Fatal("the etcd cluster has no leader")
	return -1
}

// writeLoad creates clients through the given replicas, one writer goroutine per entry, each with its own
// client ids, until stop is closed; it records every write's outcome.
type writeLoad struct {
	mu     sync.Mutex
	acked  []string    // clients whose creation answered 201
	ackAt  []time.Time // when, in acked's order
	failed []string    // "<replica>: <what>" of every other answer
	failAt []time.Time
	// unclear lists the failures that were neither 503 (temporarily unavailable: try again) nor a transport
	// error: a node failure must not look like a bug or a refusal.
	unclear []string
}

func (w *writeLoad) run(stop <-chan struct{}, admin, tenant string, bases []string) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g, base := range bases {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("load-%d-%d", g, i)
				r, err := tryCall("POST", base, "/api/adminapi2/v1/tenants/"+tenant+"/clients/", admin, map[string]any{
					"clientId": id, "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read"},
				})
				now := time.Now()
				w.mu.Lock()
				switch {
				case err == nil && r.status == 201:
					w.acked, w.ackAt = append(w.acked, id), append(w.ackAt, now)
				case err != nil:
					w.failed, w.failAt = append(w.failed, fmt.Sprintf("%s: %v", base, err)), append(w.failAt, now)
				default:
					w.failed, w.failAt = append(w.failed, fmt.Sprintf("%s: %d %s", base, r.status, bytes.TrimSpace(r.body))), append(w.failAt, now)
					if r.status != 503 {
						w.unclear = append(w.unclear, w.failed[len(w.failed)-1])
					}
				}
				w.mu.Unlock()
			}
		})
	}
	return &wg
}

// ackedSince is how many writes were acknowledged after at.
func (w *writeLoad) ackedSince(at time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, t := range w.ackAt {
		if t.After(at) {
			n++
		}
	}
	return n
}

// TestClusterEtcdLeaderKilledDuringWrites: kill -9 of the etcd leader while clients are created through
// both replicas loses no acknowledged write, and the load goes on: writes are acknowledged again within
// resumeBound and fail only until failBound, and afterwards every acknowledged client is there at both
// replicas and through the killed member once it is back.
func TestClusterEtcdLeaderKilledDuringWrites(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	admin := clientToken(t, a, "admin", bootstrapSecret, "adminapi")
	tenant := expect(t, "tenant", a.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme"}), 201)["tenantId"].(string)

	var w writeLoad
	stop := make(chan struct{})
	wg := w.run(stop, admin, tenant, []string{a.base, b.base, a.base, b.base})
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()

	began := time.Now()
	eventually(t, 10*time.Second, "20 writes before the kill", func() bool { return w.ackedSince(began) >= 20 })
	leader := etcdLeader(t, c)
	killed := time.Now()
	c.etcd.Kill(leader)
	eventually(t, 15*time.Second, "60 writes after the kill", func() bool { return w.ackedSince(killed) >= 60 })
	after := time.Since(killed)
	halt() // waits for writes still in flight, such as one the dead leader took

	w.mu.Lock()
	defer w.mu.Unlock()
	var late []string
	for i, at := range w.failAt {
		if at.Before(killed) || at.After(killed.Add(failBound)) {
			late = append(late, fmt.Sprintf("%s after the kill: %s", at.Sub(killed).Round(time.Millisecond), w.failed[i]))
		}
	}
	if len(late) > 0 {
		t.Errorf("%d writes failed outside the failover (%s after killing the leader):\n%s", len(late), failBound, strings.Join(late, "\n"))
	}
	if len(w.unclear) > 0 {
		// A write whose outcome etcd could not tell (leader changed, request timed out) answers 503 so that
		// a client retries, never 500 as if the server were broken.
		t.Errorf("%d writes failed with another status than 503 during the failover:\n%s", len(w.unclear), strings.Join(w.unclear, "\n"))
	}
	resumed := time.Duration(-1)
	for _, at := range w.ackAt {
		if at.After(killed) && (resumed < 0 || at.Sub(killed) < resumed) {
			resumed = at.Sub(killed)
		}
	}
	if resumed < 0 || resumed > resumeBound {
		t.Errorf("the first write acknowledged after the kill came %s after it, want within %s", resumed, resumeBound)
	}
	var perSecond []int
	for _, at := range w.ackAt {
		if at.After(killed) {
			sec := int(at.Sub(killed) / time.Second)
			for len(perSecond) <= sec {
				perSecond = append(perSecond, 0)
			}
			perSecond[sec]++
		}
	}
	window := time.Duration(0)
	if len(w.failAt) > 0 {
		window = slices.MaxFunc(w.failAt, func(x, y time.Time) int { return x.Compare(y) }).Sub(killed)
	}
	t.Logf("killed etcd member %d (the leader): %d writes acknowledged in all, %d failed, the last failure %s after the kill; the first write acknowledged %s after it, 60 by %s; acknowledged per second after the kill: %v",
		leader, len(w.acked), len(w.failed), window.Round(time.Millisecond), resumed.Round(time.Millisecond), after.Round(time.Millisecond), perSecond)

	check := func(when string) {
		t.Helper()
		for _, s := range []*suite{a, b} {
			for _, id := range w.acked {
				if r := s.call("GET", "/api/adminapi2/v1/tenants/"+tenant+"/clients/"+id, admin, nil); r.status != 200 {
					t.Fatalf("%s: acknowledged client %s at %s: %d %s", when, id, s.base, r.status, r.body)
				}
			}
		}
	}
	check("with the leader dead")
	c.etcd.Restart(leader)
	// The restarted member has everything: every acknowledged client, read through it alone.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := regetcd.Open(ctx, c.etcd.ClientAt(t, leader), c.prefix)
	if err != nil {
		t.Fatalf("registry store through the restarted member: %v", err)
	}
	defer st.Close()
	for _, id := range w.acked {
		if _, err := st.GetClient(ctx, id); err != nil {
			t.Fatalf("acknowledged client %s through the restarted member: %v", id, err)
		}
	}
	check("with every member back")
}
