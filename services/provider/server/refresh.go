package server

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

// notFollowingWait bounds a wait for another replica's refresh while the server does not follow the store
// (Run not started, or its watch down): no change can wake the waiter then, so it looks again this often.
const notFollowingWait = time.Second

// storeTimeout bounds each store write after the provider answered a refresh (storing its answer, or
// giving the lease back), so an answer that arrives just before the refresh's own deadline is still kept.
const storeTimeout = 5 * time.Second

// fresh reports whether g's access token is usable for at least expirySkew more.
func (s *Server) fresh(g provider.Grant) bool {
	return g.Expiry.IsZero() || s.now().Add(expirySkew).Before(g.Expiry)
}

// accessToken returns the connector's current grant, refreshing it first when its access token expired.
//
// A fresh cached grant is answered with no store read (see grantCache). Otherwise the callers for one
// connector in this process share one run (flightGroup) that reads the store and, when the stored access
// token expired, refreshes it at most once across every replica sharing the store: the run that takes the
// store's refresh lease (ClaimRefresh) refreshes and stores the new grant; a run that finds the lease held
// waits for the connector's next change on the store's watch, or for the lease to run out, and looks
// again. A rotated refresh token is persisted (RFC 6749 §6); without a new one the old one is kept. Every
// caller waits at most until its ctx ends.
func (s *Server) accessToken(ctx context.Context, id string) (provider.Grant, error) {
	if g, ok := s.cache.get(id); ok && s.fresh(g) {
		return g, nil
	}
	v, err := s.flights.do(ctx, id, func(ctx context.Context) (any, error) { return s.currentGrant(ctx, id) })
	if err != nil {
		return provider.Grant{}, err
	}
	return v.(provider.Grant), nil
}

// errRetry: the refresh lease was held but the stored grant changed meanwhile; look at the store again.
var errRetry = errors.New("connector grant changed during the refresh")

// currentGrant reads id's grant from the store, refreshing it (or waiting for another replica's refresh)
// when it expired; see accessToken. ctx ends when no caller waits any more.
func (s *Server) currentGrant(ctx context.Context, id string) (provider.Grant, error) {
	for {
		g, again, err := s.grantRound(ctx, id)
		if !again {
			return g, err
		}
	}
}

// grantRound looks at id's stored grant once: it answers it when fresh, refreshes it when this server
// takes the refresh lease, and otherwise waits for the holder's refresh (or its lease's end) and asks to
// look again (again). It also asks to look again when the connector changed between the read and the claim.
func (s *Server) grantRound(ctx context.Context, id string) (g provider.Grant, again bool, err error) {
	gen := s.cache.generation()
	changed, following, done := s.cache.changed(id) // before the read: a change after it closes changed
	defer done()
	con, err := s.store.GetConnector(ctx, id)
	if err != nil {
		return provider.Grant{}, false, err
	}
	if g, err = s.activeGrant(con); err != nil {
		return provider.Grant{}, false, err
	}
	if s.fresh(g) {
		s.cache.put(id, gen, g)
		return g, false, nil
	}
	if g.RefreshToken == "" {
		return provider.Grant{}, false, apierror.FailedPrecondition("the access token of connector %s expired and the provider issued no refresh token; authorize it again", id)
	}
	holder := s.instance + "/" + strconv.FormatUint(s.claims.Add(1), 10)
	now := s.now()
	leaseEnd := time.Now().Add(s.lease) // by this server's own clock, counted from before the claim was sent
	won, cur, err := s.store.ClaimRefresh(ctx, id, holder, now, now.Add(s.lease))
	if err != nil {
		return provider.Grant{}, false, err
	}
	if won {
		// The refresh runs to its end even if every caller leaves: a provider that rotated the refresh
		// token must not have its answer dropped.
		g, err := s.refreshHeld(context.WithoutCancel(ctx), cur, holder, leaseEnd)
		if errors.Is(err, errRetry) {
			return provider.Grant{}, true, nil
		}
		return g, false, err
	}
	if cur.Status != provider.StatusActive || !bytes.Equal(cur.SealedGrant, con.SealedGrant) {
		return provider.Grant{}, true, nil // changed since the read: look again
	}
	s.waits.Add(1)
	if err := s.awaitRefresh(ctx, changed, following, cur.RefreshUntil); err != nil {
		return provider.Grant{}, false, err
	}
	return provider.Grant{}, true, nil
}

// activeGrant opens an active connector's grant; FAILED_PRECONDITION when it has none.
func (s *Server) activeGrant(con provider.Connector) (provider.Grant, error) {
	if con.Status != provider.StatusActive || con.SealedGrant == nil {
		return provider.Grant{}, apierror.FailedPrecondition("connector %s is %s, not active; authorize it again", con.ID, con.Status)
	}
	return s.openGrant(con)
}

