package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

func mustParse(t testing.TB, s string) Trusted {
	t.Helper()
	tr, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"10.0.0.0/8, 192.0.2.1":     "10.0.0.0/8,192.0.2.1/32",
		"::1,2001:db8::/32":         "::1/128,2001:db8::/32",
		"10.1.2.3/8":                "10.0.0.0/8",
		"::ffff:10.0.0.0/104":       "10.0.0.0/8",
		" 127.0.0.1/32 ,, ::1/128 ": "127.0.0.1/32,::1/128",
	} {
		if got := mustParse(t, in).String(); got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"10.0.0.0/33", "localhost", "10.0.0", "fe80::1%eth0", "1.2.3.4:80", "10.0.0.0/8;"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "is not a CIDR prefix") {
			t.Errorf("Parse(%q): %v, want an error naming it", in, err)
		}
	}
}

func TestClient(t *testing.T) {
	proxies := mustParse(t, "127.0.0.1,::1,10.0.0.0/8")
	tests := []struct {
		name    string
		trusted Trusted
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: remote", nil, "127.0.0.1:5555", []string{"203.0.113.5"}, "127.0.0.1"},
		{"untrusted remote ignores the header", proxies, "198.51.100.1:5555", []string{"203.0.113.5"}, "198.51.100.1"},
		{"one proxy", proxies, "127.0.0.1:5555", []string{"203.0.113.5"}, "203.0.113.5"},
		{"forged hops on the left", proxies, "127.0.0.1:5555", []string{"192.0.2.66, 203.0.113.5"}, "203.0.113.5"},
		{"chain of trusted proxies", proxies, "[::1]:5555", []string{"203.0.113.5, 10.1.1.1", "10.2.2.2"}, "203.0.113.5"},
		{"all hops trusted: leftmost", proxies, "127.0.0.1:1", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"no header: the proxy", proxies, "127.0.0.1:1", nil, "127.0.0.1"},
		{"garbage hop: the trusted hop right of it", proxies, "127.0.0.1:1", []string{"unknown, 10.1.1.1"}, "10.1.1.1"},
		{"hop with port", proxies, "127.0.0.1:1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"mapped IPv4", proxies, "[::ffff:127.0.0.1]:1", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},
		{"remote without port", nil, "192.0.2.9", nil, "192.0.2.9"},
		{"remote not an address", proxies, "pipe", []string{"203.0.113.5"}, "pipe"},
	}
	for _, tc := range tests {
		if got := tc.trusted.Client(tc.remote, tc.xff); got != tc.want {
			t.Errorf("%s: Client(%q, %q) = %q, want %q", tc.name, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// FuzzClient checks, for any header and remote address: an untrusted remote is the answer; otherwise the
// answer is the remote or one of the hops, and every hop to the right of the one answered is trusted (the
// client can never choose an address to the left of the rightmost untrusted hop).
func FuzzClient(f *testing.F) {
	f.Add("127.0.0.1:80", "203.0.113.5, 10.0.0.1", "10.0.0.0/8,127.0.0.1")
	f.Add("[::1]:80", "unknown,::1", "::1")
	f.Add("198.51.100.1:1", "127.0.0.1", "127.0.0.0/8")
	f.Fuzz(func(t *testing.T, remote, header, trusted string) {
		tr, err := Parse(trusted)
		if err != nil {
			return
		}
		got := tr.Client(remote, []string{header})
		host := remote
		if a, ok := parseHop(remote); ok {
			host = a.String()
		} else if h, _, ok := strings.Cut(remote, ":"); ok && strings.Count(remote, ":") == 1 {
			host = h
		}
		ra, remoteIP := parseHop(host)
		if !remoteIP || !tr.Contains(ra) {
			if remoteIP && got != ra.String() {
				t.Fatalf("untrusted remote %q: got %q", remote, got)
			}
			return
		}
		hops := splitHops([]string{header})
		idx := -1 // position of the answer among the hops; len(hops) for the remote itself
		if got == ra.String() {
			idx = len(hops)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			if a, ok := parseHop(hops[i]); ok && a.String() == got {
				idx = i
				break
			}
		}
		if idx < 0 {
			t.Fatalf("answer %q is neither the remote %q nor a hop of %q", got, remote, header)
		}
		for _, h := range hops[min(idx+1, len(hops)):] {
			if a, ok := parseHop(h); !ok || !tr.Contains(a) {
				t.Fatalf("answer %q is left of the untrusted hop %q in %q", got, h, header)
			}
		}
		if a, err := netip.ParseAddr(got); err != nil || a.String() != got {
			t.Fatalf("answer %q is not a canonical address", got)
		}
	})
}

// FuzzParse checks that a parsed set prints in a form that parses back to the same set, of masked prefixes
// without zones, and that Parse never accepts an element that is not an address or prefix.
func FuzzParse(f *testing.F) {
	f.Add("10.0.0.0/8, 192.0.2.1")
	f.Add("::ffff:10.0.0.0/104,::1")
	f.Add("fe80::1%eth0")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := Parse(s)
		if err != nil {
			return
		}
		for _, p := range tr {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" || p.Addr().Is4In6() {
				t.Fatalf("Parse(%q) holds %v", s, p)
			}
		}
		back, err := Parse(tr.String())
		if err != nil || back.String() != tr.String() {
			t.Fatalf("Parse(%q) = %q, which parses as %q, %v", s, tr, back, err)
		}
		for el := range strings.SplitSeq(s, ",") {
			if el = strings.TrimSpace(el); el == "" {
				continue
			}
			if _, perr := netip.ParsePrefix(el); perr != nil {
				if _, aerr := netip.ParseAddr(el); aerr != nil {
					t.Fatalf("Parse(%q) accepted %q", s, el)
				}
			}
		}
	})
}
