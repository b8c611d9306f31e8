package e2e

import (
	"testing"
	"time"
)

// TestClusterRevokedAtAFailsAtB: a token revoked at replica A fails the check at replica B: at once when the
// check carries the revocation's Authsuite-Revision, within a second without it. B had checked the token
// successfully before, so a cache of good answers would show.
func TestClusterRevokedAtAFailsAtB(t *testing.T) {
	c := newCluster(t)
	a, b := c.replica(), c.replica()
	_, _, secret := setupBilling(t, a, 10*time.Second)
	eventually(t, time.Second, "billing known at B", func() bool {
		return b.form("/connect/token", "grant_type=client_credentials", "billing", secret).status == 200
	})
	check := "/api/oauth2/server/tokens/check?token="

	t1 := clientToken(t, a, "billing", secret, "orders.read")
	expect(t, "check at B before the revocation", b.call("GET", check+t1, "", nil), 200)
	r := a.call("GET", "/api/oauth2/server/tokens/revoke?token="+t1, "", nil)
	expect(t, "revoke at A", r, 200)
	rev := revisionOf(t, "revoke at A", r, "token")
	expect(t, "check at B with "+rev, b.callWith("GET", check+t1, "", nil, barrierHeader, rev), 400, "invalid_token")

	t2 := clientToken(t, b, "billing", secret, "orders.read")
	expect(t, "check at B before the second revocation", b.call("GET", check+t2, "", nil), 200)
	expect(t, "revoke at A", a.call("GET", "/api/oauth2/server/tokens/revoke?token="+t2, "", nil), 200)
	took := within(t, time.Second, "the revocation at B", func() bool { return b.call("GET", check+t2, "", nil).status == 400 })
	expect(t, "check at B after the revocation", b.call("GET", check+t2, "", nil), 400, "invalid_token")
	t.Logf("a token revoked at A failed the check at B after %s without the barrier", took.Round(time.Microsecond))
	expect(t, "the revoked tokens at A", a.call("GET", check+t2, "", nil), 400, "invalid_token")
}