// awaitRefresh waits while another holder refreshes: until the connector's next change (changed), the
// end of the holder's lease (until; at most this server's lease from now), or ctx's end (its error).
func (s *Server) awaitRefresh(ctx context.Context, changed <-chan struct{}, following bool, until time.Time) error {
	wait := min(max(until.Sub(s.now()), 0), s.lease)
	if !following {
		wait = min(wait, notFollowingWait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-changed:
	case <-t.C:
	}
	return nil
}

// refreshHeld refreshes con's grant (RFC 6749 §6) under the refresh lease held as holder until leaseEnd
// and stores it, giving the lease back in the same write; the lease is given back whatever else happens.
// Once the lease ends another replica may send the same refresh token, so the provider call ends early
// enough for its answer to be stored before leaseEnd: at most three quarters of the lease, and never
// later than leaseEnd less the time kept for the store write (storeTimeout, or a quarter of a shorter
// lease), however long reading the provider's settings took. A provider's invalid_grant (§5.2) drops the
// grant and marks the connector revoked, when the stored grant is still the one refused (else errRetry:
// another holder's refresh won meanwhile, and is the one to use).
func (s *Server) refreshHeld(ctx context.Context, con provider.Connector, holder string, leaseEnd time.Time) (provider.Grant, error) {
	id := con.ID
	released := false
	defer func() {
		if !released {
			s.releaseRefresh(ctx, id, holder)
		}
	}()
	g, err := s.activeGrant(con)
	if err != nil {
		return provider.Grant{}, err
	}
	if s.fresh(g) { // refreshed by another holder between the read and the claim
		return g, nil
	}
	if g.RefreshToken == "" {
		return provider.Grant{}, apierror.FailedPrecondition("the access token of connector %s expired and the provider issued no refresh token; authorize it again", id)
	}
	callEnd := leaseEnd.Add(-min(storeTimeout, s.lease/4))
	readEnd := time.Now().Add(storeTimeout)
	if callEnd.Before(readEnd) {
		readEnd = callEnd
	}
	readCtx, cancelRead := context.WithDeadline(ctx, readEnd)
	prov, secret, ep, err := s.providerFor(readCtx, con)
	cancelRead()
	if err != nil {
		return provider.Grant{}, err
	}
	callCtx, cancelCall := context.WithDeadline(ctx, callEnd)
	ng, err := s.callRefresh(callCtx, s.catalog[con.Provider.Type], ep.RefreshURL, prov.Settings.ClientID, secret, g.RefreshToken)
	cancelCall()
	storeCtx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	old := con.SealedGrant
	var pe *providerError
	if errors.As(err, &pe) && pe.Code == "invalid_grant" {
		// The provider revoked the grant (RFC 6749 §5.2): drop it, the user must authorize again.
		_, err := s.store.UpdateConnector(storeCtx, id, func(c provider.Connector) (provider.Connector, error) {
			if c.Status != provider.StatusActive || !bytes.Equal(c.SealedGrant, old) {
				return c, errRetry
			}
			c.Status, c.SealedGrant, c.Failure, c.UpdateTime = provider.StatusRevoked, nil, "the provider refused the refresh token", s.now()
			return withoutLease(c, holder), nil
		})
		if errors.Is(err, errRetry) {
			return provider.Grant{}, errRetry
		}
		released = err == nil
		s.cache.drop(id)
		s.log.Info("connector refresh refused; grant dropped", "connector_id", id)
		return provider.Grant{}, apierror.FailedPrecondition("the provider refused to refresh connector %s; authorize it again", id)
	}
	if err != nil {
		return provider.Grant{}, outboundError("refresh failed", err)
	}
	if ng.RefreshToken == "" {
		ng.RefreshToken = g.RefreshToken
	}
	if ng.Scope == "" {
		ng.Scope = g.Scope
	}
	if ng.InstanceURL == "" {
		ng.InstanceURL = g.InstanceURL
	}
	sealed, err := s.sealGrant(id, ng)
	if err != nil {
		return provider.Grant{}, err
	}
	gen := s.cache.generation()
	if _, err := s.store.UpdateConnector(storeCtx, id, func(c provider.Connector) (provider.Connector, error) {
		if c.Status != provider.StatusActive || !bytes.Equal(c.SealedGrant, old) {
			return c, apierror.FailedPrecondition("connector %s changed during the refresh", id)
		}
		c.SealedGrant, c.UpdateTime = sealed, s.now()
		return withoutLease(c, holder), nil
	}); err != nil {
		return provider.Grant{}, err
	}
	released = true
	s.cache.put(id, gen, ng)
	s.log.Info("connector token refreshed", "connector_id", id)
	return ng, nil
}

// callRefresh sends refreshToken to the provider's refresh endpoint (RFC 6749 §6), within three quarters
// of the lease.
func (s *Server) callRefresh(ctx context.Context, entry provider.Entry, refreshURL, clientID, secret, refreshToken string) (provider.Grant, error) {
	ctx, cancel := context.WithTimeout(ctx, s.lease*3/4)
	defer cancel()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	return s.tokenRequest(ctx, entry, refreshURL, clientID, secret, form)
}

// withoutLease clears c's refresh lease when holder holds it.
func withoutLease(c provider.Connector, holder string) provider.Connector {
	if c.RefreshHolder == holder {
		c.RefreshHolder, c.RefreshUntil = "", time.Time{}
	}
	return c
}

// releaseRefresh gives back the refresh lease of connector id held as holder, so a waiting replica need
// not wait for its end. A failure only costs that wait, and is logged.
func (s *Server) releaseRefresh(ctx context.Context, id, holder string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := s.store.ReleaseRefresh(ctx, id, holder); err != nil && !errors.Is(err, apierror.ErrNotFound) {
		s.log.Warn("release a connector's refresh lease", "connector_id", id, "err", err)
	}
}
