package gateway

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"reflect"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// introspectionTyped is RFC 7662 §2.2 as a client decodes it.
type introspectionTyped struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	TokenType string `json:"token_type"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Sub       string `json:"sub"`
}

// userInfoTyped is OIDC Core §5.1 as a client decodes it.
type userInfoTyped struct {
	Sub                 string `json:"sub"`
	UpdatedAt           int64  `json:"updated_at"`
	EmailVerified       bool   `json:"email_verified"`
	PhoneNumberVerified bool   `json:"phone_number_verified"`
}

func strictDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("typed decode of %s: %v", b, err)
	}
}

func TestMarshalOAuthJSONNumbers(t *testing.T) {
	b, err := marshalOAuthJSON(&tokenv1.IntrospectResponse{
		Active: true, Exp: proto.Int64(1767225600), Iat: proto.Int64(1767222000), ClientId: proto.String("c"),
		TokenType: proto.String("refresh_token"), Scope: proto.String("openid offline_access"), Sub: proto.String("u1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var in introspectionTyped
	strictDecode(t, b, &in)
	if !in.Active || in.Exp != 1767225600 || in.Iat != 1767222000 || in.ClientID != "c" || in.TokenType != "refresh_token" || in.Sub != "u1" {
		t.Fatalf("decoded %+v from %s", in, b)
	}

	b, err = marshalOAuthJSON(&tokenv1.IntrospectResponse{})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"active":false}` {
		t.Fatalf("inactive answer = %s, want only active=false (RFC 7662 §2.2)", b)
	}

	b, err = marshalOAuthJSON(&tokenv1.UserInfoResponse{
		Sub: "u1", Tenant: "t", UpdatedAt: proto.Int64(math.MaxInt64), EmailVerified: proto.Bool(true),
		Email: proto.String("a@example.com"), PhoneNumberVerified: proto.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	var ui userInfoTyped
	strictDecode(t, b, &ui)
	if ui.Sub != "u1" || ui.UpdatedAt != math.MaxInt64 || !ui.EmailVerified || ui.PhoneNumberVerified {
		t.Fatalf("decoded %+v from %s", ui, b)
	}
	var raw map[string]any
	strictDecode(t, b, &raw)
	if _, ok := raw["phone_number"]; ok {
		t.Fatalf("unset optional claim written: %s", b)
	}
}

// TestMarshalOAuthJSONNested covers the recursion: repeated and nested 64-bit values, and well-known types
// left in their own JSON form.
func TestMarshalOAuthJSONNested(t *testing.T) {
	s, _ := structpb.NewStruct(map[string]any{"n": 1.5, "s": "x"})
	b, err := marshalOAuthJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	strictDecode(t, b, &got)
	if got["n"] != 1.5 || got["s"] != "x" {
		t.Fatalf("struct rendered as %s", b)
	}
}

// TestOAuthBodiesHaveNoQuoted64 guards the class: the OAuth/OIDC bodies that grpc-gateway writes with
// protojson's defaults (discovery, JWKS, the simple token API) must not gain a 64-bit integer field, which
// would be written as a JSON string. Such a field belongs in a body written by marshalOAuthJSON. The
// admin API keeps protojson's rendering: its times are RFC 3339 strings (Timestamp), never 64-bit integers.
func TestOAuthBodiesHaveNoQuoted64(t *testing.T) {
	for _, m := range []proto.Message{
		&tokenv1.GetDiscoveryResponse{}, &tokenv1.GetJwksResponse{},
		&tokenv1.GetTokenResponse{}, &tokenv1.CheckTokenResponse{}, &tokenv1.RevokeTokenResponse{},
		&providerv1.GetConnectorTokenResponse{}, // a token response of the connector API
	} {
		if f := find64(m.ProtoReflect().Descriptor(), map[protoreflect.FullName]bool{}); f != "" {
			t.Errorf("%s has the 64-bit field %s: protojson writes it as a string", m.ProtoReflect().Descriptor().FullName(), f)
		}
	}
}

func find64(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) protoreflect.FullName {
	if seen[md.FullName()] {
		return ""
	}
	seen[md.FullName()] = true
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if is64(fd) {
			return fd.FullName()
		}
		if fd.Message() != nil {
			if f := find64(fd.Message(), seen); f != "" {
				return f
			}
		}
	}
	return ""
}

