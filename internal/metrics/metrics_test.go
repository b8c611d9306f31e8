package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
)

// scrape GETs m's /metrics and returns every sample by its series, written as the text format writes it
// (labels sorted by name), e.g. `authsuite_errors_total{code="not_found"}`.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// expect checks samples against want; a negative want means "present and > 0".
func expect(t *testing.T, samples map[string]float64, want map[string]float64) {
	t.Helper()
	for series, w := range want {
		got, ok := samples[series]
		switch {
		case !ok:
			t.Errorf("missing series %s", series)
		case w < 0 && got <= 0:
			t.Errorf("%s = %v, want > 0", series, got)
		case w >= 0 && got != w:
			t.Errorf("%s = %v, want %v", series, got, w)
		}
	}
}

func absent(t *testing.T, samples map[string]float64, prefix string) {
	t.Helper()
	for s := range samples {
		if strings.HasPrefix(s, prefix) {
			t.Errorf("unexpected series %s", s)
		}
	}
}

// tokenRequest is a request offering a grant type, as the generated TokenRequest does.
type tokenRequest struct{ *wrapperspb.StringValue }

func (r tokenRequest) GetGrantType() string { return r.GetValue() }

// fakeToken serves the token services' full method names: grant type "bad" fails with invalid_grant.
func fakeToken(_ context.Context, req any) (any, error) {
	if r, ok := req.(tokenRequest); ok && r.GetGrantType() == "bad" {
		return nil, apierror.OAuth(apierror.InvalidGrant, "no such code")
	}
	return &emptypb.Empty{}, nil
}

// unary is a hand-written method of service that decodes a StringValue, wraps it and runs h.
func unary(service, method string, wrap func(*wrapperspb.StringValue) any, h grpc.UnaryHandler) grpc.MethodDesc {
	full := "/" + service + "/" + method
	return grpc.MethodDesc{
		MethodName: method,
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			if ic == nil {
				return h(ctx, wrap(in))
			}
			return ic(ctx, wrap(in), &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
		},
	}
}

func asToken(v *wrapperspb.StringValue) any { return tokenRequest{v} }
func plain(v *wrapperspb.StringValue) any   { return v }

// fakeServices stands in for the token services (under their real names) and adds a server stream that
// sends as many messages as its first request asks and fails when asked for none.
var fakeServices = []grpc.ServiceDesc{
	{
		ServiceName: "authsuite.token.v1.OAuthService",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{unary("authsuite.token.v1.OAuthService", "Token", asToken, fakeToken)},
	},
	{
		ServiceName: "authsuite.token.v1.SimpleTokenService",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{unary("authsuite.token.v1.SimpleTokenService", "GetToken", plain, fakeToken)},
	},
	{
		ServiceName: "authsuite.test.v1.Stream",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{
			StreamName:    "Count",
			ServerStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				in := new(wrapperspb.Int32Value)
				if err := ss.RecvMsg(in); err != nil {
					return err
				}
				if in.GetValue() == 0 {
					return apierror.NotFound("nothing to count")
				}
				for i := range in.GetValue() {
					if err := ss.SendMsg(wrapperspb.Int32(i)); err != nil {
						return err
					}
				}
				return nil
			},
		}},
	},
}

