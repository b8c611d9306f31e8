package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
)

// Login throttling under concurrency, per account, per address behind trusted proxies, bounded password
// hashing and what sign-in logs.

// The throttle thresholds of services/token/server/throttle.go that these tests rely on.
const (
	accountLockAt = 10 // failures that lock an account
	addressFree   = 10 // failures from one address before it must slow down
	maxDelay      = 30 // seconds: the longest an address is ever asked to wait
)

// syncBuffer is a log sink safe for the suite's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSuiteWith is startSuite with extra serve flags and the suite's JSON logs written to logs.
func startSuiteWith(t testing.TB, logs io.Writer, flags ...string) *suite {
	t.Helper()
	s := &suite{t: t, dataDir: t.TempDir()}
	args := append([]string{"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--data-dir", s.dataDir}, flags...)
	cfg, err := config.Load(config.RoleAll, args,
		[]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret, "AUTHSUITE_BOOTSTRAP_PASSWORD=admin-password-1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	running, err := app.Start(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s.running, s.base = running, running.Issuer
	s.httpAddr, s.grpcAddr = running.HTTPAddr.String(), running.GRPCAddr.String()
	t.Cleanup(s.stop)
	return s
}

// passwordChecks is how many passwords the registry has been asked to verify (AuthenticateUser calls, from
// GET /metrics).
func passwordChecks(t testing.TB, s *suite) int {
	t.Helper()
	resp, err := http.Get("http://" + s.running.AdminAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "authsuite_grpc_requests_total{") || !strings.Contains(line, `RegistryInternalService/AuthenticateUser"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += int(v)
	}
	return n
}

// oauthErrorBody is the RFC 6749 §5.2 error object.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// tokenBody is the part of a token response these tests read.
type tokenBody struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
}

// answer is one HTTP answer, safe to collect from several goroutines.
type answer struct {
	status int
	header http.Header
	body   string
	err    error
}

func send(c *http.Client, req *http.Request) answer {
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// passwordGrant sends a password-grant token request for client legacy.
func (f *signinFixture) passwordGrant(user, password string) answer {
	body := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, f.s.base+"/connect/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("legacy", f.ropcSecret)
	return send(http.DefaultClient, req)
}

func decodeError(t testing.TB, a answer) oauthErrorBody {
	t.Helper()
	var e oauthErrorBody
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("status %d: body %q is not an OAuth error object: %v", a.status, a.body, err)
	}
	return e
}

// loginPage opens the login page of client spa in b.
func (f *signinFixture) loginPage(t testing.TB, b *browser) url.Values {
	t.Helper()
	_, challenge := pkce()
	p := b.get(f.authorizeURL("spa", "openid", "st", "n", challenge))
	if !p.isLogin() {
		t.Fatalf("expected the login page, got %d %q", p.status, p.location)
	}
	return p.hidden(t)
}

// postLogin submits the login form (hidden fields of form) as user with password, from the client address
// forwarded, when not empty, in X-Forwarded-For.
func (f *signinFixture) postLogin(b *browser, form url.Values, user, password, forwarded string) answer {
	v := url.Values{}
	for k, vs := range form {
		v[k] = vs
	}
	v.Set("username", user)
	v.Set("password", password)
	req, _ := http.NewRequest(http.MethodPost, f.s.base+"/connect/login", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	return send(b.client, req)
}

func (a answer) signedIn(f *signinFixture) bool {
	return (a.status == http.StatusFound || a.status == http.StatusSeeOther) && strings.HasPrefix(a.header.Get("Location"), f.callback)
}

// retryAfter checks that a is 429 with a Retry-After of 1 to maxDelay seconds and returns it.
func retryAfter(t testing.TB, what string, a answer) int {
	t.Helper()
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429; body %.300s", what, a.status, a.body)
	}
	n, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || n < 1 || n > maxDelay {
		t.Fatalf("%s: Retry-After %q, want 1 to %d seconds", what, a.header.Get("Retry-After"), maxDelay)
	}
	if strings.Contains(a.body, "locked") {
		t.Fatalf("%s: the address is locked, want a slow-down: %.300s", what, a.body)
	}
	return n
}

// burst runs n attempts at once and returns their answers.
func burst(n int, attempt func(i int) answer) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = attempt(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// TestThrottlePasswordGrantBurst (item 5): 60 concurrent password-grant guesses for one account, the right
// password among them, have at most the lock threshold's number of passwords checked; unless the right one
// was among those few, none succeeds and the account ends locked.
func TestThrottlePasswordGrantBurst(t *testing.T) {
	f := newSigninFixture(t)
	before := passwordChecks(t, f.s)
	const n = 60
	answers := burst(n, func(i int) answer {
		if i == n-1 {
			return f.passwordGrant("alice", alicePassword)
		}
		return f.passwordGrant("alice", fmt.Sprintf("wrong-guess-%d", i))
	})
	checked := passwordChecks(t, f.s) - before
	successes := 0
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Fatal(a.err)
		case a.status == http.StatusOK:
			var tok tokenBody
			if err := json.Unmarshal([]byte(a.body), &tok); err != nil || tok.AccessToken == "" {
				t.Fatalf("200 without a token: %q", a.body)
			}
			successes++
		default:
			if e := decodeError(t, a); a.status != http.StatusBadRequest || e.Error != "invalid_grant" {
				t.Fatalf("refused guess: %d %+v, want 400 invalid_grant", a.status, e)
			}
		}
	}
	t.Logf("%d concurrent guesses: %d passwords checked, %d successes", n, checked, successes)
	if checked > accountLockAt {
		t.Fatalf("%d passwords checked for one account in one burst, want at most %d", checked, accountLockAt)
	}
	if successes > 1 {
		t.Fatalf("%d successes, want at most 1", successes)
	}
	if successes == 0 {
		a := f.passwordGrant("alice", alicePassword)
		if e := decodeError(t, a); a.status != http.StatusBadRequest || !strings.Contains(e.ErrorDescription, "locked") {
			t.Fatalf("right password after the burst: %d %+v, want the account locked", a.status, e)
		}
	}
}

// TestThrottleLoginFormBurst (item 5): the same burst on the login form, one browser, one interaction.
func TestThrottleLoginFormBurst(t *testing.T) {
	f := newSigninFixture(t)
	b := newBrowser(t)
	form := f.loginPage(t, b)
	before := passwordChecks(t, f.s)
	const n = 60
	answers := burst(n, func(i int) answer {
		if i == n-1 {
			return f.postLogin(b, form, "alice", alicePassword, "")
		}
		return f.postLogin(b, form, "alice", fmt.Sprintf("wrong-guess-%d", i), "")
	})
	checked := passwordChecks(t, f.s) - before
	successes := 0
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Fatal(a.err)
		case a.signedIn(f):
			successes++
		case a.status != http.StatusOK || !strings.Contains(a.body, `id="login"`):
			t.Fatalf("refused guess: status %d location %q, want the login page again: %.300s", a.status, a.header.Get("Location"), a.body)
		}
	}
	t.Logf("%d concurrent guesses: %d passwords checked, %d successes", n, checked, successes)
	if checked > accountLockAt {
		t.Fatalf("%d passwords checked for one account in one burst, want at most %d", checked, accountLockAt)
	}
	if successes > 1 {
		t.Fatalf("%d successes, want at most 1", successes)
	}
	if successes == 0 {
		b2 := newBrowser(t)
		a := f.postLogin(b2, f.loginPage(t, b2), "alice", alicePassword, "")
		if a.signedIn(f) || !strings.Contains(a.body, "locked") {
			t.Fatalf("right password after the burst: status %d, want the account locked: %.300s", a.status, a.body)
		}
	}
}

// TestThrottleKeyedOnAccount (item 20): guesses through the login name and through the e-mail address of one
// account share one budget; an unknown name is throttled alike, with the same answer (no enumeration oracle).
func TestThrottleKeyedOnAccount(t *testing.T) {
	f := newSigninFixture(t)
	for i := range accountLockAt {
		name := "alice"
		if i%2 == 1 {
			name = "Alice@Acme.example"
		}
		if a := f.passwordGrant(name, "wrong-guess"); a.status != http.StatusBadRequest {
			t.Fatalf("guess %d: status %d %s", i, a.status, a.body)
		}
	}
	known := decodeError(t, f.passwordGrant("alice@acme.example", alicePassword))
	if !strings.Contains(known.ErrorDescription, "locked") {
		t.Fatalf("after %d guesses split over login name and e-mail: %+v, want the account locked", accountLockAt, known)
	}
	for range accountLockAt {
		f.passwordGrant("nobody@acme.example", "wrong-guess")
	}
	unknown := decodeError(t, f.passwordGrant("nobody@acme.example", "wrong-guess"))
	if unknown != known {
		t.Fatalf("unknown name after %d guesses answers %+v, a known account %+v: want the same", accountLockAt, unknown, known)
	}
}

// auditLine is the part of a sign-in audit record these tests read.
type auditLine struct {
	Msg       string `json:"msg"`
	Event     string `json:"event"`
	Outcome   string `json:"outcome"`
	UserID    string `json:"user_id"`
	LoginName string `json:"login_name"`
}

// TestSigninLogsNoTypedName (item 24): a password typed into the user-name field never reaches the logs, on
// the login form or the password grant; a failed attempt on a real account names the account's id.
func TestSigninLogsNoTypedName(t *testing.T) {
	logs := &syncBuffer{}
	f := signinFixtureOn(t, startSuiteWith(t, logs))
	const typedForm, typedGrant = "Tr0ub4dor&3-typed-as-name", "correct-horse-typed-as-name"
	b := newBrowser(t)
	if a := f.postLogin(b, f.loginPage(t, b), typedForm, "whatever", ""); a.status != http.StatusOK {
		t.Fatalf("login form: status %d", a.status)
	}
	if a := f.passwordGrant(typedGrant, "whatever"); a.status != http.StatusBadRequest {
		t.Fatalf("password grant: status %d", a.status)
	}
	if a := f.passwordGrant("ALICE", "wrong-guess"); a.status != http.StatusBadRequest {
		t.Fatalf("password grant: status %d", a.status)
	}
	out := logs.String()
	for _, typed := range []string{typedForm, typedGrant, "ALICE"} {
		if strings.Contains(out, typed) {
			t.Errorf("the logs contain the typed name %q", typed)
		}
	}
	named := false
	for line := range strings.Lines(out) {
		var l auditLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "audit" && l.Event == "password_grant" && l.Outcome == "bad_credentials" {
			named = named || l.UserID == f.aliceID
		}
	}
	if !named {
		t.Errorf("no bad_credentials audit line names alice's id %s:\n%s", f.aliceID, out)
	}
}

// heapBytes is the Go heap in use by objects.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestPasswordHashingBounded (item 12): far more concurrent unauthenticated logins than the cores can hash
// are answered at once with 503 temporarily_unavailable and a Retry-After beyond a bounded queue, and the
// heap stays far below one argon2id block (19 MiB) per request.
func TestPasswordHashingBounded(t *testing.T) {
	f := newSigninFixture(t)
	n := max(100, 8*runtime.GOMAXPROCS(0))
	runtime.GC()
	base := heapBytes()
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // measurement only: nothing signals heap growth
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapBytes(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	answers := burst(n, func(i int) answer { return f.passwordGrant(fmt.Sprintf("nobody-%d", i), "wrong-guess") })
	elapsed := time.Since(start)
	close(done)
	<-sampled
	shed := 0
	for _, a := range answers {
		if a.err != nil {
			t.Fatal(a.err)
		}
		e := decodeError(t, a)
		switch {
		case a.status == http.StatusBadRequest && e.Error == "invalid_grant":
		case a.status == http.StatusServiceUnavailable && e.Error == "temporarily_unavailable":
			if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("503 with Retry-After %q, want a number of seconds", a.header.Get("Retry-After"))
			}
			shed++
		default:
			t.Fatalf("status %d %+v, want 400 invalid_grant or 503 temporarily_unavailable", a.status, e)
		}
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("%d concurrent logins in %s: %d shed with 503; heap peak %.1f MiB above the %.1f MiB before", n, elapsed.Round(time.Millisecond), shed, float64(growth)/(1<<20), float64(base)/(1<<20))
	if shed == 0 {
		t.Errorf("no login of %d concurrent ones was shed: password hashing is unbounded", n)
	}
	if limit := int64(runtime.GOMAXPROCS(0)+4) * 2 * 19 << 20; growth > limit {
		t.Errorf("heap grew by %d MiB during %d concurrent logins, want at most %d MiB", growth>>20, n, limit>>20)
	}
}

// TestAddressThrottleSlowsDown (item 15): many failures from one address make it wait (429 + Retry-After,
// never a lock), and once the wait is over a user there who gives the right password signs in.
func TestAddressThrottleSlowsDown(t *testing.T) {
	f := newSigninFixture(t)
	b := newBrowser(t)
	form := f.loginPage(t, b)
	const n = 60 // more than the old address lock threshold (50)
	burst(n, func(i int) answer { return f.postLogin(b, form, fmt.Sprintf("nobody-%d", i), "wrong-guess", "") })
	retryAfter(t, "right password right after the burst", f.postLogin(b, form, "alice", alicePassword, ""))
	deadline := time.Now().Add((maxDelay + 5) * time.Second)
	for {
		a := f.postLogin(b, form, "alice", alicePassword, "")
		if a.signedIn(f) {
			return
		}
		wait := retryAfter(t, "right password while the address waits", a)
		if time.Now().After(deadline) {
			t.Fatal("the right password was refused for longer than the longest delay")
		}
		// The server names the moment it accepts an attempt again; wait for it.
		<-time.After(min(time.Duration(wait)*time.Second, time.Until(deadline)))
	}
}

// TestTrustedProxyForwardedFor (item 15): behind a trusted proxy each client is throttled by its own
// address from X-Forwarded-For (the rightmost hop the proxies did not add); the same header from anywhere else
// is ignored.
func TestTrustedProxyForwardedFor(t *testing.T) {
	f := signinFixtureOn(t, startSuiteWith(t, io.Discard, "--trusted-proxies", "127.0.0.1/32,::1/128,10.0.0.0/8"))
	b := newBrowser(t)
	form := f.loginPage(t, b)
	const attacker, user = "203.0.113.5", "198.51.100.9"
	burst(2*addressFree, func(i int) answer {
		return f.postLogin(b, form, fmt.Sprintf("nobody-%d", i), "wrong-guess", attacker)
	})
	retryAfter(t, "the attacker's address", f.postLogin(b, form, "alice", alicePassword, attacker))
	// A client-supplied hop left of the client's real address does not help the attacker.
	retryAfter(t, "the attacker with a forged hop", f.postLogin(b, form, "alice", alicePassword, user+", "+attacker+", 10.1.2.3"))
	if a := f.postLogin(b, form, "alice", alicePassword, attacker+", "+user+", 10.1.2.3"); !a.signedIn(f) {
		t.Fatalf("another client behind the proxies: status %d, want signed in: %.300s", a.status, a.body)
	}

	// Without trusted proxies, X-Forwarded-For is the client's own claim and is ignored.
	g := newSigninFixture(t)
	gb := newBrowser(t)
	gform := g.loginPage(t, gb)
	burst(2*addressFree, func(i int) answer {
		return g.postLogin(gb, gform, fmt.Sprintf("nobody-%d", i), "wrong-guess", fmt.Sprintf("192.0.2.%d", i))
	})
	retryAfter(t, "untrusted X-Forwarded-For", g.postLogin(gb, gform, "alice", alicePassword, "198.51.100.77"))
}

// TestThrottleKeyedOnDisabledAccount (item 20): a disabled account's login name and e-mail address share one
// budget too; its right password, once the budget is spent, is refused with the lock, not "disabled".
func TestThrottleKeyedOnDisabledAccount(t *testing.T) {
	f := newSigninFixture(t)
	expect(t, "carol", f.s.call("POST", "/api/adminapi2/v1/tenants/"+f.tenantID+"/users/", f.adminToken, map[string]any{
		"loginName": "carol", "email": "carol@acme.example", "password": "carol-password-123", "disabled": true,
	}), 201)
	for i := range accountLockAt {
		name := "carol"
		if i%2 == 1 {
			name = "carol@acme.example"
		}
		if a := f.passwordGrant(name, "wrong-guess"); a.status != http.StatusBadRequest {
			t.Fatalf("guess %d: status %d %s", i, a.status, a.body)
		}
	}
	if e := decodeError(t, f.passwordGrant("carol@acme.example", "carol-password-123")); !strings.Contains(e.ErrorDescription, "locked") {
		t.Fatalf("after %d guesses split over login name and e-mail: %+v, want the account locked", accountLockAt, e)
	}
}
