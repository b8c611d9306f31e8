// Package verifier lets a service check authsuite access tokens (RFC 9068 JWTs) locally, with no call to
// authsuite per request, and still refuse revoked tokens within about a second.
//
// A Verifier holds:
//   - the issuer's signing keys (its JWKS, from the jwks_uri over HTTP(S) or from the token service's gRPC
//     OAuthService.GetJwks), fetched at New and again, single-flight and rate-limited, when a token names
//     a key it does not know (after a key rotation);
//   - a cache of verified signatures by token hash (at most 2×Config.CacheSize tokens; expiry and
//     revocation are checked on every call, so a cached token is refused once it expires), so a token seen
//     before costs a hash and a few map lookups;
//   - the revocations still in force, from the token service's RevocationService.WatchRevocations stream:
//     revoked tokens (jti), refresh token families (fid), the tokens a revoked token was exchanged into
//     (pjti), and cutoffs for users that were disabled, deleted or created anew and for deleted clients.
//     The watch reconnects with backoff (at most a second) and resumes from the last revision it applied.
//
// Verify checks, in order: the token's syntax and signature (an authsuite key, typ at+jwt), iss equal to
// Config.Issuer, aud containing Config.Audience, exp and iat with Config.Leeway, the certificate binding of
// RFC 8705 §3 (a token with cnf x5t#S256 is accepted only from the client certificate it names), and the
// revocations. Until the revocation watch has received the full state once, Verify fails closed with
// ErrNotReady (Config.AllowUnsynced changes that), and so it does when the watch has been broken for longer
// than Config.MaxStale.
//
// Config.Introspection switches to per-request introspection (RFC 7662) at the token service instead: one
// gRPC call per Verify, no local state, for callers that prefer that.
//
// UnaryServerInterceptor and StreamServerInterceptor protect a gRPC server: Rules name the scopes each
// method (or method prefix) requires; a method no rule names is refused. Middleware protects a net/http
// handler with the RFC 6750 §3 error responses. Both put the verified *Token into the request's context
// (FromContext).
//
// A Verifier is safe for concurrent use. Close stops its revocation watch.
//
// The package is versioned with authsuite's protos: it speaks the RevocationService and OAuthService of the
// same release.
package verifier
