package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const (
	exchangeGrantType   = "urn:ietf:params:oauth:grant-type:token-exchange"
	accessTokenTypeURN  = "urn:ietf:params:oauth:token-type:access_token"
	exchangeOrdersRes   = "https://orders.internal"
	exchangeStockRes    = "https://stock.internal"
	exchangeUnknownRes  = "https://nowhere.internal"
	exchangeFrontendID  = "shop"
	exchangeOrdersSvcID = "orders"
)

// exchangeAnswer is a token-exchange answer (RFC 8693 §2.2.1), typed: expires_in must be a JSON number and
// issued_token_type a string.
type exchangeAnswer struct {
	AccessToken     string  `json:"access_token"`
	IssuedTokenType string  `json:"issued_token_type"`
	TokenType       string  `json:"token_type"`
	ExpiresIn       int64   `json:"expires_in"`
	Scope           string  `json:"scope"`
	RefreshToken    *string `json:"refresh_token"`
}

// exchangeActor is an act claim (RFC 8693 §4.1).
type exchangeActor struct {
	ClientID string         `json:"client_id"`
	Sub      string         `json:"sub"`
	Act      *exchangeActor `json:"act"`
}

// exchangedPayload is the JWT payload of an exchanged access token; aud is a single string here (one
// resource).
type exchangedPayload struct {
	Sub      string         `json:"sub"`
	Aud      string         `json:"aud"`
	ClientID string         `json:"client_id"`
	Scope    string         `json:"scope"`
	Tenant   string         `json:"tenant"`
	Exp      int64          `json:"exp"`
	Jti      string         `json:"jti"`
	Act      *exchangeActor `json:"act"`
	Pjti     []string       `json:"pjti"`
}

func jwtPayload(t *testing.T, tok string, v any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("payload %s does not decode into %T: %v", b, v, err)
	}
}

