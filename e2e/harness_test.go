package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/app"
	"github.com/authsuite/authsuite/internal/config"
)

const bootstrapSecret = "bootstrap-secret-for-tests-0123456789abcdef"

// suite is an all-in-one authsuite started in-process on loopback ports, restartable on the same data.
type suite struct {
	t       testing.TB
	dataDir string
	// Listen addresses: 127.0.0.1:0 on the first start, the bound ones afterwards.
	httpAddr, grpcAddr, adminAddr string
	running                       *app.Suite
	base                          string
	// strictOutbound starts the suite without --allow-private-outbound, so back-channel logout and provider
	// requests to loopback receivers are refused as in production.
	strictOutbound bool
	// args are more flags of authsuite serve (e.g. --store memory).
	args []string

	// revisions is the latest revision each service answered in an Authsuite-Revision response header
	// (service → n). Every later request of the suite carries them, so the token service answers it only
	// once it has applied every write the test made before (the revision barrier): tests read their own
	// writes instead of polling for them.
	revMu     sync.Mutex
	revisions map[string]int64
}

// revisionHeader is the HTTP header of the revision barrier.
const revisionHeader = "Authsuite-Revision"

// noteRevisions remembers the revisions an answer carried (values "<service>:<n>", comma-separated).
func (s *suite) noteRevisions(values []string) {
	s.revMu.Lock()
	defer s.revMu.Unlock()
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			service, num, ok := strings.Cut(strings.TrimSpace(elem), ":")
			n, err := strconv.ParseInt(num, 10, 64)
			if !ok || err != nil {
				s.t.Errorf("malformed %s answer %q", revisionHeader, v)
				continue
			}
			if s.revisions == nil {
				s.revisions = map[string]int64{}
			}
			s.revisions[service] = max(s.revisions[service], n)
		}
	}
}

// revisionValue is the Authsuite-Revision value asking for every remembered revision ("" for none).
func (s *suite) revisionValue() string {
	s.revMu.Lock()
	defer s.revMu.Unlock()
	parts := make([]string, 0, len(s.revisions))
	for service, n := range s.revisions {
		parts = append(parts, service+":"+strconv.FormatInt(n, 10))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// sync returns once the token service has applied every write the test made so far, for the requests a
// test does not send through the suite (a browser, an OAuth library): it asks for the discovery document,
// a token service call, with the remembered revisions.
func (s *suite) sync() {
	s.t.Helper()
	expect(s.t, "read-your-writes barrier", s.call(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK)
}

func startSuite(t testing.TB) *suite {
	t.Helper()
	s := &suite{t: t, dataDir: t.TempDir(), httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0"}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *suite) start() {
	s.t.Helper()
	if s.adminAddr == "" {
		s.adminAddr = "127.0.0.1:0"
	}
	args := []string{"--http-addr", s.httpAddr, "--grpc-addr", s.grpcAddr, "--admin-addr", s.adminAddr, "--data-dir", s.dataDir}
	if !s.strictOutbound {
		args = append(args, "--allow-private-outbound") // the tests' receivers and providers live on loopback
	}
	args = append(args, s.args...)
	cfg, err := config.Load(config.RoleAll, args,
		[]string{"AUTHSUITE_BOOTSTRAP_SECRET=" + bootstrapSecret, "AUTHSUITE_BOOTSTRAP_PASSWORD=admin-password-1"}, io.Discard)
	if err != nil {
		s.t.Fatal(err)
	}
	running, err := app.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		s.t.Fatal(err)
	}
	s.running = running
	s.base = running.Issuer
	s.revMu.Lock()
	s.revisions = nil // a memory store starts its revisions again; a file-backed one is read anew anyway
	s.revMu.Unlock()
	// A restart comes back on the same addresses, so the issuer stays the same.
	s.httpAddr, s.grpcAddr, s.adminAddr = running.HTTPAddr.String(), running.GRPCAddr.String(), running.AdminAddr.String()
}

// adminGet GETs path (/metrics, /healthz, /readyz) from the running suite's admin listener.
func (s *suite) adminGet(path string) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.running.AdminAddr.String()+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.do(req)
}

func (s *suite) stop() {
	if s.running == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.running.Shutdown(ctx); err != nil {
		s.t.Errorf("shutdown: %v", err)
	}
	s.running = nil
}

// restart stops the suite and starts it again on the same data directory and addresses.
func (s *suite) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// call sends method path with an optional JSON body and bearer token.
func (s *suite) call(method, path, token string, body any) response {
	s.t.Helper()
	return s.callWith(method, path, token, body)
}

// callWith is call with more request headers (name, value pairs).
func (s *suite) callWith(method, path, token string, body any, header ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return s.do(req)
}

// form POSTs an application/x-www-form-urlencoded body.
func (s *suite) form(path, body string, basicUser, basicPass string) response {
	s.t.Helper()
	return s.formWith(path, body, basicUser, basicPass)
}

// formWith is form with more request headers (name, value pairs).
func (s *suite) formWith(path, body, basicUser, basicPass string, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return s.do(req)
}

// do sends req (with the remembered revisions unless it names its own) and remembers the revisions the
// answer carries.
func (s *suite) do(req *http.Request) response {
	s.t.Helper()
	if _, own := req.Header[revisionHeader]; !own {
		if v := s.revisionValue(); v != "" {
			req.Header.Set(revisionHeader, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	s.noteRevisions(resp.Header.Values(revisionHeader))
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless r has the status (and, when given, the OAuth error code).
func expect(t testing.TB, what string, r response, status int, errorCode ...string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
	if len(r.body) == 0 {
		return nil
	}
	m := r.json(t)
	if len(errorCode) > 0 && m["error"] != errorCode[0] {
		t.Fatalf("%s: error %v, want %s; body %s", what, m["error"], errorCode[0], r.body)
	}
	return m
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// setupBilling waits for an admin token, then creates tenant "acme" with client "billing" (scope
// orders.read) and a secret through the admin API. The suite's later requests carry the revision of these
// writes, so the token service knows the secret when they reach it.
func setupBilling(t testing.TB, s *suite, within time.Duration) (admin, tenantID, secret string) {
	t.Helper()
	eventually(t, within, "admin token", func() bool {
		r := s.form("/connect/token", "grant_type=client_credentials&scope=adminapi", "admin", bootstrapSecret)
		if r.status == 200 {
			admin = r.json(t)["access_token"].(string)
		}
		return r.status == 200
	})
	tenantID = expect(t, "tenant", s.call("POST", "/api/adminapi2/v1/tenants/", admin, map[string]any{"code": "acme"}), 201)["tenantId"].(string)
	expect(t, "client", s.call("POST", "/api/adminapi2/v1/tenants/"+tenantID+"/clients/", admin, map[string]any{
		"clientId": "billing", "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read"},
	}), 201)
	secret = expect(t, "secret", s.call("POST", "/api/adminapi2/v1/tenants/"+tenantID+"/clients/billing/secrets/", admin, map[string]any{}), 201)["value"].(string)
	return admin, tenantID, secret
}
