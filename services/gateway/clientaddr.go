package gateway

import (
	"net/http"

	"github.com/authsuite/authsuite/internal/clientip"
)

// Option configures a Gateway.
type Option func(*Gateway)

// WithTrustedProxies makes the gateway believe X-Forwarded-For from the given reverse proxies (see
// clientAddr). Without it, the header is ignored.
func WithTrustedProxies(t clientip.Trusted) Option {
	return func(g *Gateway) { g.proxies = t }
}

// clientAddr is the address of the browser that sent r, the one fact about it that only the gateway can
// state (the per-address login throttle keys on it): the connection's remote address, or, when that is a
// trusted proxy, the rightmost X-Forwarded-For hop that is not one (clientip.Trusted.Client). A client cannot
// choose it by sending the header itself.
func (g *Gateway) clientAddr(r *http.Request) string {
	return g.proxies.Client(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}
