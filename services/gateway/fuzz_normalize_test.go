package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/access"
)

// mdRecorder is a grpc.ClientConnInterface that records the outgoing metadata of every call and answers
// UNAUTHENTICATED, so the gateway's real query→header→metadata pipeline can be observed without a service.
type mdRecorder struct {
	mu    sync.Mutex
	calls []metadata.MD
}

func (m *mdRecorder) Invoke(ctx context.Context, _ string, _, _ any, _ ...grpc.CallOption) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	m.mu.Lock()
	m.calls = append(m.calls, md.Copy())
	m.mu.Unlock()
	return status.Error(codes.Unauthenticated, "recorded")
}

func (m *mdRecorder) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams")
}

func (m *mdRecorder) take() []metadata.MD {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return c
}

// first returns the first value of key in md, and whether there is one.
func first(md metadata.MD, key string) (string, bool) {
	if v := md.Get(key); len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// FuzzNormalize drives the gateway's ServeHTTP with arbitrary queries on the simple token API's check route
// (docs/reference.md#bearer-tokens for access_token, docs/reference.md#sudo) and checks, against net/url as the reference parser:
//   - a query the gateway forwards is valid form encoding of UTF-8 (anything else answers 400);
//   - the service sees "authorization: Bearer <access_token>" exactly when the query carries a token and
//     the request had no Authorization header, and an explicit header is never replaced;
//   - the service sees the sudo, tenant id and tenant code metadata exactly as the query spelled them
//     whenever the query asks for sudo (docs/reference.md#sudo: sudo never silently falls back to the caller's identity),
//     and no sudo metadata at all when it does not;
//   - a query that is valid UTF-8 form encoding is never refused (binary metadata carries any UTF-8), and a
//     refused one reaches no service.
//
// It also checks normalize's path rules on arbitrary paths: v2 is served as v1, no trailing slash but "/",
// and normalizing twice changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, s := range []struct{ path, query, auth string }{
		{"/api/adminapi2/v2/tenants/t1/clients/", "", ""},
		{"/api/adminapi2/v1/tenants/", "access_token=abc", ""},
		{"/api/oauth2/server/tokens/check", "token=x&sudo=uid:7&tenantId=acme", ""},
		{"/api/oauth2/server/tokens/check", "token=x&sudo=loginName:admin&tenantCode=default", "Bearer h"},
		{"/api/oauth2/server/tokens/check", "token=x&sudo=email:a%40b.example&tenantId=t&tenantCode=c", ""},
		{"/api/oauth2/server/tokens/check", "token=x&sudo=username:bob&sudo=uid:1", ""},
		{"/api/oauth2/server/tokens/check", "access_token=a&access_token=b", "bearer  q "},
		{"/api/oauth2/server/tokens/check", "tenantId=t&tenantCode=c", ""},
		{"/api/oauth2/server/tokens/check", "sudo=loginName:Jos%C3%A9", ""},
		{"/api/oauth2/server/tokens/check", "access_token=a%0Ab", ""},
		{"/api/oauth2/server/tokens/check", "sudo=%FF", ""},
		{"/api/oauth2/server/tokens/check", "sudo=a;b", ""},
		{"/", "%zz", ""},
		{"//", "", ""},
		{"/api/adminapi2/v2/", "", ""},
	} {
		f.Add(s.path, s.query, s.auth)
	}
	rec := &mdRecorder{}
	g, err := New(context.Background(), Backends{Registry: rec, Token: rec}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, rawQuery, auth string) {
		checkPathRules(t, path)

		r := httptest.NewRequest(http.MethodGet, "/api/oauth2/server/tokens/check", nil)
		r.URL.RawQuery = rawQuery
		r.RequestURI = ""
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		rec.take()
		g.ServeHTTP(w, r)
		calls := rec.take()

		q, perr := url.ParseQuery(rawQuery)
		if rawQuery != "" && (perr != nil || !validUTF8(q)) {
			if w.Code != http.StatusBadRequest || len(calls) != 0 {
				t.Fatalf("query %q (%v) not refused: status %d, %d calls", rawQuery, perr, w.Code, len(calls))
			}
			return
		}
		if len(calls) == 0 {
			// Binary metadata carries any UTF-8, so a query of the route's own parameters, each given once, is
			// never refused; anything else may be refused by the route's decoding, with a client error.
			plain := true
			for k, vs := range q {
				switch k {
				case "token", "access_token", "sudo", "tenantId", "tenantCode":
					plain = plain && len(vs) == 1
				default:
					plain = false
				}
			}
			if plain || w.Code != http.StatusBadRequest {
				t.Fatalf("query %q reached no service and answered %d", rawQuery, w.Code)
			}
			return
		}
		if len(calls) != 1 {
			t.Fatalf("one request made %d calls", len(calls))
		}
		md := calls[0]

		gotAuth, hasAuth := first(md, access.MDAuthorization)
		tok := q.Get("access_token")
		switch {
		case auth != "":
			// An explicit header wins; grpc-gateway drops values gRPC cannot carry, which fails closed.
			if hasAuth && gotAuth != auth {
				t.Fatalf("header %q forwarded as %q (query %q)", auth, gotAuth, rawQuery)
			}
		case tok != "":
			if hasAuth && gotAuth != "Bearer "+tok {
				t.Fatalf("access_token %q forwarded as %q", tok, gotAuth)
			}
		default:
			if hasAuth {
				t.Fatalf("no credential sent, %q forwarded", gotAuth)
			}
		}

		sudo := q.Get("sudo")
		// What the services read (bearer.SudoFromContext): the binary form of each key wins over the text one.
		sudoMD := func(key string) (string, bool) {
			if v, ok := first(md, key+access.BinarySuffix); ok {
				return v, true
			}
			return first(md, key)
		}
		gotSudo, hasSudo := sudoMD(access.MDSudo)
		gotTID, hasTID := sudoMD(access.MDSudoTenantID)
		gotTCode, hasTCode := sudoMD(access.MDSudoTenantCode)
		if sudo == "" {
			if hasSudo || hasTID || hasTCode {
				t.Fatalf("query %q without sudo forwarded sudo metadata %v", rawQuery, md)
			}
			return
		}
		if gotSudo != sudo || gotTID != q.Get("tenantId") || gotTCode != q.Get("tenantCode") {
			t.Fatalf("query %q asks sudo=%q tenantId=%q tenantCode=%q; service saw sudo=%q (present %v) tenantId=%q tenantCode=%q",
				rawQuery, sudo, q.Get("tenantId"), q.Get("tenantCode"), gotSudo, hasSudo, gotTID, gotTCode)
		}
	})
}

