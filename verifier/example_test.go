package verifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/services/token/jwt"
	"github.com/authsuite/authsuite/verifier"
)

// Example protects an HTTP handler: only tokens for https://orders.internal with the orders.read scope
// reach it. In production Config also names Revocations (a gRPC connection to the token service) and a
// TokenSource (for example x/oauth2 clientcredentials) so revoked tokens are refused too.
func Example() {
	// A stand-in for authsuite's jwks_uri.
	key, _ := jwt.Generate(jwt.ES256)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j := key.Public().JWK()
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": j.Kty, "kid": j.Kid, "use": j.Use, "alg": j.Alg, "crv": j.Crv, "x": j.X, "y": j.Y}}})
	}))
	defer jwks.Close()

	v, err := verifier.New(context.Background(), verifier.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://orders.internal",
		JWKSURL:  jwks.URL,
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	orders := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := verifier.FromContext(r.Context())
		fmt.Fprintf(w, "orders of %s (tenant %s)", tok.Subject, tok.Tenant)
	}), "orders.read")

	now := time.Now().Unix()
	access, _ := key.Sign(&jwt.Claims{Issuer: "https://auth.example.com", Subject: "alice", Audience: jwt.Audience{"https://orders.internal"},
		ClientID: "web", Scope: "orders.read", Tenant: "acme", IssuedAt: now, Expiry: now + 300, ID: "t-1"})
	for _, auth := range []string{"Bearer " + access, ""} {
		req := httptest.NewRequest("GET", "/orders", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		orders.ServeHTTP(rec, req)
		fmt.Printf("%d %q %q\n", rec.Code, strings.TrimSpace(rec.Body.String()), rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 200 "orders of alice (tenant acme)" ""
	// 401 "a bearer token is required" "Bearer"
}

// ExampleVerifier_UnaryServerInterceptor guards gRPC methods: every method of orders.v1.Orders needs
// orders.read, Delete needs orders.write, and a method no rule names is refused.
func ExampleVerifier_UnaryServerInterceptor() {
	key, _ := jwt.Generate(jwt.EdDSA)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		j := key.Public().JWK()
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": j.Kty, "kid": j.Kid, "use": j.Use, "alg": j.Alg, "crv": j.Crv, "x": j.X}}})
	}))
	defer jwks.Close()
	v, err := verifier.New(context.Background(), verifier.Config{Issuer: "https://auth.example.com", Audience: "https://orders.internal", JWKSURL: jwks.URL})
	if err != nil {
		panic(err)
	}
	defer v.Close()
	guard := v.UnaryServerInterceptor(verifier.Rules{
		"/orders.v1.Orders/":       {"orders.read"},
		"/orders.v1.Orders/Delete": {"orders.write"},
	})
	// grpc.NewServer(grpc.UnaryInterceptor(guard)) in a service; here the interceptor is called directly.
	now := time.Now().Unix()
	access, _ := key.Sign(&jwt.Claims{Issuer: "https://auth.example.com", Subject: "alice", Audience: jwt.Audience{"https://orders.internal"},
		ClientID: "web", Scope: "orders.read", Tenant: "acme", IssuedAt: now, Expiry: now + 300, ID: "t-1"})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+access))
	handler := func(ctx context.Context, _ any) (any, error) {
		tok, _ := verifier.FromContext(ctx)
		return "hello " + tok.Subject, nil
	}
	for _, method := range []string{"/orders.v1.Orders/Get", "/orders.v1.Orders/Delete", "/billing.v1.Invoices/Get"} {
		resp, err := guard(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, handler)
		fmt.Println(method, resp, status.Code(err))
	}
	// Output:
	// /orders.v1.Orders/Get hello alice OK
	// /orders.v1.Orders/Delete <nil> PermissionDenied
	// /billing.v1.Invoices/Get <nil> PermissionDenied
}
