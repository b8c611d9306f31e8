package server

import (
	"slices"
	"strings"
	"testing"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/jwt"
)

// FuzzExchangeParams: the parameter checks of an exchange request never panic, and what they accept is a
// request the rest of the grant can rely on: a subject token of an access token type, an actor token only
// with its type, an access token wanted, a bounded target list without repeats, and distinct RFC 6749 §3.3
// scope-tokens that are exactly the request's.
func FuzzExchangeParams(f *testing.F) {
	f.Add("tok", TokenTypeAccessToken, "", "", "", "openid orders.read", "https://a.internal", "b")
	f.Add("tok", TokenTypeJWT, "act", TokenTypeJWT, TokenTypeAccessToken, "a a b", "", "")
	f.Add("", "", "act", "", "x", "\x7f", "r", "r")
	f.Add("tok", "urn:ietf:params:oauth:token-type:id_token", "", TokenTypeAccessToken, "", "", "", "")
	f.Fuzz(func(t *testing.T, subject, subjectType, actor, actorType, requested, scope, resources, audiences string) {
		req := &tokenv1.TokenRequest{
			SubjectToken: subject, SubjectTokenType: subjectType, ActorToken: actor, ActorTokenType: actorType,
			RequestedTokenType: requested, Scope: scope,
			Resource: strings.FieldsFunc(resources, func(r rune) bool { return r == ',' }),
			Audience: strings.FieldsFunc(audiences, func(r rune) bool { return r == ',' }),
		}
		isAT := func(s string) bool { return s == TokenTypeAccessToken || s == TokenTypeJWT }
		if err := checkExchangeParams(req); err == nil {
			if subject == "" || !isAT(subjectType) || (actor != "") != (actorType != "") || (actor != "" && !isAT(actorType)) ||
				(requested != "" && requested != TokenTypeAccessToken) || len(req.Resource)+len(req.Audience) > maxExchangeTargets {
				t.Fatalf("accepted %v", req)
			}
			targets := exchangeTargets(req)
			for i, tg := range targets {
				if slices.Contains(targets[:i], tg) || (!slices.Contains(req.Resource, tg) && !slices.Contains(req.Audience, tg)) {
					t.Fatalf("targets %q of %v", targets, req)
				}
			}
		}
		got, err := parseScope(scope)
		if err != nil {
			return
		}
		var want []string
		for _, sc := range strings.Fields(scope) {
			if !validScopeToken(sc) {
				t.Fatalf("accepted malformed scope %q", sc)
			}
			if !slices.Contains(want, sc) {
				want = append(want, sc)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("parseScope(%q) = %q, want %q", scope, got, want)
		}
	})
}

// FuzzActorChain: the act chain builder never panics, refuses exactly the chains longer than
// MaxDelegationDepth, keeps every prior actor's identity in order beneath the new actor, and shares no
// memory with the subject token's chain.
func FuzzActorChain(f *testing.F) {
	f.Add("svc-a", "svc-a", "b,b;c,c", uint8(2))
	f.Add("", "", "", uint8(0))
	f.Add("x", "y", "1,1;2,2;3,3;4,4;5,5;6,6", uint8(9))
	f.Fuzz(func(t *testing.T, clientID, sub, prior string, depth uint8) {
		// prior is "client,sub;client,sub;…" (outermost first), repeated up to depth times.
		var ids [][2]string
		for range min(int(depth), 8) {
			for _, p := range strings.Split(prior, ";") {
				c, s, _ := strings.Cut(p, ",")
				ids = append(ids, [2]string{c, s})
			}
		}
		var chain *jwt.Actor
		for i := len(ids) - 1; i >= 0; i-- {
			chain = &jwt.Actor{ClientID: ids[i][0], Subject: ids[i][1], Act: chain}
		}
		got, ok := actorChain(jwt.Actor{ClientID: clientID, Subject: sub}, chain)
		if ok != (len(ids)+1 <= MaxDelegationDepth) {
			t.Fatalf("%d prior actors: ok = %v", len(ids), ok)
		}
		if !ok {
			return
		}
		if got.ClientID != clientID || got.Subject != sub {
			t.Fatalf("head %+v", got)
		}
		a, p := got.Act, chain
		for i := range ids {
			if a == nil || a == p || a.ClientID != ids[i][0] || a.Subject != ids[i][1] {
				t.Fatalf("actor %d: %+v (prior %+v)", i, a, p)
			}
			a, p = a.Act, p.Act
		}
		if a != nil {
			t.Fatalf("extra actors %+v", a)
		}
		if msg := toActor(got); msg.GetClientId() != clientID || (len(ids) > 0) != (msg.GetAct() != nil) {
			t.Fatalf("rendered %v", msg)
		}
	})
}
