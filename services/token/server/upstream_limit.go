package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
)

// Bounds of upstream round trips started per browser address: every start stores an interaction for
// upstreamLifetime, so an address may start at most upstreamStartsPerWindow of them per upstreamStartWindow.
// A person clicks a provider button a few times at most, and many people may share an address (an office
// behind one NAT, a proxy): the bound is generous, and only slows a script that clicks in a loop (at most
// 1200 stored round trips per address at any time).
const (
	upstreamStartWindow     = time.Minute
	upstreamStartsPerWindow = 120
	// maxUpstreamStartAddresses bounds the counters; when full they are emptied (this only stops growth).
	maxUpstreamStartAddresses = 50000
)

// upstreamStartLimit counts the upstream round trips started per address in fixed windows, in this
// replica's memory. The zero value is ready to use.
type upstreamStartLimit struct {
	mu     sync.Mutex
	window time.Time
	counts map[string]int
}

// allow counts one start from addr at now, or refuses it with 429 and Retry-After (RFC 6585 §4) until the
// window ends. An empty addr (unknown) is not limited.
func (l *upstreamStartLimit) allow(addr string, now time.Time) error {
	if addr == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil || now.Sub(l.window) >= upstreamStartWindow || now.Before(l.window) || len(l.counts) >= maxUpstreamStartAddresses {
		l.window, l.counts = now, map[string]int{}
	}
	if l.counts[addr] >= upstreamStartsPerWindow {
		return &apierror.OAuthError{Code: apierror.TemporarilyUnavailable, Status: http.StatusTooManyRequests,
			Description: "too many sign-ins with an upstream provider from this address; wait a minute",
			RetryAfter:  max(l.window.Add(upstreamStartWindow).Sub(now), time.Second)}
	}
	l.counts[addr]++
	return nil
}
