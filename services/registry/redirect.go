package registry

import "github.com/authsuite/authsuite/internal/redirecturi"

// MatchRedirectURI reports whether candidate (a redirect_uri from an authorization or logout request) is
// allowed for client: exact string match (RFC 9700 §4.1.3), or a safe prefix match for clients with
// RedirectURIPrefixMatching. See redirecturi.Match for the rules. It never panics, whatever the input.
func MatchRedirectURI(client Client, candidate string) bool {
	return redirecturi.Match(client.RedirectURIs, client.RedirectURIPrefixMatching, candidate)
}
