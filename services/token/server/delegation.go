package server

import (
	"context"
	"slices"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/directory"
	"github.com/authsuite/authsuite/services/token/clients"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// This file is the token service's one notion of delegation: a party acting for a subject. Impersonation
// (sudo on the check endpoint) and token exchange (RFC 8693) both ask delegate, which decides whether the
// actor may act for the subject and builds the actor chain (the act claim, RFC 8693 §4.1) the answer or
// the issued token carries.

// MaxDelegationDepth bounds the actors in an act chain (RFC 8693 §4.1), the acting party included: a
// delegation that would make it longer is refused. It also bounds pjti, the parents of an exchanged token.
const MaxDelegationDepth = 5

// delegation asks whether actor may act for a subject. Exactly one of subject (token exchange: the
// subject token) and sudo (impersonation: the user selector) is set.
type delegation struct {
	// actor is the acting party's verified token: under sudo, the token presented to the check endpoint;
	// in an exchange, the actor_token when one is given. Its own act chain is kept beneath it.
	actor *verified
	// client is the exchanging client (token exchange only): the acting party when no actor token is given.
	client *clients.Client
	// subject is the subject token of an exchange.
	subject *verified
	// sudo is the user an impersonation asks for.
	sudo access.SudoRequest
}

// delegated is the outcome of a granted delegation.
type delegated struct {
	// act is the actor chain: the acting party first, the parties that acted before it nested inside.
	act *jwt.Actor
	// principal is the impersonated user's principal (sudo only).
	principal access.Principal
}

// errNoDelegation is the one answer of an exchange whose subject token may not be used by the client: it
// does not say whether the token is invalid, expired, revoked or merely not the client's to exchange. RFC
// 8693 §2.2.2: an invalid or unacceptable subject or actor token is invalid_request.
var errNoDelegation = apierror.OAuth(apierror.InvalidRequest, "the subject_token is invalid or may not be exchanged by this client")

// delegate is the one delegation policy of the token service: it decides whether the acting party may act
// for the subject and, when it may, returns the actor chain. Its two sources:
//
//   - impersonation (d.sudo): the suite's access rule (access.Resolve with the registry as directory)
//     decides — scope sudo, a client or a system-tenant admin, a non-system client only in its own tenant —
//     and resolves the user; the actor is the token's client and subject, with the token's own chain
//     beneath (a sudo check made with an exchanged token shows who acted before).
//   - exchange (d.subject): the subject token must be of the exchanging client's tenant, and either its
//     audience names an API resource the client serves, or its may_act claim (RFC 8693 §4.4) names the
//     client; every refusal is errNoDelegation. The actor is the actor token's party when given, else the
//     client, with the subject token's chain beneath.
//
// Either way a chain longer than MaxDelegationDepth is refused. It calls the registry for sudo only.
func (s *Server) delegate(ctx context.Context, d delegation) (delegated, error) {
	if d.subject != nil {
		sc, cl := d.subject.claims, d.client
		if cl == nil || sc.Tenant != cl.TenantID || !mayExchange(cl, sc) {
			return delegated{}, errNoDelegation
		}
		act, ok := actorChain(exchangeActor(cl, d.actor), sc.Act)
		if !ok || len(sc.Parents) >= MaxDelegationDepth {
			return delegated{}, apierror.OAuth(apierror.InvalidRequest, "the subject_token's delegation chain is too long (at most %d actors)", MaxDelegationDepth)
		}
		return delegated{act: act}, nil
	}
	c := d.actor.claims
	tok := access.Token{ClientID: c.ClientID, TenantID: c.Tenant, UserID: userID(c), Scopes: d.actor.scopes}
	p, err := access.Resolve(ctx, directory.NewRegistry(s.reg), tok, d.sudo)
	if err != nil {
		return delegated{principal: p}, err
	}
	act, ok := actorChain(jwt.Actor{ClientID: c.ClientID, Subject: c.Subject}, c.Act)
	if !ok {
		return delegated{principal: p}, apierror.PermissionDenied("the token's delegation chain is too long for sudo (at most %d actors)", MaxDelegationDepth)
	}
	return delegated{act: act, principal: p}, nil
}

// mayExchange is the exchange source of the policy: the subject token's audience names a resource cl
// serves, or its may_act names cl (RFC 8693 §4.4: "the party identified ... is authorized to become the
// actor").
func mayExchange(cl *clients.Client, sc *jwt.Claims) bool {
	for _, aud := range sc.Audience {
		if slices.Contains(cl.ServesResources, aud) {
			return true
		}
	}
	if m := sc.MayAct; m != nil {
		// The named party is the client: by client_id, or by sub (a client's own tokens have sub = client_id).
		return (m.ClientID != "" || m.Subject != "") &&
			(m.ClientID == "" || m.ClientID == cl.ID) && (m.Subject == "" || m.Subject == cl.ID)
	}
	return false
}

// exchangeActor is the acting party of an exchange: the party of the actor token when one was given (it is
// the client's own token, checked by the caller), else the client itself.
func exchangeActor(cl *clients.Client, actor *verified) jwt.Actor {
	if actor != nil {
		return jwt.Actor{ClientID: actor.claims.ClientID, Subject: actor.claims.Subject}
	}
	return jwt.Actor{ClientID: cl.ID, Subject: cl.ID}
}

// actorChain is the one builder of act claims (RFC 8693 §4.1): the acting party, with the chain of the
// parties that acted before it (prior, the subject's own act) nested beneath, "the least recent actor
// being the most deeply nested". It copies prior, so the result shares nothing with the token it came
// from, and reports false when the chain would exceed MaxDelegationDepth. prior is walked at most
// MaxDelegationDepth deep, however deep it is.
func actorChain(actor jwt.Actor, prior *jwt.Actor) (*jwt.Actor, bool) {
	head := &jwt.Actor{ClientID: actor.ClientID, Subject: actor.Subject}
	tail := head
	for depth := 1; prior != nil; depth++ {
		if depth >= MaxDelegationDepth {
			return nil, false
		}
		// Only the identity of each prior actor is kept (RFC 8693 §4.1: non-identity claims of prior
		// actors are not meaningful for access control).
		tail.Act = &jwt.Actor{ClientID: prior.ClientID, Subject: prior.Subject}
		tail, prior = tail.Act, prior.Act
	}
	return head, true
}