// startServer serves the health service and fakeServices on 127.0.0.1:0 with m's interceptors outside
// apierror's, as the services chain them, and returns a client connection.
func startServer(t *testing.T, m *Metrics) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor(), apistatus.UnaryServerInterceptor(nil)),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor(), apistatus.StreamServerInterceptor(nil)),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	for i := range fakeServices {
		srv.RegisterService(&fakeServices[i], struct{}{})
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func TestGRPCInterceptors(t *testing.T) {
	m := New("token")
	cc := startServer(t, m)
	ctx := t.Context()
	hc := healthpb.NewHealthClient(cc)

	for range 3 {
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("Check(nope): %v, want NotFound", err)
	}

	invoke := func(method, arg string) error {
		return cc.Invoke(ctx, method, wrapperspb.String(arg), new(emptypb.Empty))
	}
	for _, grant := range []string{"client_credentials", "client_credentials", "authorization_code"} {
		if err := invoke(oauthTokenMethod, grant); err != nil {
			t.Fatalf("Token(%s): %v", grant, err)
		}
	}
	err := invoke(oauthTokenMethod, "bad")
	if info := apistatus.FromStatus(err); info.OAuthCode != apierror.InvalidGrant {
		t.Fatalf("Token(bad): %v, want invalid_grant", err)
	}
	if err := invoke(simpleTokenMethod, ""); err != nil {
		t.Fatalf("GetToken: %v", err)
	}

	count := func(n int32) error {
		st, err := cc.NewStream(ctx, &fakeServices[2].Streams[0], "/authsuite.test.v1.Stream/Count")
		if err != nil {
			return err
		}
		if err := st.SendMsg(wrapperspb.Int32(n)); err != nil {
			return err
		}
		if err := st.CloseSend(); err != nil {
			return err
		}
		for got := int32(0); ; got++ {
			if err := st.RecvMsg(new(wrapperspb.Int32Value)); err != nil {
				if err == io.EOF && got != n {
					t.Errorf("stream sent %d messages, want %d", got, n)
				}
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	if err := count(5); err != nil {
		t.Fatalf("Count(5): %v", err)
	}
	if err := count(0); status.Code(err) != codes.NotFound {
		t.Fatalf("Count(0): %v, want NotFound", err)
	}

	// The client sees each status only after the server's interceptors returned, so no waiting is needed.
	s := scrape(t, m)
	expect(t, s, map[string]float64{
		`authsuite_grpc_requests_total{code="OK",method="/grpc.health.v1.Health/Check"}`:                        3,
		`authsuite_grpc_requests_total{code="NotFound",method="/grpc.health.v1.Health/Check"}`:                  1,
		`authsuite_grpc_request_duration_seconds_count{method="/grpc.health.v1.Health/Check"}`:                  4,
		`authsuite_grpc_requests_total{code="OK",method="/authsuite.token.v1.OAuthService/Token"}`:              3,
		`authsuite_grpc_requests_total{code="InvalidArgument",method="/authsuite.token.v1.OAuthService/Token"}`: 1,
		`authsuite_grpc_requests_total{code="OK",method="/authsuite.token.v1.SimpleTokenService/GetToken"}`:     1,
		`authsuite_grpc_request_duration_seconds_count{method="/authsuite.token.v1.OAuthService/Token"}`:        4,
		`authsuite_grpc_requests_total{code="OK",method="/authsuite.test.v1.Stream/Count"}`:                     1,
		`authsuite_grpc_requests_total{code="NotFound",method="/authsuite.test.v1.Stream/Count"}`:               1,
		`authsuite_grpc_request_duration_seconds_count{method="/authsuite.test.v1.Stream/Count"}`:               2,
		`authsuite_tokens_issued_total{grant_type="client_credentials"}`:                                        3,
		`authsuite_tokens_issued_total{grant_type="authorization_code"}`:                                        1,
		`authsuite_errors_total{code="invalid_grant"}`:                                                          1,
		`authsuite_errors_total{code="not_found"}`:                                                              2,
	})
	if _, ok := s[`authsuite_tokens_issued_total{grant_type="bad"}`]; ok {
		t.Error("a failed token request counted as issued")
	}
}

// TestUnaryInterceptorClassifiesDomainErrors calls the interceptor directly, inside apierror's mapping:
// unmapped domain errors are labelled as the client will see them.
func TestUnaryInterceptorClassifiesDomainErrors(t *testing.T) {
	m := New("registry")
	ic := m.UnaryServerInterceptor()
	tests := []struct {
		err       error
		grpcCode  string
		errorCode string
	}{
		{apierror.NotFound("tenant %q", "x"), "NotFound", "not_found"},
		{apierror.ErrAlreadyExists, "AlreadyExists", "already_exists"},
		{apierror.Invalid("name", "empty"), "InvalidArgument", "invalid_argument"},
		{apierror.OAuth(apierror.InvalidClient, "bad secret"), "Unauthenticated", "invalid_client"},
		{context.DeadlineExceeded, "DeadlineExceeded", "deadline_exceeded"},
		{errors.New("disk on fire"), "Internal", "internal"},
		{status.Error(codes.ResourceExhausted, "slow down"), "ResourceExhausted", "resource_exhausted"},
		{status.Error(codes.Code(99), "not a code"), "Unknown", "unknown"},
	}
	for _, tt := range tests {
		method := "/authsuite.test.v1.Errors/" + tt.grpcCode
		_, err := ic(t.Context(), tokenRequest{wrapperspb.String("password")}, &grpc.UnaryServerInfo{FullMethod: method},
			func(context.Context, any) (any, error) { return nil, tt.err })
		if err != tt.err {
			t.Errorf("%v: interceptor returned %v, want the handler's error unchanged", tt.err, err)
		}
		if got := testutil.ToFloat64(m.grpcRequests.WithLabelValues(method, tt.grpcCode)); got != 1 {
			t.Errorf("%v: requests{%s} = %v, want 1", tt.err, tt.grpcCode, got)
		}
		if got := testutil.ToFloat64(m.errors.WithLabelValues(tt.errorCode)); got < 1 {
			t.Errorf("%v: errors{%s} = %v, want ≥ 1", tt.err, tt.errorCode, got)
		}
	}
	if n := testutil.CollectAndCount(m.tokensIssued); n != 0 {
		t.Errorf("%d token series after failures only", n)
	}
}

func TestHTTPMiddleware(t *testing.T) {
	m := New("gateway")
	mux := http.NewServeMux()
	mux.HandleFunc("/api/adminapi2/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		io.WriteString(w, "{}")
	})
	mux.HandleFunc("/connect/token", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // informational: not the recorded status
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
	})
	mux.HandleFunc("/api/provider/", func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("the wrapped ResponseWriter is not an http.Flusher")
			return
		}
		io.WriteString(w, "part 1\n")
		f.Flush()
		io.WriteString(w, "part 2\n")
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush through the wrapper: %v", err)
		}
	})
	mux.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(m.HTTPMiddleware(mux))
	t.Cleanup(srv.Close)

	do := func(method, path string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const clients = "/api/adminapi2/v1/tenants/{tenantId}/clients"
	for _, r := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/api/adminapi2/v1/tenants/t1/clients", 201},
		{"POST", "/api/adminapi2/v2/tenants/t2/clients/", 201},
		{"GET", "/api/adminapi2/v1/tenants/t%2F3/clients", 200}, // %2F stays inside the id
		{"GET", "/api/adminapi2/v1/tenants/t1/clients/c1/secrets/s1", 200},
		{"POST", "/connect/token", 401},
		{"GET", "/api/provider/v1/connectors/k1/token", 200},
		{"GET", "/healthz", 200},
		{"GET", "/wp-login.php", 404},
		{"GET", "/user/12345", 404},
		{"BREW", "/connect/token", 401},
	} {
		if got, body := do(r.method, r.path); got != r.status {
			t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, got, body, r.status)
		}
	}
	if _, body := do("GET", "/api/provider/v1/connectors/k1/token"); body != "part 1\npart 2\n" {
		t.Errorf("flushed body %q", body)
	}
	if got, _ := do("POST", "/readyz"); got != 0 { // POST: the client must not retry it

		t.Errorf("panicking handler answered %d", got)
	}

	s := scrape(t, m)
	expect(t, s, map[string]float64{
		`authsuite_http_requests_total{method="POST",route="` + clients + `",status="201"}`:                                                           2,
		`authsuite_http_requests_total{method="GET",route="` + clients + `",status="200"}`:                                                            1,
		`authsuite_http_requests_total{method="GET",route="/api/adminapi2/v1/tenants/{tenantId}/clients/{clientId}/secrets/{secretId}",status="200"}`: 1,
		`authsuite_http_requests_total{method="POST",route="/connect/token",status="401"}`:                                                            1,
		`authsuite_http_requests_total{method="other",route="/connect/token",status="401"}`:                                                           1,
		`authsuite_http_requests_total{method="GET",route="/api/provider/v1/connectors/{connectorId}/token",status="200"}`:                            2,
		`authsuite_http_requests_total{method="GET",route="/healthz",status="200"}`:                                                                   1,
		`authsuite_http_requests_total{method="GET",route="other",status="404"}`:                                                                      2,
		`authsuite_http_requests_total{method="POST",route="/readyz",status="500"}`:                                                                   1,
		`authsuite_http_request_duration_seconds_count{method="POST",route="` + clients + `"}`:                                                        2,
		`authsuite_http_request_duration_seconds_count{method="GET",route="other"}`:                                                                   2,
	})
	for series := range s {
		if strings.Contains(series, "t1") || strings.Contains(series, "12345") || strings.Contains(series, "BREW") {
			t.Errorf("raw request data in a label: %s", series)
		}
	}
}

