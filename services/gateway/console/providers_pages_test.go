package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// providerFake is a hand-written provider service (and an empty registry) for the providers and connectors
// pages: it records the documents loaded and answers connectors of two tenants.
type providerFake struct {
	mu         sync.Mutex
	docs       [][]byte
	refuse     error
	connectors []*providerv1.Connector
	deleted    []string
}

func (p *providerFake) Invoke(ctx context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("authorization")) != 1 || md.Get("authorization")[0] != "Bearer at-1" {
		return status.Error(codes.Unauthenticated, "no token")
	}
	var resp proto.Message
	switch r := args.(type) {
	case *providerv1.LoadOAuthConfigurationRequest:
		p.docs = append(p.docs, r.GetDocument())
		if p.refuse != nil {
			return p.refuse
		}
		resp = &providerv1.LoadOAuthConfigurationResponse{Items: []*providerv1.LoadedProvider{
			{ConnectorType: "google_gmail", OauthProvider: "Gmail-1", Action: "created"},
			{ConnectorType: "slack", OauthProvider: "Slack", Action: "unchanged"}}}
	case *providerv1.GetOAuthConfigurationRequest:
		resp = &providerv1.GetOAuthConfigurationResponse{Items: []*providerv1.OAuthProvider{{ConnectorType: "slack", OauthProvider: "Slack", ConnectorCount: 1}}}
	case *providerv1.DeleteOAuthConfigurationRequest:
		return apierror.FailedPrecondition("provider slack/Slack is used by 1 connector(s)")
	case *providerv1.ListConnectorsRequest:
		resp = &providerv1.ListConnectorsResponse{Items: p.connectors}
	case *providerv1.DeleteConnectorRequest:
		p.deleted = append(p.deleted, r.GetConnectorId())
		resp = &providerv1.DeleteConnectorResponse{}
	default:
		return status.Error(codes.PermissionDenied, "not here: "+method)
	}
	proto.Merge(reply.(proto.Message), resp)
	return nil
}

func (*providerFake) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}

// providerConsole is a console over p, signed in as a system administrator of t-acme (upload limit 1 KiB).
func providerConsole(t *testing.T, p *providerFake) (*Console, []*http.Cookie) {
	t.Helper()
	c, err := New(Config{PublicURL: testIssuerQ, Secret: "test secret", Secure: true, Registry: p, Token: p, Provider: p, MaxUpload: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	s := Session{AccessToken: "at-1", Expiry: time.Now().Add(time.Hour), Subject: "u-1", TenantID: "t-acme", TenantCode: "acme", System: true, CSRF: "csrf-1"}
	sealed, err := c.sessions.seal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return c, []*http.Cookie{{Name: "__Host-" + sessionCookieName, Value: sealed}}
}

const testIssuerQ = "https://id.example"

func upload(t *testing.T, c *Console, cookies []*http.Cookie, csrf string, file []byte) *httptest.ResponseRecorder {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	fw, _ := mw.CreateFormFile("file", "oauth.json")
	fw.Write(file)
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, testIssuerQ+"/console/providers", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Origin", testIssuerQ)
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

func TestProviderUploadIsTheDocumentAndResultIsPerEntry(t *testing.T) {
	p := &providerFake{}
	c, cookies := providerConsole(t, p)
	file := []byte(`{"google_gmail": {"Gmail-1": {"CLIENT_ID": "a", "CLIENT_SECRET": "b"}}, "slack": {"Slack": {}}}`)
	w := upload(t, c, cookies, "csrf-1", file)
	if w.Code != http.StatusOK || len(p.docs) != 1 || !bytes.Equal(p.docs[0], file) {
		t.Fatalf("accepted load: %d, documents %q", w.Code, p.docs)
	}
	for _, want := range []string{`id="load-accepted"`, `data-entry="google_gmail/Gmail-1"`, "created", "unchanged", "1 stored"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Fatalf("accepted page lacks %q:\n%s", want, w.Body.String())
		}
	}
	if strings.Contains(w.Body.String(), `"b"`) || strings.Contains(w.Body.String(), "CLIENT_SECRET") {
		t.Fatalf("the page shows the file's secret")
	}

	p.refuse = &apierror.Violations{Summary: "invalid OAuth configuration, nothing was stored", Field: "oauthConfigurations", Fields: []apierror.FieldError{
		{Field: "oauthConfigurations.slack.Slack.CLIENT_ID", Reason: "slack/Slack: CLIENT_ID is required"},
		{Field: "oauthConfigurations.slack.Slack.CLIENT_SECRET", Reason: "slack/Slack: CLIENT_SECRET is required"}}}
	w = upload(t, c, cookies, "csrf-1", file)
	body := w.Body.String()
	if w.Code != http.StatusBadRequest {
		t.Fatalf("refused load answered %d", w.Code)
	}
	for _, want := range []string{`id="load-refused"`, "1 of 2 entries", "slack/Slack: CLIENT_ID is required", "slack/Slack: CLIENT_SECRET is required", "valid, not stored", "Nothing was stored"} {
		if !strings.Contains(body, want) {
			t.Fatalf("refused page lacks %q:\n%s", want, body)
		}
	}

	// Over the limit: 413, nothing sent to the API. Without the CSRF token: refused, nothing sent.
	n := len(p.docs)
	if w := upload(t, c, cookies, "csrf-1", bytes.Repeat([]byte(" "), 2<<10)); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a file over the limit answered %d", w.Code)
	}
	if w := upload(t, c, cookies, "wrong", file); w.Code != http.StatusForbidden {
		t.Fatalf("a form without the CSRF token answered %d", w.Code)
	}
	if w := upload(t, c, cookies, "csrf-1", []byte("  \n")); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `id="e-file"`) {
		t.Fatalf("an empty file answered %d", w.Code)
	}
	if len(p.docs) != n {
		t.Fatalf("refused uploads reached the API")
	}
}

