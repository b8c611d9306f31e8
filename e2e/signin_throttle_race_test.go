package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWrongPasswordsLock: wrong passwords sent at once all count, so a burst of them locks the
// account like the same number sent one by one: afterwards even the right password is refused with the lock
// message (invalid_grant).
func TestConcurrentWrongPasswordsLock(t *testing.T) {
	f := newSigninFixture(t)
	const n = 20 // twice the account lock threshold
	body := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}}.Encode()
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, f.s.base+"/connect/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("legacy", f.ropcSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"invalid_grant"`) {
				errs <- string(b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("wrong password: %s", e)
	}
	m := expect(t, "right password after the burst", f.tokenForm("legacy", f.ropcSecret, url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword},
	}), 400, "invalid_grant")
	if d, _ := m["error_description"].(string); !strings.Contains(d, "Too many failed sign-in attempts: sign-in is locked for") {
		t.Fatalf("after %d concurrent failures: %q, want the lock message", n, d)
	}
}
