package server

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/bearer"
	"github.com/authsuite/authsuite/internal/directory"
	"github.com/authsuite/authsuite/services/token"
)

// The token service's admin APIs (SigningKeyService here, SessionService in admin_sessions.go) authorize
// like every other admin API of the suite: bearer.Resolve with the suite's one rule (internal/access), the
// registry as directory, and the access token verified here, in process, exactly as AuthenticateToken
// verifies it for the other services (it must name this issuer in aud).

// ownTokens is the token service's own bearer.Authenticator.
type ownTokens struct{ s *Server }

// Authenticate implements bearer.Authenticator.
func (a ownTokens) Authenticate(_ context.Context, raw string) (bearer.TokenInfo, error) {
	v, err := a.s.verifyOwnToken(raw)
	if err != nil {
		return bearer.TokenInfo{}, apierror.Unauthenticated("invalid or expired access token")
	}
	r := toAuthenticateResponse(v)
	return bearer.TokenInfo{Subject: r.GetSubject(), ClientID: r.GetClientId(), TenantID: r.GetTenantId(),
		UserID: r.GetUserId(), Scopes: r.GetScopes(), JTI: r.GetJti(), Expiry: time.Unix(r.GetExpireTime(), 0)}, nil
}

// authorizeAdmin resolves the caller of an admin call and requires an admin of tenantID (or of the system
// tenant), or, when tenantID is empty, an admin of the system tenant (what names the suite-wide operation,
// for the refusal). It writes the call's audit record ("admin call", bearer.Audit) with extra.
func (s *Server) authorizeAdmin(ctx context.Context, tenantID, what string, extra ...slog.Attr) (access.Principal, error) {
	p, err := bearer.Resolve(ctx, ownTokens{s}, directory.NewRegistry(s.reg))
	if err == nil {
		if tenantID == "" {
			err = p.RequireSystemAdmin(what)
		} else {
			err = p.RequireAdminOf(tenantID)
		}
	}
	bearer.Audit(ctx, s.log, p, err, extra...)
	return p, err
}

// signingKeys is SigningKeyService.
type signingKeys struct {
	tokenv1.UnimplementedSigningKeyServiceServer
	s *Server
}

// Key states of SigningKey.state.
const (
	keyCurrent = "current"
	keyNext    = "next"
	keyRetired = "retired"
)

// ListSigningKeys implements SigningKeyService (system administrators only).
func (k signingKeys) ListSigningKeys(ctx context.Context, _ *tokenv1.ListSigningKeysRequest) (*tokenv1.ListSigningKeysResponse, error) {
	s := k.s
	if _, err := s.authorizeAdmin(ctx, "", "see the signing keys: they are suite-wide"); err != nil {
		return nil, err
	}
	keys, err := s.st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return &tokenv1.ListSigningKeysResponse{Items: toSigningKeys(keys, s.now())}, nil
}

// RotateSigningKey implements SigningKeyService (system administrators only): rotateNow.
func (k signingKeys) RotateSigningKey(ctx context.Context, req *tokenv1.RotateSigningKeyRequest) (*tokenv1.RotateSigningKeyResponse, error) {
	s := k.s
	if _, err := s.authorizeAdmin(ctx, "", "rotate the signing key: it is suite-wide"); err != nil {
		return nil, err
	}
	if len(req.GetCurrentKid()) > 256 {
		return nil, apierror.Invalid("current_kid", "is longer than 256 characters")
	}
	keys, added, err := s.rotateNow(ctx, req.GetCurrentKid())
	if err != nil {
		return nil, err
	}
	now := s.now()
	items := toSigningKeys(keys, now)
	var newest *tokenv1.SigningKey
	for _, it := range items {
		if it.RetireTime == nil {
			newest = it
		}
	}
	// The audit log's keys_rotated event is recorded by the audit layer (internal/audit) from this answer.
	s.log.Info("signing key rotation asked", "rotated", added, "kid", newest.GetKid())
	return &tokenv1.RotateSigningKeyResponse{Key: newest, Rotated: added, Items: items}, nil
}

// errNoCurrentKey: the key set has no current key (it always has one once the service started).
var errNoCurrentKey = apierror.FailedPrecondition("the signing key set has no current key")

// rotateNow replaces the newest key (the one without a retire time) by a new one, through the schedule's
// compare-and-swap (keyManager.update), and loads the result. It rotates only while the newest key is
// expectKID (when empty: the newest key read now) and is not itself a rotation still being published: so
// of concurrent calls that saw one key (on any replica), exactly one makes a new key, and a call during
// the publish delay answers the key being published. It answers the stored keys and whether it added one.
func (s *Server) rotateNow(ctx context.Context, expectKID string) ([]token.SigningKey, bool, error) {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	m := s.keys
	now := m.now()
	keys, err := s.st.Keys(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := m.checkOpen(keys); err != nil {
		return nil, false, err
	}
	newest := newestKey(keys)
	if newest == nil {
		return nil, false, errNoCurrentKey
	}
	if expectKID == "" {
		expectKID = newest.ID
	}
	rotate := func(old []token.SigningKey) bool {
		n := newestKey(old)
		return n != nil && n.ID == expectKID && !now.Before(n.CreateTime)
	}
	keys, added, err := m.update(ctx, now, rotate(keys), rotate)
	if err != nil {
		return nil, false, err
	}
	if err := m.load(keys); err != nil {
		return nil, false, err
	}
	return keys, added != nil, nil
}

// newestKey is the key without a retire time (the current key, or the next one while it is published).
func newestKey(keys []token.SigningKey) *token.SigningKey {
	for i := range keys {
		if keys[i].RetireTime.IsZero() {
			return &keys[i]
		}
	}
	return nil
}

// toSigningKeys describes keys (ordered by CreateTime) at now, newest first.
func toSigningKeys(keys []token.SigningKey, now time.Time) []*tokenv1.SigningKey {
	out := make([]*tokenv1.SigningKey, 0, len(keys))
	for _, k := range keys {
		state := keyCurrent
		switch {
		case k.RetireTime.IsZero() && now.Before(k.CreateTime):
			state = keyNext
		case !k.RetireTime.IsZero() && !now.Before(k.RetireTime):
			state = keyRetired
		}
		sk := &tokenv1.SigningKey{Kid: k.ID, Alg: k.Alg, State: state, CreateTime: timestamppb.New(k.CreateTime)}
		if !k.RetireTime.IsZero() {
			sk.RetireTime = timestamppb.New(k.RetireTime)
			sk.ExpireTime = timestamppb.New(k.RetireTime.Add(RetiredKeyValidity))
		}
		out = append(out, sk)
	}
	slices.Reverse(out)
	return out
}
