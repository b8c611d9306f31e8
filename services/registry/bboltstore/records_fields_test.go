package bboltstore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/registry"
)

// A client and a user record as written before authentication methods, keys, claims, served resources,
// groups and attributes existed.
const (
	oldClientRecord = `{"id":"c1","tenant_id":"t1","allow_offline_access":false,"allow_remember_consent":true,` +
		`"back_channel_logout_session_required":true,"require_client_secret":true,"require_consent":false,` +
		`"allow_no_pkce":false,"allow_ropc":false,"allowed_grant_types":["client_credentials"],` +
		`"redirect_uri_prefix_matching":false,"access_token_lifetime_s":86400,"refresh_token_lifetime_s":2592000,` +
		`"create_time":"2030-01-02T03:04:05Z","update_time":"2030-01-02T03:04:05Z"}`
	oldUserRecord = `{"id":"u1","tenant_id":"t1","login_name":"alice","roles":["admin"],"disabled":false,` +
		`"create_time":"2030-01-02T03:04:05Z","update_time":"2030-01-02T03:04:05Z"}`
)

// TestOldRecordsRead: records written before the new client and user settings read with their zero values
// (the method "" being the one requireClientSecret implies), and a client or user without them is written
// without their keys, so the stored bytes of existing records do not change.
func TestOldRecordsRead(t *testing.T) {
	var sc storedClient
	if err := json.Unmarshal([]byte(oldClientRecord), &sc); err != nil {
		t.Fatal(err)
	}
	c := sc.domain()
	if c.TokenEndpointAuthMethod != "" || c.EffectiveAuthMethod() != registry.AuthClientSecretBasic || c.JWKS != nil ||
		c.JWKSURI != "" || c.TLSClientAuthSubjectDN != "" || c.CertBoundAccessTokens || c.Claims != nil ||
		c.AlwaysSendClaims || c.ClaimMappings != nil || c.ServesResources != nil {
		t.Fatalf("old client record reads as %+v", c)
	}
	var su storedUser
	if err := json.Unmarshal([]byte(oldUserRecord), &su); err != nil {
		t.Fatal(err)
	}
	if u := su.domain(); u.Groups != nil || u.Attributes != nil || u.LoginName != "alice" {
		t.Fatalf("old user record reads as %+v", u)
	}
	b, _ := json.Marshal(clientToStored(c))
	for _, key := range []string{"token_endpoint_auth_method", "jwks", "tls_client", "cert_bound", "claims", "always_send", "claim_mappings", "serves_resources"} {
		if strings.Contains(string(b), `"`+key) {
			t.Errorf("a client without the new settings is written with %q: %s", key, b)
		}
	}
	b, _ = json.Marshal(userToStored(su.domain()))
	if strings.Contains(string(b), `"groups"`) || strings.Contains(string(b), `"attributes"`) {
		t.Errorf("a user without groups and attributes is written with them: %s", b)
	}
}

// TestNewFieldsRecordRoundTrip: every new client and user setting survives encoding and decoding.
func TestNewFieldsRecordRoundTrip(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := registry.Client{
		ID: "c1", TenantID: "t1", RequireClientSecret: true, CreateTime: t0, UpdateTime: t0,
		TokenEndpointAuthMethod: registry.AuthPrivateKeyJWT,
		JWKS:                    []byte(`{"keys":[{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`),
		JWKSURI:                 "https://svc.example/jwks", TLSClientAuthSubjectDN: "CN=a\\,b", CertBoundAccessTokens: true,
		Claims: map[string]string{"role": "x"}, AlwaysSendClaims: true,
		ClaimMappings:   []registry.ClaimMapping{{UserAttribute: "a", Claim: "b", Scope: "s"}},
		ServesResources: []string{"https://orders.internal"},
	}
	b, err := json.Marshal(clientToStored(c))
	if err != nil {
		t.Fatal(err)
	}
	var sc storedClient
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	if got := sc.domain(); !reflect.DeepEqual(got, c) {
		t.Fatalf("client round trip:\n got %+v\nwant %+v", got, c)
	}
	u := registry.User{ID: "u1", TenantID: "t1", LoginName: "alice", CreateTime: t0, UpdateTime: t0,
		Groups: []string{"g1", "g2"}, Attributes: map[string]string{"k": "v"}}
	b, _ = json.Marshal(userToStored(u))
	var su storedUser
	if err := json.Unmarshal(b, &su); err != nil {
		t.Fatal(err)
	}
	if got := su.domain(); !reflect.DeepEqual(got, u) {
		t.Fatalf("user round trip:\n got %+v\nwant %+v", got, u)
	}
}