// TestTokenExchangeREST drives token exchange (RFC 8693) through POST /connect/token with form posts: the
// shop service gets its token for the orders and stock services; the orders service, which serves
// https://orders.internal, exchanges it for a token for the stock service only, acting for the shop.
// Answers decode into typed structs; every refusal has its OAuth error code; revoking the shop's token ends
// the exchanged one too.
func TestTokenExchangeREST(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	for res, scopes := range map[string][]string{exchangeOrdersRes: {"orders.read"}, exchangeStockRes: {"stock.read"}} {
		expect(t, "resource "+res, s.call("POST", base+"/resources/", f.adminToken, map[string]any{"resourceId": res, "scopes": scopes}), 201)
	}
	expect(t, "shop", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": exchangeFrontendID, "allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"orders.read", "stock.read"}}), 201)
	shopSecret := expect(t, "shop secret", s.call("POST", base+"/clients/"+exchangeFrontendID+"/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	expect(t, "orders service", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": exchangeOrdersSvcID, "allowedGrantTypes": []string{exchangeGrantType}, "allowedScopes": []string{"orders.read", "stock.read"},
		"servesResources": []string{exchangeOrdersRes}}), 201)
	ordersSecret := expect(t, "orders secret", s.call("POST", base+"/clients/"+exchangeOrdersSvcID+"/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)

	var login exchangeAnswer
	decodeTyped(t, "shop's token", s.form("/connect/token", "grant_type=client_credentials&scope=orders.read+stock.read",
		exchangeFrontendID, shopSecret), 200, &login)
	var original struct {
		Aud []string `json:"aud"`
		Jti string   `json:"jti"`
		Exp int64    `json:"exp"`
	}
	jwtPayload(t, login.AccessToken, &original)
	if !slices.Contains(original.Aud, exchangeOrdersRes) {
		t.Fatalf("the shop's token is not for the orders service: aud %v", original.Aud)
	}

	exchange := func(mod func(url.Values)) response {
		form := url.Values{"grant_type": {exchangeGrantType}, "subject_token": {login.AccessToken},
			"subject_token_type": {accessTokenTypeURN}, "resource": {exchangeStockRes}}
		if mod != nil {
			mod(form)
		}
		return s.form("/connect/token", form.Encode(), exchangeOrdersSvcID, ordersSecret)
	}
	var got exchangeAnswer
	decodeTyped(t, "exchange", exchange(nil), 200, &got)
	if got.IssuedTokenType != accessTokenTypeURN || got.TokenType != "Bearer" || got.Scope != "stock.read" || got.RefreshToken != nil ||
		got.ExpiresIn <= 0 || got.ExpiresIn > 86400 {
		t.Fatalf("exchange answer %+v", got)
	}
	var p exchangedPayload
	jwtPayload(t, got.AccessToken, &p)
	if p.Sub != exchangeFrontendID || p.Aud != exchangeStockRes || p.ClientID != exchangeOrdersSvcID || p.Tenant != f.tenantID || p.Scope != "stock.read" ||
		p.Act == nil || p.Act.ClientID != exchangeOrdersSvcID || p.Act.Act != nil || !slices.Equal(p.Pjti, []string{original.Jti}) || p.Exp > original.Exp {
		t.Fatalf("exchanged token %+v (act %+v), original jti %s exp %d", p, p.Act, original.Jti, original.Exp)
	}

	// Introspection by the stock service's audience shows the actor (RFC 7662 with RFC 8693 §4.1).
	var intro struct {
		Active bool           `json:"active"`
		Aud    string         `json:"aud"`
		Sub    string         `json:"sub"`
		Act    *exchangeActor `json:"act"`
	}
	decodeTyped(t, "introspect", s.form("/connect/introspect", "token="+url.QueryEscape(got.AccessToken)+"&audience="+url.QueryEscape(exchangeStockRes),
		exchangeOrdersSvcID, ordersSecret), 200, &intro)
	if !intro.Active || intro.Aud != exchangeStockRes || intro.Sub != exchangeFrontendID || intro.Act == nil || intro.Act.ClientID != exchangeOrdersSvcID {
		t.Fatalf("introspection %+v", intro)
	}

	// Refusals (RFC 8693 §2.2.2, RFC 6749 §5.2), each a typed OAuth error.
	for _, c := range []struct {
		name   string
		mod    func(url.Values)
		status int
		code   string
	}{
		{"no subject_token_type", func(v url.Values) { v.Del("subject_token_type") }, 400, "invalid_request"},
		{"refresh token wanted", func(v url.Values) { v.Set("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token") }, 400, "invalid_request"},
		{"forged subject", func(v url.Values) { v.Set("subject_token", login.AccessToken[:len(login.AccessToken)-4]+"AAAA") }, 400, "invalid_request"},
		{"unknown resource", func(v url.Values) { v.Set("resource", exchangeUnknownRes) }, 400, "invalid_target"},
		{"unknown audience", func(v url.Values) { v.Del("resource"); v.Set("audience", "nowhere") }, 400, "invalid_target"},
		{"scope widened", func(v url.Values) { v.Set("scope", "stock.write") }, 400, "invalid_scope"},
	} {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		decodeTyped(t, c.name, exchange(c.mod), c.status, &e)
		if e.Error != c.code || e.Description == "" {
			t.Errorf("%s: %+v, want %s", c.name, e, c.code)
		}
	}
	// A client that does not serve the token's audience may not exchange it, and learns nothing more.
	var denied struct {
		Error string `json:"error"`
	}
	decodeTyped(t, "shop exchanging", s.form("/connect/token", url.Values{"grant_type": {exchangeGrantType}, "subject_token": {login.AccessToken},
		"subject_token_type": {accessTokenTypeURN}}.Encode(), exchangeFrontendID, shopSecret), 400, &denied)
	if denied.Error != "unauthorized_client" {
		t.Fatalf("shop (no token-exchange grant): %+v", denied)
	}

	// Revoking the shop's token (RFC 7009) ends the exchanged token at once.
	expect(t, "revoke", s.form("/connect/revocation", "token="+url.QueryEscape(login.AccessToken), exchangeFrontendID, shopSecret), 200)
	expect(t, "check exchanged after revocation", s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(got.AccessToken), "", nil), 400, "invalid_token")
	expect(t, "exchange of a revoked token", exchange(nil), 400, "invalid_request")
}

