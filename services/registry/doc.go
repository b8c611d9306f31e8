// Package registry is the domain of the registry service: tenants, OAuth clients (RFC 6749 §2) with their
// secrets, and users. It holds the plain Go types, the Store interface every backend implements (see
// storetest for the conformance suite), the validation rules of the admin API (docs/reference/admin-api.md) with their
// defaults, the redirect-URI matcher, password hashing and the first-start bootstrap.
//
// The package knows nothing of gRPC or bbolt: dependencies point domain ← store ← server.
package registry