func TestConnectorsNarrowAndPage(t *testing.T) {
	p := &providerFake{}
	for i := range 130 {
		tenant, owner := "t-acme", "u-alice"
		if i%2 == 1 {
			owner = "client:flow"
		}
		if i%10 == 9 {
			tenant, owner = "t-other", "u-zed"
		}
		p.connectors = append(p.connectors, &providerv1.Connector{ConnectorId: fmt.Sprintf("c-%03d", i), ConnectorType: "slack", OauthProvider: "Slack",
			Status: "active", Owner: owner, TenantId: tenant, Kind: "session"})
	}
	c, cookies := providerConsole(t, p)
	get := func(target string) string {
		r := httptest.NewRequest(http.MethodGet, testIssuerQ+target, nil)
		for _, ck := range cookies {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", target, w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	rows := func(body string) int { return strings.Count(body, `class="connector-row"`) }
	// The own tenant's (117 of 130): a page of DefaultPageSize, then more.
	first := get("/console/connectors")
	if rows(first) != DefaultPageSize || !strings.Contains(first, `id="next-page"`) || strings.Contains(first, "u-zed") {
		t.Fatalf("first page: %d rows", rows(first))
	}
	if body := get("/console/connectors?tenant=t-acme&user=u-alice"); rows(body) != DefaultPageSize || strings.Contains(body, "client flow") {
		t.Fatalf("alice's connectors: %d rows", rows(body))
	}
	if body := get("/console/connectors?tenant=all&q=c-00"); rows(body) != 10 {
		t.Fatalf("filtered across tenants: %d rows", rows(body))
	}
	if body := get("/console/connectors?tenant=t-other"); rows(body) != 13 || !strings.Contains(body, "u-zed") {
		t.Fatalf("other tenant: %d rows", rows(body))
	}
}

func TestProviderDeleteRefusedShowsWhy(t *testing.T) {
	c, cookies := providerConsole(t, &providerFake{})
	r := httptest.NewRequest(http.MethodPost, testIssuerQ+"/console/providers/slack/Slack/delete", strings.NewReader("csrf=csrf-1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", testIssuerQ)
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest && w.Code != http.StatusConflict && w.Code != http.StatusPreconditionFailed {
		t.Fatalf("refused delete answered %d", w.Code)
	}
	if body := w.Body.String(); !strings.Contains(body, `id="problem"`) || !strings.Contains(body, "used by 1 connector") || !strings.Contains(body, `id="settings"`) {
		t.Fatalf("refused delete page:\n%s", body)
	}
}