// TestTokenExchangeRESTUserChain: alice's token for the orders service (password grant with a resource
// indicator) is exchanged by orders for the stock service, then by stock for the audit service: each token
// is alice's (sub), names only its next hop, nests the earlier actors and lists every upstream jti; revoking
// alice's token ends both exchanged tokens at once.
func TestTokenExchangeRESTUserChain(t *testing.T) {
	f := newSigninFixture(t)
	s := f.s
	base := "/api/adminapi2/v1/tenants/" + f.tenantID
	hops := []struct{ id, res string }{{"orders", exchangeOrdersRes}, {"stock", exchangeStockRes}, {"audit", "https://audit.internal"}}
	secrets := map[string]string{}
	for _, h := range hops {
		// One scope the whole chain carries: an exchange never widens the scope.
		expect(t, "resource "+h.res, s.call("POST", base+"/resources/", f.adminToken, map[string]any{"resourceId": h.res, "scopes": []string{"chain.call"}}), 201)
		expect(t, "client "+h.id, s.call("POST", base+"/clients/", f.adminToken, map[string]any{
			"clientId": h.id, "allowedGrantTypes": []string{exchangeGrantType}, "allowedScopes": []string{"chain.call"}, "servesResources": []string{h.res}}), 201)
		secrets[h.id] = expect(t, "secret "+h.id, s.call("POST", base+"/clients/"+h.id+"/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)
	}
	expect(t, "shop", s.call("POST", base+"/clients/", f.adminToken, map[string]any{
		"clientId": exchangeFrontendID, "allowRopc": true, "allowedGrantTypes": []string{"password"}, "allowedScopes": []string{"chain.call"}}), 201)
	shopSecret := expect(t, "shop secret", s.call("POST", base+"/clients/"+exchangeFrontendID+"/secrets/", f.adminToken, map[string]any{}), 201)["value"].(string)

	var login exchangeAnswer
	decodeTyped(t, "alice's token", s.form("/connect/token", "grant_type=password&scope=chain.call&resource="+url.QueryEscape(exchangeOrdersRes)+
		"&username=alice&password="+url.QueryEscape(alicePassword), exchangeFrontendID, shopSecret), 200, &login)
	var original exchangedPayload
	jwtPayload(t, login.AccessToken, &original)
	if original.Aud != exchangeOrdersRes || original.Sub != f.aliceID {
		t.Fatalf("alice's token: aud %q sub %q", original.Aud, original.Sub)
	}
	tok, parents := login.AccessToken, []string{original.Jti}
	var chain []string
	var tokens []string
	for i, h := range hops[:2] {
		next := hops[i+1]
		var got exchangeAnswer
		decodeTyped(t, h.id+" exchanges", s.form("/connect/token", url.Values{"grant_type": {exchangeGrantType}, "subject_token": {tok},
			"subject_token_type": {accessTokenTypeURN}, "audience": {next.res}}.Encode(), h.id, secrets[h.id]), 200, &got)
		var p exchangedPayload
		jwtPayload(t, got.AccessToken, &p)
		chain = append([]string{h.id}, chain...)
		var acts []string
		for a := p.Act; a != nil; a = a.Act {
			acts = append(acts, a.ClientID)
		}
		if got.IssuedTokenType != accessTokenTypeURN || p.Sub != f.aliceID || p.Aud != next.res || p.ClientID != h.id || p.Scope != "chain.call" ||
			!slices.Equal(acts, chain) || !slices.Equal(p.Pjti, parents) || p.Exp > original.Exp {
			t.Fatalf("%s: answer %+v, token %+v, act %v", h.id, got, p, acts)
		}
		tok, parents = got.AccessToken, append([]string{p.Jti}, parents...)
		tokens = append(tokens, tok)
	}
	expect(t, "revoke alice's token", s.form("/connect/revocation", "token="+url.QueryEscape(login.AccessToken), exchangeFrontendID, shopSecret), 200)
	for i, tok := range tokens {
		expect(t, "exchanged token "+hops[i+1].id+" after the revocation", s.call("GET", "/api/oauth2/server/tokens/check?token="+url.QueryEscape(tok), "", nil), 400, "invalid_token")
	}
}