// checkPathRules checks normalize on an arbitrary path: the admin API's v2 is served as v1, no trailing
// slash is left but on "/", nothing else about the path changes, and normalizing is idempotent.
func checkPathRules(t *testing.T, path string) {
	t.Helper()
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path, RawPath: path}, Header: http.Header{}}
	normalize(r)
	got := r.URL.Path
	want := path
	if strings.HasPrefix(want, adminV2) {
		want = adminV1 + want[len(adminV2):]
	}
	if got != want && strings.TrimRight(got, "/") != strings.TrimRight(want, "/") {
		t.Fatalf("normalize(%q) = %q: changed more than the version and trailing slashes", path, got)
	}
	if len(got) > 1 && strings.HasSuffix(got, "/") {
		t.Fatalf("normalize(%q) = %q keeps a trailing slash", path, got)
	}
	if strings.HasPrefix(path, adminV2) && !strings.HasPrefix(got+"/", adminV1) {
		t.Fatalf("normalize(%q) = %q: v2 not served as v1", path, got)
	}
	if got != path && r.URL.RawPath != "" {
		t.Fatalf("normalize(%q) rewrote the path but kept RawPath %q", path, r.URL.RawPath)
	}
	again := &http.Request{URL: &url.URL{Path: got}, Header: http.Header{}}
	normalize(again)
	if again.URL.Path != got {
		t.Fatalf("normalize is not idempotent: %q → %q → %q", path, got, again.URL.Path)
	}
	if len(r.Header) != 0 {
		t.Fatalf("a path alone set headers %v", r.Header)
	}
}
