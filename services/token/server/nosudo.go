package server

import (
	"context"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
)

// refuseSudo refuses a call that asks for sudo (the metadata the gateway forwards from ?sudo= and the
// Authsuite-Sudo headers) on an RPC that can only act as the caller: the client credentials and revocation
// calls of the simple token API, and the OAuth token, introspection, revocation and userinfo endpoints.
// Answering such a call as the caller would let a client take the caller's answer for the user's; it is
// refused with invalid_request (RFC 6749 §5.2) before anything happens.
func refuseSudo(ctx context.Context) error {
	if bearer.SudoFromContext(ctx).Asked() {
		return apierror.OAuth(apierror.InvalidRequest, "sudo is not accepted here")
	}
	return nil
}
