package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/provider"
)

// fakeDirectory knows the users of the token table under login names that differ from their ids, and
// tenants by code ("t2" has code "two").
type fakeDirectory map[string]access.User // user id → user

var directory = fakeDirectory{
	"alice": {ID: "alice", TenantID: access.SystemTenant, LoginName: "alice.login"},
	"bob":   {ID: "bob", TenantID: access.SystemTenant, LoginName: "bob.login"},
	"carol": {ID: "carol", TenantID: "t2", LoginName: "carol.login"},
}

func (fakeDirectory) Tenant(_ context.Context, ref access.TenantRef) (access.Tenant, error) {
	switch {
	case ref.ID == access.SystemTenant || ref.Code == "default":
		return access.Tenant{ID: access.SystemTenant, Code: "default"}, nil
	case ref.ID == "t2" || ref.Code == "two":
		return access.Tenant{ID: "t2", Code: "two"}, nil
	}
	return access.Tenant{}, apierror.NotFound("tenant")
}

func (d fakeDirectory) User(_ context.Context, tenantID string, sel access.Selector) (access.User, error) {
	for _, u := range d {
		if u.TenantID != tenantID {
			continue
		}
		if sel.Kind == access.ByUID && u.ID == sel.Value || sel.Kind == access.ByLoginName && u.LoginName == sel.Value {
			return u, nil
		}
	}
	return access.User{}, apierror.NotFound("user")
}

// errorBody is the gateway's JSON error shape.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Field            string `json:"field"`
}

type loadBody struct {
	Items []struct {
		ConnectorType string `json:"connectorType"`
		OauthProvider string `json:"oauthProvider"`
		Action        string `json:"action"`
	} `json:"items"`
}

func decode[T any](t testing.TB, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body %s does not decode into %T: %v", body, v, err)
	}
	return v
}

// TestLoadBareShape: ThingWorx Flow's file as printed (the bare {<connector type>: ...} object) loads over REST
// exactly like the wrapped one; before, protojson refused it ("unknown field").
func TestLoadBareShape(t *testing.T) {
	e := newEnv(t)
	bare := `{
"google_gmail": {
"Gmail-1": {
"CLIENT_ID": "id-1",
"CLIENT_SECRET": "s-1"
},
"Gmail-2": {
"CLIENT_ID": "id-2",
"CLIENT_SECRET": "s-2"
}
}
}`
	code, b := e.rest(t, "POST", loadPath, "sys-admin", bare)
	if code != 200 {
		t.Fatalf("bare load = %d %s", code, b)
	}
	got := decode[loadBody](t, b)
	if len(got.Items) != 2 || got.Items[0].OauthProvider != "Gmail-1" || got.Items[0].Action != "created" || got.Items[1].OauthProvider != "Gmail-2" {
		t.Fatalf("bare load items = %+v", got.Items)
	}
	// The same content wrapped is unchanged.
	code, b = e.rest(t, "POST", loadPath, "sys-admin", `{"oauthConfigurations": `+bare+`}`)
	if code != 200 {
		t.Fatalf("wrapped load = %d %s", code, b)
	}
	for _, it := range decode[loadBody](t, b).Items {
		if it.Action != "unchanged" {
			t.Fatalf("wrapped spelling of the same file changed %+v", it)
		}
	}
	// gRPC callers of the structured field keep working; giving both is refused.
	if _, err := e.config.LoadOAuthConfiguration(as("sys-admin"), &providerv1.LoadOAuthConfigurationRequest{Document: []byte(bare)}); err != nil {
		t.Fatalf("gRPC document load: %v", err)
	}
	resp, err := e.config.GetOAuthConfiguration(as("sys-admin"), &providerv1.GetOAuthConfigurationRequest{})
	if err != nil || len(resp.GetItems()) != 2 {
		t.Fatalf("providers after loads: %v %v", resp.GetItems(), err)
	}
}

