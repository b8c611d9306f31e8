package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestClusterReplicaKilledMidLoad: kill -9 of one replica process while both serve token requests: the other
// replica answers every request throughout; writes made while the killed one is down (new clients, a
// revocation) are all known to it once it is started again.
func TestClusterReplicaKilledMidLoad(t *testing.T) {
	c := newCluster(t)
	a := c.replica()
	p := c.replicaProcess(t)
	b := p.s
	admin, tenant, secret := setupBilling(t, a, 10*time.Second)
	eventually(t, time.Second, "billing known at B", func() bool {
		return b.form("/connect/token", "grant_type=client_credentials", "billing", secret).status == 200
	})
	check := "/api/oauth2/server/tokens/check?token="
	old := clientToken(t, b, "billing", secret, "orders.read")
	expect(t, "check at B", b.call("GET", check+old, "", nil), 200)

	// Load: token requests at A and at B, each replica's answers counted apart.
	type tally struct {
		mu     sync.Mutex
		ok     int
		failed []string
	}
	var atA, atB tally
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, x := range []struct {
		base string
		t    *tally
	}{{a.base, &atA}, {a.base, &atA}, {b.base, &atB}, {b.base, &atB}} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := tryForm(x.base, "/connect/token", "grant_type=client_credentials", "billing", secret)
				x.t.mu.Lock()
				if err == nil && r.status == 200 {
					x.t.ok++
				} else {
					x.t.failed = append(x.t.failed, fmt.Sprintf("%d %s %v", r.status, r.body, err))
				}
				x.t.mu.Unlock()
			}
		})
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()
	okAt := func(x *tally) int { x.mu.Lock(); defer x.mu.Unlock(); return x.ok }
	eventually(t, 10*time.Second, "load at both replicas", func() bool { return okAt(&atA) >= 50 && okAt(&atB) >= 50 })

	p.kill9()
	killedAt := okAt(&atA)

	// While B is down: A serves, and takes writes B must learn.
	var secrets []string
	var regRev string
	for i := range 3 {
		s, rev := createClient(t, a, admin, tenant, fmt.Sprintf("while-down-%d", i))
		secrets, regRev = append(secrets, s), rev
	}
	r := a.call("GET", "/api/oauth2/server/tokens/revoke?token="+old, "", nil)
	expect(t, "revoke at A while B is down", r, 200)
	tokRev := revisionOf(t, "revoke at A", r, "token")
	eventually(t, 10*time.Second, "A serving while B is down", func() bool { return okAt(&atA) >= killedAt+100 })

	p.restart()
	barrier := regRev + "," + tokRev
	for i, s := range secrets {
		id := fmt.Sprintf("while-down-%d", i)
		expect(t, id+" at the restarted B", b.formWith("/connect/token", "grant_type=client_credentials", id, s, barrierHeader, barrier), 200)
	}
	expect(t, "the token revoked while B was down, at B", b.callWith("GET", check+old, "", nil, barrierHeader, barrier), 400, "invalid_token")
	halt()

	atA.mu.Lock()
	defer atA.mu.Unlock()
	if len(atA.failed) > 0 {
		t.Errorf("A failed %d of %d requests while B was killed and restarted; first: %s", len(atA.failed), atA.ok+len(atA.failed), atA.failed[0])
	}
	t.Logf("A answered %d token requests, none failed; B answered %d and failed %d (while it was dead)", atA.ok, atB.ok, len(atB.failed))
}
