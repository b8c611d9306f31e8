package outbound

import "net/netip"

// blockedRanges are the address ranges an outbound request may not reach unless the operator allows
// private destinations, each with the reason named in errors. IPv4-mapped IPv6 addresses are unmapped
// first; NAT64 and 6to4 addresses are judged by the IPv4 address they carry.
var blockedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},     // RFC 791 "this network"; 0.0.0.0 reaches the local host
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},        // RFC 1918
	{netip.MustParsePrefix("100.64.0.0/10"), "private"},     // RFC 6598 shared address space (carrier-grade NAT)
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},      // RFC 1122
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"}, // RFC 3927 (cloud metadata services live here)
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},     // RFC 1918
	{netip.MustParsePrefix("192.0.0.0/24"), "private"},      // RFC 6890 IETF protocol assignments
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},    // RFC 1918
	{netip.MustParsePrefix("198.18.0.0/15"), "private"},     // RFC 2544 benchmarking
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},     // RFC 5771
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},      // RFC 1112, with 255.255.255.255 broadcast
	{netip.MustParsePrefix("::/128"), "unspecified"},        // RFC 4291 §2.5.2
	{netip.MustParsePrefix("::1/128"), "loopback"},          // RFC 4291 §2.5.3
	{netip.MustParsePrefix("::/96"), "reserved"},            // RFC 4291 §2.5.5.1 IPv4-compatible (deprecated)
	{netip.MustParsePrefix("fc00::/7"), "unique-local"},     // RFC 4193
	{netip.MustParsePrefix("fe80::/10"), "link-local"},      // RFC 4291 §2.5.6
	{netip.MustParsePrefix("fec0::/10"), "site-local"},      // RFC 3879 (deprecated, still routed by some)
	{netip.MustParsePrefix("ff00::/8"), "multicast"},        // RFC 4291 §2.7
	{netip.MustParsePrefix("100::/64"), "reserved"},         // RFC 6666 discard-only
	{netip.MustParsePrefix("2001:db8::/32"), "reserved"},    // RFC 3849 documentation
}

// embeddedIPv4 are IPv6 prefixes whose addresses carry an IPv4 address in their low 32 bits (NAT64, RFC 6052
// and RFC 8215), or in bits 16..48 (6to4, RFC 3056): reaching them reaches that IPv4 address.
var (
	nat64     = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Classify says why addr may not be reached by an outbound request without the operator's permission:
// "loopback", "private", "unique-local", "link-local", "site-local", "unspecified", "multicast" or
// "reserved"; "" when addr is a public unicast address. An invalid addr is "unspecified".
func Classify(addr netip.Addr) string {
	if !addr.IsValid() {
		return "unspecified"
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		for _, p := range nat64 {
			if p.Contains(addr) {
				b := addr.As16()
				return Classify(netip.AddrFrom4([4]byte(b[12:16])))
			}
		}
		if sixToFour.Contains(addr) {
			b := addr.As16()
			return Classify(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	return ""
}