// TestLoadSyntaxErrorPosition: a file that is not JSON is refused with the line and column of the error,
// and stores nothing.
func TestLoadSyntaxErrorPosition(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, body, want string }{
		// The seed's removal snippet prints two keys without a comma between them.
		{"missing comma", "{\"google_gmail\": {\n\"Gmail\": {\n\"CLIENT_ID\": \"<Client ID>\"\n\"CLIENT_SECRET\": \"<Secret>\"\n}\n}\n}", "line 4, column 1:"},
		{"trailing garbage", "{\"google_gmail\": {}}\n  x", "line 2, column 3:"},
		{"truncated", "{\"google_gmail\": {\n", "line 2, column 1:"},
		{"duplicate key", "{\"box\": {\"Box\": {\"CLIENT_ID\": \"a\", \"CLIENT_SECRET\": \"b\"}},\n \"box\": {}}", "line 2, column 2:"},
		{"wrapper and more", `{"oauthConfigurations": {}, "box": {}}`, "not both"},
	}
	for _, tc := range cases {
		code, b := e.rest(t, "POST", loadPath, "sys-admin", tc.body)
		if code != 400 {
			t.Fatalf("%s: %d %s", tc.name, code, b)
		}
		eb := decode[errorBody](t, b)
		if eb.Error != "invalid_request" && eb.Error != "invalid_argument" || !strings.Contains(eb.ErrorDescription, tc.want) {
			t.Errorf("%s: %+v, want a description containing %q", tc.name, eb, tc.want)
		}
	}
	resp, err := e.config.GetOAuthConfiguration(as("sys-admin"), &providerv1.GetOAuthConfigurationRequest{})
	if err != nil || len(resp.GetItems()) != 0 {
		t.Fatalf("providers after refused loads: %v %v", resp.GetItems(), err)
	}
	if _, err := e.config.LoadOAuthConfiguration(as("sys-admin"), &providerv1.LoadOAuthConfigurationRequest{Document: []byte(`{"box": {}}`), OauthConfigurations: &structpb.Struct{}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("document and oauthConfigurations together: %v", err)
	}
}

// TestDeleteOAuthTokensUserName: userName is the login name (uid: selects by id); an unknown user is 404
// and drops nothing. Before, it was compared with the user id, so a login name silently matched nothing.
func TestDeleteOAuthTokensUserName(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	a, _ := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	b, _ := e.authorize(t, "bob", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	drop := func(body string) (int, string) {
		return e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthTokens", "sys-admin", body)
	}
	for _, body := range []string{`{"oauthProvider": "OData", "userName": "nobody"}`, `{"oauthProvider": "OData", "userName": "uid:nobody"}`,
		`{"oauthProvider": "OData", "userName": "alice.login", "tenantCode": "nope"}`, `{"oauthProvider": "OData", "userName": "alice.login", "tenantCode": "two"}`} {
		if code, b := drop(body); code != 404 {
			t.Errorf("%s = %d %s, want 404", body, code, b)
		}
	}
	type dropped struct {
		DeletedCount int `json:"deletedCount"`
	}
	code, body := drop(`{"oauthProvider": "OData", "userName": "alice.login"}`)
	if code != 200 || decode[dropped](t, body).DeletedCount != 1 {
		t.Fatalf("by login name = %d %s", code, body)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: a}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("alice's token after the drop: %v", err)
	}
	code, body = drop(`{"oauthProvider": "OData", "userName": "uid:bob", "tenantCode": "default"}`)
	if code != 200 || decode[dropped](t, body).DeletedCount != 1 {
		t.Fatalf("by uid = %d %s", code, body)
	}
	if _, err := e.internal.GetAccessToken(as(""), &providerv1.GetAccessTokenRequest{ConnectorId: b}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("bob's token after the drop: %v", err)
	}
}

// TestPendingConnectorNeverBlocks: a connector nobody completed neither counts as a user of its provider
// nor blocks changing or deleting it; deleting the provider deletes it.
func TestPendingConnectorNeverBlocks(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, _ := e.create(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	resp, err := e.config.GetOAuthConfiguration(as("sys-admin"), &providerv1.GetOAuthConfigurationRequest{})
	if err != nil || len(resp.GetItems()) != 1 || resp.GetItems()[0].GetConnectorCount() != 0 {
		t.Fatalf("provider with a pending connector: %v %v", resp.GetItems(), err)
	}
	changed := strings.Replace(e.odataConfig("OData"), `"oauth2_params_scope": ["{\"READ\":\"READ_PRIVILEGES\"}"]`, `"oauth2_params_scope": ["{\"WRITE\":\"WRITE_PRIVILEGES\"}"]`, 1)
	if code, b := e.rest(t, "POST", loadPath, "sys-admin", changed); code != 200 || !strings.Contains(b, `"updated"`) {
		t.Fatalf("change with a pending connector = %d %s", code, b)
	}
	if code, b := e.rest(t, "POST", "/Thingworx/Subsystems/WorkflowSubsystem/Services/DeleteOAuthConfiguration", "sys-admin", `{"connectorName": "odata", "oauthProvider": "OData"}`); code != 200 {
		t.Fatalf("delete with a pending connector = %d %s", code, b)
	}
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", ""); code != 404 {
		t.Fatalf("pending connector of a deleted provider = %d %s", code, b)
	}
}

