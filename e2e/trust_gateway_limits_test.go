package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingReader yields n bytes of JSON-ish filler lazily and counts what was read from it.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	r.left -= n
	r.read.Add(n)
	return int(n), nil
}

// restErrJSON is the REST error shape.
type restErrJSON struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func decodeRESTErr(t testing.TB, what string, b []byte) restErrJSON {
	t.Helper()
	var e restErrJSON
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("%s: body %q is not the error object: %v", what, b, err)
	}
	return e
}

// TestTrustBodyLimits: every JSON body is bounded (1 MiB by default, its own flag for the
// provider configuration load): a larger one is answered 413 in the usual error shape without being read
// into memory, whether its length is declared or not; a large body of unknown length is read only after
// its bearer token checked out.
func TestTrustBodyLimits(t *testing.T) {
	s := startSuiteWith(t, io.Discard, "--max-provider-config-bytes", "4194304")
	admin := clientToken(t, s, "admin", bootstrapSecret, "adminapi")
	// post sends the request over a raw connection, writing the body in the background: the server may
	// answer (and close) before the body is sent, which a client must read rather than fail on the write.
	post := func(path, token string, body io.Reader, length int64) response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length // -1: chunked, length unknown to the server
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go req.Write(c) // its error (the server closed) does not matter
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	tenants := "/api/adminapi2/v1/tenants/"

	// 2 MiB with a declared length: 413 before anything is read, with or without a token.
	big := bytes.Repeat([]byte(" "), 2<<20)
	for _, tok := range []string{admin, ""} {
		r := post(tenants, tok, bytes.NewReader(big), int64(len(big)))
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("2 MiB body (token %v): status %d, want 413; %s", tok != "", r.status, r.body)
		}
		decodeRESTErr(t, "413", r.body)
	}

	// 64 MiB streamed without a length by an authenticated caller: cut at the limit, 413, and the process
	// allocates far less than the body.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stream := &countingReader{left: 64 << 20}
	r := post(tenants, admin, stream, -1)
	runtime.ReadMemStats(&after)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("64 MiB streamed body: status %d, want 413; %s", r.status, r.body)
	}
	decodeRESTErr(t, "streamed 413", r.body)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("64 MiB streamed body: %d MiB sent before the answer, %d MiB allocated by the process", stream.read.Load()>>20, allocated>>20)
	if allocated > 32<<20 {
		t.Errorf("a refused 64 MiB body allocated %d MiB", allocated>>20)
	}

	// The same without a token: refused before the body is read.
	anon := &countingReader{left: 64 << 20}
	r = post(tenants, "", anon, -1)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous streamed body: status %d, want 401; %s", r.status, r.body)
	}
	decodeRESTErr(t, "401", r.body)
	if got := anon.read.Load(); got > 8<<20 {
		t.Errorf("the gateway read %d MiB of an anonymous body", got>>20)
	}

	// Small bodies are unaffected; the provider configuration load has its own, larger, limit.
	expect(t, "small body", s.call("POST", tenants, admin, map[string]any{"code": "small"}), 201)
	cfg := `{"oauthConfigurations":{"github":{"p":{"CLIENT_ID":"x","CLIENT_SECRET":"y","PAD":"` + strings.Repeat("z", 1536<<10) + `"}}}}`
	r = post("/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration", admin, strings.NewReader(cfg), int64(len(cfg)))
	if r.status == http.StatusRequestEntityTooLarge || r.status == http.StatusUnauthorized {
		t.Fatalf("1.5 MiB provider configuration under a 4 MiB limit: status %d; %s", r.status, r.body)
	}
}

// TestTrustSlowClientsAreCut: connections that trickle a body are cut after the read
// timeout, connections beyond the cap are closed at once, and /healthz and /readyz answer while the cap is
// held by slow clients.
func TestTrustSlowClientsAreCut(t *testing.T) {
	const maxConns, reserve = 16, 2 // reserve: max(16/8, 2)
	s := startSuiteWith(t, io.Discard, "--max-connections", fmt.Sprint(maxConns), "--http-read-timeout", "1s")
	addr := strings.TrimPrefix(s.base, "http://")
	open := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// Headers complete, then 1 byte of a 1000-byte body, and nothing more: a trickle slower than any
		// timeout.
		fmt.Fprintf(c, "POST /api/adminapi2/v1/tenants/ HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr)
		return c
	}
	// ended waits (bounded) for the server to answer or close c, and says how long it took.
	ended := func(c net.Conn, within time.Duration) (time.Duration, bool) {
		start := time.Now()
		c.SetReadDeadline(start.Add(within))
		_, err := io.ReadAll(bufio.NewReader(c))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return time.Since(start), false
		}
		return time.Since(start), true
	}

	slow := make([]net.Conn, 0, maxConns-reserve)
	for range maxConns - reserve {
		slow = append(slow, open())
	}
	// The reserved connections and those beyond the cap are answered (503) or closed at once.
	for i := range 2 * reserve {
		if d, ok := ended(open(), 5*time.Second); !ok {
			t.Fatalf("connection %d over the ordinary share still open after %s", i, d)
		}
	}
	// Health and readiness answer while the slow clients hold every ordinary connection.
	for _, path := range []string{"/healthz", "/readyz"} {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := client.Get(s.base + path)
		if err != nil {
			t.Fatalf("%s while slow clients hold the connections: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	// Every slow client is cut after the read timeout (1 s), not held forever.
	for i, c := range slow {
		if d, ok := ended(c, 10*time.Second); !ok {
			t.Fatalf("slow connection %d still open after %s", i, d)
		}
	}
}

// TestTrustFormBodyLimit: the form-encoded OAuth endpoints and sign-in forms answer 413,
// in their usual error shape, to a body over their 64 KiB bound.
func TestTrustFormBodyLimit(t *testing.T) {
	s := startSuite(t)
	big := "grant_type=client_credentials&pad=" + strings.Repeat("x", 100<<10)
	r := s.form("/connect/token", big, "admin", bootstrapSecret)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("/connect/token with a 100 KiB form: status %d, want 413; %s", r.status, r.body)
	}
	if e := decodeRESTErr(t, "token 413", r.body); e.Error != "invalid_request" {
		t.Fatalf("error %q, want invalid_request", e.Error)
	}
	if r := s.form("/connect/login", big, "", ""); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("/connect/login with a 100 KiB form: status %d, want 413", r.status)
	}
}
