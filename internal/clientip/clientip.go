// Package clientip finds the address of an HTTP client behind reverse proxies the operator trusts.
//
// A proxy appends the address it received a request from to X-Forwarded-For (the de facto form of RFC 7239
// §5.2 "for"). Only the hops that trusted proxies appended are facts; everything to their left was written
// by the client and can be forged. So the client is the rightmost hop that is not a trusted proxy, walking
// from the connection's own remote address leftwards while each hop is trusted. Without trusted proxies
// the remote address is the client and X-Forwarded-For is ignored.
package clientip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// maxHops bounds how many X-Forwarded-For hops are examined.
const maxHops = 64

// Trusted is a set of proxy address ranges. The zero value trusts nothing.
type Trusted []netip.Prefix

// Parse parses a comma-separated list of CIDR prefixes ("10.0.0.0/8") or single addresses ("192.0.2.1",
// "::1"), spaces allowed; "" is the empty set. An error names the first bad element.
func Parse(s string) (Trusted, error) {
	var out Trusted
	for el := range strings.SplitSeq(s, ",") {
		el = strings.TrimSpace(el)
		if el == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(el, "/") {
			p, err = netip.ParsePrefix(el)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(el); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() {
			return nil, fmt.Errorf("%q is not a CIDR prefix or IP address", el)
		}
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// String is the set in the form Parse reads.
func (t Trusted) String() string {
	parts := make([]string, len(t))
	for i, p := range t {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Contains reports whether a is in a trusted range (IPv4-mapped IPv6 addresses count as IPv4).
func (t Trusted) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the client address of a request that arrived from remote (an http.Request's RemoteAddr:
// "host:port", or a bare host) carrying the X-Forwarded-For header values forwarded, in order. When remote is
// not trusted it is the client (forwarded is ignored). Otherwise the hops are read from the right; the first
// one that is not trusted is the client. When every hop is trusted, the leftmost is the client; when a hop is
// not an IP address (a trusted proxy wrote something else), the trusted hop to its right is. The answer is
// an address in canonical form, or remote's host as given when that is not an IP address.
func (t Trusted) Client(remote string, forwarded []string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	cur, ok := parseHop(host)
	if !ok {
		return host
	}
	if len(t) == 0 || !t.Contains(cur) {
		return cur.String()
	}
	hops := splitHops(forwarded)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		cur = a
		if !t.Contains(a) {
			break
		}
	}
	return cur.String()
}

// splitHops is the comma-separated hops of the header values, at most the maxHops rightmost.
func splitHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops[max(len(hops)-maxHops, 0):]
}

// parseHop reads one hop: an IP address, optionally with a port ("192.0.2.1:443", "[2001:db8::1]:443").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