// TestPendingConnectorExpires: a pending connector shows when it expires, cannot be started after 15
// minutes, and the sweeper deletes it.
func TestPendingConnectorExpires(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	created := e.clock.Now()
	id, authURL := e.create(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", "")
	type pending struct {
		Status     string    `json:"status"`
		ExpireTime time.Time `json:"expireTime"`
	}
	if c := decode[pending](t, b); code != 200 || c.Status != "pending" || !c.ExpireTime.Equal(created.Add(15*time.Minute)) {
		t.Fatalf("pending connector = %d %s", code, b)
	}
	kept, _ := e.create(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	e.srv.Sweep(context.Background())
	if code, _ := e.rest(t, "GET", "/api/provider/v1/connectors/"+id, "alice", ""); code != 200 {
		t.Fatalf("a fresh pending connector was swept: %d", code)
	}
	e.clock.Advance(15*time.Minute + time.Second)
	if code, body := e.page(t, authURL, session("alice")); code != 400 || !strings.Contains(body, "expired") {
		t.Fatalf("start of an expired connector = %d %s", code, body)
	}
	e.srv.Sweep(context.Background())
	for _, gone := range []string{id, kept} {
		if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+gone, "alice", ""); code != 404 {
			t.Fatalf("expired pending connector after the sweep = %d %s", code, b)
		}
	}
	// An authorized connector is never swept.
	active, _ := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	e.clock.Advance(time.Hour)
	e.srv.Sweep(context.Background())
	if code, b := e.rest(t, "GET", "/api/provider/v1/connectors/"+active, "alice", ""); code != 200 {
		t.Fatalf("active connector after the sweep = %d %s", code, b)
	}
}

// TestConnectorTokenInstanceURL: the public token response carries instance_url when the provider named
// one (Salesforce, ServiceMax), and omits it otherwise.
func TestConnectorTokenInstanceURL(t *testing.T) {
	e := newEnv(t)
	e.mustLoad(t, e.odataConfig("OData"))
	id, _ := e.authorize(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	type tokenBody struct {
		AccessToken string  `json:"access_token"`
		InstanceURL *string `json:"instance_url"`
	}
	code, b := e.rest(t, "POST", "/api/provider/v1/connectors/"+id+"/token", "alice", `{}`)
	if tb := decode[tokenBody](t, b); code != 200 || tb.AccessToken == "" || tb.InstanceURL != nil {
		t.Fatalf("token without instance url = %d %s", code, b)
	}
	// A second connector whose stored grant names an instance URL (as a Salesforce token response does).
	id2, _ := e.create(t, "alice", `{"connectorType": "odata", "oauthProvider": "OData"}`)
	keys, err := suitekey.New(make([]byte, 32)) // the harness's keyring
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(provider.Grant{AccessToken: "sf-token", TokenType: "Bearer", InstanceURL: "https://acme.my.salesforce.com"})
	if _, err := e.store.UpdateConnector(context.Background(), id2, func(c provider.Connector) (provider.Connector, error) {
		c.Status, c.SealedGrant = provider.StatusActive, keys.Seal(raw, provider.GrantAD(id2))
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	code, b = e.rest(t, "POST", "/api/provider/v1/connectors/"+id2+"/token", "alice", `{}`)
	if tb := decode[tokenBody](t, b); code != 200 || tb.AccessToken != "sf-token" || tb.InstanceURL == nil || *tb.InstanceURL != "https://acme.my.salesforce.com" {
		t.Fatalf("token with instance url = %d %s", code, b)
	}
}