func TestWriteOAuthJSON(t *testing.T) {
	w := httptest.NewRecorder()
	if err := writeOAuthJSON(w, &tokenv1.IntrospectResponse{Active: true, Exp: proto.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if !bytes.Contains(w.Body.Bytes(), []byte(`"exp":7`)) {
		t.Fatalf("body %s", w.Body)
	}
}

// FuzzMarshalOAuthJSON: whatever the values, the introspection and userinfo bodies decode into typed
// structs with the same numbers and strings.
func FuzzMarshalOAuthJSON(f *testing.F) {
	f.Add(int64(0), int64(-1), "openid", "c", true)
	f.Add(int64(math.MaxInt64), int64(math.MinInt64), "a \"b\" \\ \u2028", "\u5f20\u4e09", false)
	f.Fuzz(func(t *testing.T, exp, iat int64, scope, sub string, verified bool) {
		in := &tokenv1.IntrospectResponse{Active: true, Exp: &exp, Iat: &iat, Scope: &scope, Sub: &sub}
		if verified {
			in.Audiences = []string{scope, sub}
			in.Act = &tokenv1.Actor{ClientId: sub, Act: &tokenv1.Actor{Sub: scope}}
			in.Cnf = &tokenv1.Confirmation{X5TS256: scope}
		}
		if !utf8.ValidString(scope) || !utf8.ValidString(sub) {
			return // protobuf strings are UTF-8; the services never produce anything else
		}
		b, err := marshalOAuthJSON(in)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var got introspectionTyped
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if got.Exp != exp || got.Iat != iat || got.Scope != scope || got.Sub != sub || !got.Active {
			t.Fatalf("round trip %+v from %s", got, b)
		}
		sameAsGeneral(t, in)
		u := &tokenv1.UserInfoResponse{Sub: sub, UpdatedAt: &exp, EmailVerified: &verified, Name: &scope, Tenant: sub}
		if verified {
			u.Roles, u.Groups, u.Claims = []string{scope, sub}, []string{sub}, map[string]string{scope: sub, "sub": scope, sub: "x"}
		}
		sameAsGeneral(t, u)
		b, err = marshalOAuthJSON(u)
		if err != nil {
			t.Fatalf("marshal userinfo: %v", err)
		}
		var gu userInfoTyped
		if err := json.Unmarshal(b, &gu); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if gu.UpdatedAt != exp || gu.EmailVerified != verified || gu.Sub != sub {
			t.Fatalf("round trip %+v from %s", gu, b)
		}
	})
}

// sameAsGeneral checks that the flat fast path wrote the members and values the general path (protojson,
// then numeric64) writes for m.
func sameAsGeneral(t *testing.T, m proto.Message) {
	t.Helper()
	fast, ok := appendFlat(nil, m.ProtoReflect())
	if !ok {
		t.Fatalf("%T is not flat", m)
	}
	general, err := marshalOAuthJSONGeneral(m)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) map[string]any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v map[string]any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode %q: %v", b, err)
		}
		return v
	}
	if f, g := decode(fast), decode(general); !reflect.DeepEqual(f, g) {
		t.Fatalf("fast path %s, general path %s", fast, general)
	}
}

// TestFlatPathMatchesGeneral: every field of the introspection and userinfo answers set, unset and at zero;
// a message with a repeated or nested field is not flat.
func TestFlatPathMatchesGeneral(t *testing.T) {
	s, n, f := "x <&> \"\\ \u2028 \x01", int64(-9007199254740993), false
	full := &tokenv1.IntrospectResponse{Active: true, Scope: &s, ClientId: &s, TokenType: &s, Exp: &n, Iat: &n, Sub: &s, Aud: &s, Iss: &s, Jti: &s, Tenant: &s}
	for _, m := range []proto.Message{full, &tokenv1.IntrospectResponse{}, &tokenv1.UserInfoResponse{},
		&tokenv1.UserInfoResponse{Sub: s, Name: &s, PreferredUsername: &s, UpdatedAt: &n, Email: &s, EmailVerified: &f, PhoneNumber: &s, PhoneNumberVerified: &f, Tenant: s}} {
		sameAsGeneral(t, m)
	}
	if _, ok := appendFlat(nil, (&structpb.Struct{}).ProtoReflect()); ok {
		t.Error("Struct (a map) took the flat path")
	}
	if _, ok := appendFlat(nil, (&registryv1.Client{}).ProtoReflect()); ok {
		t.Error("Client (enums, a Struct, maps) took the flat path")
	}
}

// introspectionAudTyped decodes aud as RFC 7519 §4.1.3 allows it: a string or an array of strings.
type introspectionAudTyped struct {
	Active bool            `json:"active"`
	Aud    json.RawMessage `json:"aud"`
	Cnf    *struct {
		X5tS256 string `json:"x5t#S256"`
	} `json:"cnf"`
	Act *actorTyped `json:"act"`
}

type actorTyped struct {
	ClientID string      `json:"client_id"`
	Sub      string      `json:"sub"`
	Act      *actorTyped `json:"act"`
}

