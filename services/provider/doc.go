// Package provider is the domain of authsuite's provider service (docs/reference/providers.md): the configurations of
// third-party OAuth providers that authsuite is itself a client of (LoadOAuthConfiguration), the built-in
// catalog of their endpoints, and connectors — grants obtained from those providers on behalf of a caller.
//
// Providers are suite-wide, not per tenant: ThingWorx Flow's configuration file has no tenant dimension (one
// ThingWorx Flow server, one file), so only administrators of the system tenant may load or delete them,
// while connectors belong to a user or client of any tenant.
//
// Secrets (provider client secrets, connector tokens and OAuth 1.0a token secrets, PKCE verifiers, OAuth
// 1.0a temporary secrets) reach a Store only sealed with suitekey (AES-256-GCM, key id inside the record,
// additional data binding the record's key); state values and OAuth 1.0a temporary oauth_token values are
// stored only as SHA-256 hashes.
//
// Trello is the one OAuth 1.0a (RFC 5849) type: its connectors use temporary credentials where OAuth 2.0
// uses state, and their token credentials neither expire nor refresh.
package provider
