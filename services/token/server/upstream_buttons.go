package server

import (
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// upstreamButtons are the "Sign in with X" buttons of a tenant's login page: one per enabled upstream
// provider of st, in the registry's order (by provider id). A disabled provider, or one without an id,
// issuer or client id, gets no button (StartUpstream would refuse it). Nil st or no providers: nil.
func (s *Server) upstreamButtons(st *registryv1.SignInSettings) []*tokenv1.UpstreamButton {
	var out []*tokenv1.UpstreamButton
	for _, p := range st.GetUpstreamProviders() {
		if !upstreamUsable(p) {
			continue
		}
		name := p.GetDisplayName()
		if name == "" {
			name = p.GetProviderId()
		}
		out = append(out, &tokenv1.UpstreamButton{ProviderId: p.GetProviderId(), DisplayName: name})
	}
	return out
}

// upstreamUsable reports whether p can be signed in with: enabled, with an id, an issuer and a client id.
func upstreamUsable(p *registryv1.UpstreamProvider) bool {
	return p != nil && !p.GetDisabled() && p.GetProviderId() != "" && p.GetIssuer() != "" && p.GetClientId() != ""
}
