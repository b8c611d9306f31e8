package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// answered is the revision a response's Authsuite-Revision header names for service, failing the test
// without one.
func answered(t *testing.T, what string, r response, service string) int64 {
	t.Helper()
	for _, v := range r.header.Values(revisionHeader) {
		for elem := range strings.SplitSeq(v, ",") {
			if name, num, ok := strings.Cut(strings.TrimSpace(elem), ":"); ok && name == service {
				n, err := strconv.ParseInt(num, 10, 64)
				if err == nil && n > 0 {
					return n
				}
			}
		}
	}
	t.Fatalf("%s: Authsuite-Revision %q names no %s revision", what, r.header.Values(revisionHeader), service)
	return 0
}

// TestRevisionBarrierOverREST: through the REST API of the one-process suite, admin writes answer the
// registry revision they produced and revocations the token revision, in the Authsuite-Revision header; a
// request naming a revision the token service has not applied is answered 503 naming it once the wait
// (at most 5 s) is over, and a malformed value 400 naming the header.
func TestRevisionBarrierOverREST(t *testing.T) {
	s := startSuite(t)
	admin, tenant, secret := setupBilling(t, s, 10*time.Second)
	r := s.call(http.MethodPost, "/api/adminapi2/v1/tenants/"+tenant+"/clients/billing/secrets/", admin, map[string]any{})
	expect(t, "second secret", r, 201)
	registryRev := answered(t, "secret creation", r, "registry")

	tok := expect(t, "token", s.form("/connect/token", "grant_type=client_credentials", "billing", secret), 200)["access_token"].(string)
	r = s.call(http.MethodGet, "/api/oauth2/server/tokens/revoke?token="+tok, "", nil)
	expect(t, "revoke", r, 200)
	tokenRev := answered(t, "revocation", r, "token")
	expect(t, "check after the revocation", s.call(http.MethodGet, "/api/oauth2/server/tokens/check?token="+tok, "", nil), 400, "invalid_token")

	check := func(value string) response {
		req, err := http.NewRequest(http.MethodGet, s.base+"/api/oauth2/server/tokens/check?token="+tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(revisionHeader, value)
		return s.do(req)
	}
	// Revisions already applied pass at once.
	expect(t, "applied revisions", check("registry:"+strconv.FormatInt(registryRev, 10)+", token:"+strconv.FormatInt(tokenRev, 10)), 400, "invalid_token")
	if r := check("token:x"); r.status != 400 || !strings.Contains(string(r.body), revisionHeader) {
		t.Errorf("malformed value: %d %s, want 400 naming %s", r.status, r.body, revisionHeader)
	}
	// A token revision beyond the token store's history was never produced: refused at once.
	future := "token:" + strconv.FormatInt(tokenRev+1_000_000, 10)
	start := time.Now()
	r = check(future)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "never produced") {
		t.Errorf("a token revision never produced: %d %s, want 400 saying so", r.status, r.body)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("a token revision never produced was answered after %v, want at once", waited)
	}
	// A registry revision the token service has not applied is waited for, then refused with 503 naming it.
	future = "registry:" + strconv.FormatInt(registryRev+1_000_000, 10)
	start = time.Now()
	r = check(future)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "registry revision "+strings.TrimPrefix(future, "registry:")) {
		t.Errorf("a registry revision never applied: %d %s, want 503 naming it", r.status, r.body)
	}
	if waited := time.Since(start); waited < 4*time.Second || waited > 30*time.Second {
		t.Errorf("a registry revision never applied was answered after %v, want about 5 s", waited)
	}
}
