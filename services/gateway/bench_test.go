package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

func introspectionSample() *tokenv1.IntrospectResponse {
	return &tokenv1.IntrospectResponse{
		Active: true, Scope: proto.String("orders.read orders.write"), ClientId: proto.String("billing"),
		TokenType: proto.String("Bearer"), Exp: proto.Int64(1796300000), Iat: proto.Int64(1796213600),
		Sub: proto.String("billing"), Aud: proto.String("https://auth.example"), Iss: proto.String("https://auth.example"),
		Jti: proto.String("0123456789abcdef0123456789abcdef"), Tenant: proto.String("7f3c9d2e"),
	}
}

// BenchmarkIntrospectionBody is the introspection body with 64-bit fields as numbers (marshalOAuthJSON);
// BenchmarkIntrospectionBodyProtojson is protojson alone, which quotes them, for comparison.
func BenchmarkIntrospectionBody(b *testing.B) {
	m := introspectionSample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalOAuthJSON(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIntrospectionBodyProtojson(b *testing.B) {
	m := introspectionSample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (protojson.MarshalOptions{EmitDefaultValues: true}).Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStrictDecode decodes a client body strictly (unknown members refused, trailing data refused), the
// gateway's codec on every JSON body; BenchmarkProtojsonDecode is the lenient decode it replaced.
const clientBody = `{"clientId":"billing","clientName":"Billing","allowedGrantTypes":["client_credentials"],` +
	`"allowedScopes":["orders.read","orders.write"],"allowedCorsOrigins":["https://app.example"],"accessTokenLifetime":3600}`

func BenchmarkStrictDecode(b *testing.B) {
	c := newCodec()
	b.ReportAllocs()
	for b.Loop() {
		var m registryv1.Client
		if err := c.NewDecoder(strings.NewReader(clientBody)).Decode(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProtojsonDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var m registryv1.Client
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(clientBody), &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteError is one error answer through the one writer (status → problem → OAuth JSON).
func BenchmarkWriteError(b *testing.B) {
	g := &Gateway{}
	r := httptest.NewRequest("POST", "/connect/token", nil)
	err := status.Error(codes.InvalidArgument, "grant_type is required")
	b.ReportAllocs()
	for b.Loop() {
		g.writeError(httptest.NewRecorder(), r, err)
	}
}