func TestWatchBolt(t *testing.T) {
	m := New("token")
	db, err := bolt.Open(filepath.Join(t.TempDir(), "token.db"), 0o600, &bolt.Options{Timeout: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i := range 20 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("tokens"))
			if err != nil {
				return err
			}
			return b.Put([]byte(strconv.Itoa(i)), make([]byte, 3000))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("tokens")) }); err != nil {
		t.Fatal(err)
	}
	m.WatchBolt("token", db)

	rtx, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	s := scrape(t, m)
	rtx.Rollback()
	expect(t, s, map[string]float64{
		`authsuite_store_write_seconds_total{store="token"}`:    -1,
		`authsuite_store_spill_seconds_total{store="token"}`:    -1,
		`authsuite_store_pages_written_total{store="token"}`:    -1,
		`authsuite_store_read_transactions_open{store="token"}`: 1,
		`authsuite_store_free_pages{store="token"}`:             -1,
	})
	if got := scrape(t, m)[`authsuite_store_read_transactions_open{store="token"}`]; got != 0 {
		t.Errorf("read transactions open after rollback = %v", got)
	}

	m.WatchBolt("token", nil)
	absent(t, scrape(t, m), "authsuite_store_")
}

func TestNewIsSelfContained(t *testing.T) {
	a, b := New("gateway"), New("token") // private registries: no duplicate-registration panic
	a.HTTPMiddleware(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))

	if got := scrape(t, b); got[`authsuite_http_requests_total{method="GET",route="other",status="404"}`] != 0 {
		t.Error("one Metrics value sees another's requests")
	}
	sa := scrape(t, a)
	expect(t, sa, map[string]float64{
		`authsuite_build_info{role="gateway",version="dev"}`:                     1,
		`authsuite_http_requests_total{method="GET",route="other",status="404"}`: 1,
		`go_goroutines`: -1,
	})
	if _, ok := sa[`process_cpu_seconds_total`]; !ok {
		t.Log("no process collector samples (unsupported platform?)")
	}

	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "authsuite_") {
			t.Errorf("%s registered in the global registry", mf.GetName())
		}
	}
}

func TestMetricNamesLint(t *testing.T) {
	m := New("all")
	m.UnaryServerInterceptor()(t.Context(), nil, &grpc.UnaryServerInfo{FullMethod: simpleTokenMethod},
		func(context.Context, any) (any, error) { return nil, apierror.ErrNotFound })
	m.HTTPMiddleware(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "authsuite_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