// TestIntrospectionAudience: aud is a string for one audience and an array for several (RFC 7662 §2.2,
// RFC 7519 §4.1.3), "audiences" is never written, cnf and the act chain are nested objects, the inactive
// answer is exactly {"active":false}, and the fast path agrees with the general one.
func TestIntrospectionAudience(t *testing.T) {
	act := &tokenv1.Actor{ClientId: "svc-b", Sub: "svc-b", Act: &tokenv1.Actor{ClientId: "svc-a", Sub: "svc-a"}}
	for _, tc := range []struct {
		in   *tokenv1.IntrospectResponse
		want string
	}{
		{&tokenv1.IntrospectResponse{Active: true, Aud: proto.String("https://a"), Audiences: []string{"https://a"}}, `"https://a"`},
		{&tokenv1.IntrospectResponse{Active: true, Aud: proto.String("https://a"), Audiences: []string{"https://a", "https://b"}}, `["https://a","https://b"]`},
		{&tokenv1.IntrospectResponse{Active: true, Aud: proto.String("https://a")}, `"https://a"`},
		{&tokenv1.IntrospectResponse{Active: true, Audiences: []string{"x"}, Cnf: &tokenv1.Confirmation{X5TS256: "abc"}, Act: act}, `"x"`},
	} {
		sameAsGeneral(t, tc.in)
		for _, b := range [][]byte{mustMarshal(t, tc.in), mustGeneral(t, tc.in)} {
			var got introspectionAudTyped
			strictDecode(t, b, &got)
			if string(got.Aud) != tc.want || bytes.Contains(b, []byte(`"audiences"`)) {
				t.Errorf("aud %s from %s, want %s and no audiences member", got.Aud, b, tc.want)
			}
			if tc.in.Cnf != nil && (got.Cnf == nil || got.Cnf.X5tS256 != "abc") {
				t.Errorf("cnf lost: %s", b)
			}
			if tc.in.Act != nil && (got.Act == nil || got.Act.ClientID != "svc-b" || got.Act.Act == nil || got.Act.Act.Sub != "svc-a" || got.Act.Act.Act != nil) {
				t.Errorf("act chain lost: %s", b)
			}
		}
	}
	for _, b := range [][]byte{mustMarshal(t, &tokenv1.IntrospectResponse{}), mustGeneral(t, &tokenv1.IntrospectResponse{})} {
		if string(b) != `{"active":false}` {
			t.Errorf("inactive answer %s", b)
		}
	}
	// A chain deeper than the fast path follows is still written, by the general path.
	deep := &tokenv1.Actor{ClientId: "c0"}
	for i := 0; i < maxFlatDepth+2; i++ {
		deep = &tokenv1.Actor{ClientId: "c", Act: deep}
	}
	if _, ok := appendFlat(nil, (&tokenv1.IntrospectResponse{Active: true, Act: deep}).ProtoReflect()); ok {
		t.Error("a chain deeper than maxFlatDepth took the fast path")
	}
	if b := mustMarshal(t, &tokenv1.IntrospectResponse{Active: true, Act: deep}); !bytes.Contains(b, []byte(`"c0"`)) {
		t.Errorf("deep chain lost: %s", b)
	}
}

// TestUserInfoRolesGroupsClaims: roles and groups are arrays when set and absent when empty; the claims
// map's entries are top-level members that never replace a field's member; both paths agree.
func TestUserInfoRolesGroupsClaims(t *testing.T) {
	u := &tokenv1.UserInfoResponse{Sub: "u1", Tenant: "t", Roles: []string{"admin"}, Groups: []string{"ops", "emea"},
		Claims: map[string]string{"department": "sales", "sub": "forged", "tenant": "forged"}}
	sameAsGeneral(t, u)
	for _, b := range [][]byte{mustMarshal(t, u), mustGeneral(t, u)} {
		var got struct {
			Sub, Tenant, Department string
			Roles, Groups           []string
			Claims                  any `json:"claims"`
		}
		strictDecode(t, b, &got)
		if got.Sub != "u1" || got.Tenant != "t" || got.Department != "sales" || len(got.Roles) != 1 || len(got.Groups) != 2 || got.Claims != nil {
			t.Fatalf("userinfo %s", b)
		}
	}
	empty := &tokenv1.UserInfoResponse{Sub: "u1", Tenant: "t"}
	sameAsGeneral(t, empty)
	for _, b := range [][]byte{mustMarshal(t, empty), mustGeneral(t, empty)} {
		if bytes.Contains(b, []byte("roles")) || bytes.Contains(b, []byte("groups")) || bytes.Contains(b, []byte("claims")) {
			t.Fatalf("empty lists or map written: %s", b)
		}
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := marshalOAuthJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGeneral(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := marshalOAuthJSONGeneral(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
