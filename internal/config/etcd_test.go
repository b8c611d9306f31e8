package config

import (
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStoreEtcd: --store etcd reads the cluster's settings from flags and the environment, with their defaults.
func TestStoreEtcd(t *testing.T) {
	c, err := Load(RoleAll, []string{"--store", "etcd", "--etcd-endpoints", "http://h1:2379, http://h2:2379,http://[::1]:2379/"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != StoreEtcd || !slices.Equal(c.EtcdEndpoints, []string{"http://h1:2379", "http://h2:2379", "http://[::1]:2379"}) ||
		c.EtcdPrefix != "/authsuite/" || c.EtcdDialTimeout != 5*time.Second {
		t.Fatalf("got %+v", c)
	}
	env := []string{"AUTHSUITE_STORE=etcd", "AUTHSUITE_ETCD_ENDPOINTS=https://e1:2379,https://e2:2379", "AUTHSUITE_ETCD_PREFIX=/suite-a/",
		"AUTHSUITE_ETCD_CA_FILE=ca.pem", "AUTHSUITE_ETCD_CERT_FILE=c.pem", "AUTHSUITE_ETCD_KEY_FILE=k.pem",
		"AUTHSUITE_ETCD_USERNAME=authsuite", "AUTHSUITE_ETCD_PASSWORD=pw", "AUTHSUITE_ETCD_DIAL_TIMEOUT=2s", "AUTHSUITE_MASTER_KEY=k"}
	for _, role := range []Role{RoleAll, RoleToken, RoleRegistry, RoleProvider} {
		c, err := Load(role, nil, env, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if c.Store != StoreEtcd || len(c.EtcdEndpoints) != 2 || c.EtcdPrefix != "/suite-a/" || c.EtcdCAFile != "ca.pem" ||
			c.EtcdCertFile != "c.pem" || c.EtcdKeyFile != "k.pem" || c.EtcdUsername != "authsuite" || c.EtcdPassword != "pw" ||
			c.EtcdDialTimeout != 2*time.Second {
			t.Fatalf("%s: got %+v", role, c)
		}
	}
	// The gateway keeps no state: it ignores the etcd settings, even incomplete ones.
	if _, err := Load(RoleGateway, []string{"--store", "etcd"}, []string{"AUTHSUITE_GATEWAY_CREDENTIAL=g"}, io.Discard); err != nil {
		t.Fatalf("gateway: %v", err)
	}
}

// Every wrong etcd setting is refused with an error naming the flag and its variable.
func TestStoreEtcdInvalid(t *testing.T) {
	etcd := []string{"--store", "etcd", "--etcd-endpoints", "http://h1:2379"}
	tls := []string{"--store", "etcd", "--etcd-endpoints", "https://h1:2379"}
	for _, tt := range []struct {
		args []string
		env  []string
		want string
	}{
		{args: []string{"--store", "etcd"}, want: "--etcd-endpoints (AUTHSUITE_ETCD_ENDPOINTS): --store etcd needs"},
		{args: []string{"--etcd-endpoints", "http://h1:2379"}, want: "--etcd-endpoints (AUTHSUITE_ETCD_ENDPOINTS) is set but --store is bbolt"},
		{args: []string{"--store", "memory", "--etcd-username", "u"}, want: "--etcd-username (AUTHSUITE_ETCD_USERNAME) is set but --store is memory"},
		{env: []string{"AUTHSUITE_ETCD_PREFIX=/a/"}, want: "--etcd-prefix (AUTHSUITE_ETCD_PREFIX) is set but --store is bbolt"},
		{args: []string{"--etcd-dial-timeout", "3s"}, want: "--etcd-dial-timeout (AUTHSUITE_ETCD_DIAL_TIMEOUT) is set but --store is bbolt"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "h1:2379"}, want: "etcd-endpoints"},
		{env: []string{"AUTHSUITE_STORE=etcd", "AUTHSUITE_ETCD_ENDPOINTS=http://h1"}, want: "AUTHSUITE_ETCD_ENDPOINTS"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "http://h1:2379,,http://h2:2379"}, want: "etcd-endpoints"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "http://h1:2379,https://h2:2379"}, want: "mixes"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "http://h1:2379,http://h1:2379"}, want: "twice"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "http://u:p@h1:2379"}, want: "etcd-endpoints"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "http://h1:2379/v3"}, want: "etcd-endpoints"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "unix://h1:2379"}, want: "etcd-endpoints"},
		{args: []string{"--store", "etcd", "--etcd-endpoints", "http://h1:99999"}, want: "etcd-endpoints"},
		{args: append(etcd, "--etcd-prefix", "authsuite/"), want: "--etcd-prefix (AUTHSUITE_ETCD_PREFIX): must start and end with /"},
		{args: append(etcd, "--etcd-prefix", "/authsuite"), want: "--etcd-prefix"},
		{args: append(etcd, "--etcd-prefix", "/auth suite/"), want: "--etcd-prefix"},
		{args: append(etcd, "--etcd-prefix", "/a\x00/"), want: "--etcd-prefix"},
		{args: append(etcd, "--etcd-prefix", ""), want: "--etcd-prefix"},
		{args: append(etcd, "--etcd-prefix", "/"+strings.Repeat("a", MaxEtcdPrefixBytes)+"/"), want: "--etcd-prefix"},
		{args: append(etcd, "--etcd-ca-file", "ca.pem"), want: "TLS files are given but the endpoints are http://"},
		{args: append(tls, "--etcd-cert-file", "c.pem"), want: "--etcd-cert-file (AUTHSUITE_ETCD_CERT_FILE): --etcd-cert-file and --etcd-key-file go together"},
		{args: append(etcd, "--etcd-username", "u"), want: "--etcd-password-file (AUTHSUITE_ETCD_PASSWORD_FILE): --etcd-username needs a password"},
		{args: etcd, env: []string{"AUTHSUITE_ETCD_PASSWORD=pw"}, want: "--etcd-username (AUTHSUITE_ETCD_USERNAME): a password is given"},
		{args: append(etcd, "--etcd-password-file", "pw.txt"), want: "--etcd-username"},
		{args: append(etcd, "--etcd-dial-timeout", "1ms"), want: "--etcd-dial-timeout"},
		{args: append(etcd, "--etcd-dial-timeout", "soon"), want: "etcd-dial-timeout"},
		{args: append(etcd, "--etcd-password", "pw"), want: "etcd-password"}, // never a flag
	} {
		_, err := Load(RoleAll, tt.args, tt.env, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q, %q) = %v; want an error containing %q", tt.args, tt.env, err, tt.want)
		}
	}
	// A username with its password from the environment or a file is complete.
	for _, tt := range []struct{ args, env []string }{
		{append(etcd, "--etcd-username", "u"), []string{"AUTHSUITE_ETCD_PASSWORD=pw"}},
		{append(etcd, "--etcd-username", "u", "--etcd-password-file", "pw.txt"), nil},
	} {
		if _, err := Load(RoleAll, tt.args, tt.env, io.Discard); err != nil {
			t.Errorf("Load(%q, %q): %v", tt.args, tt.env, err)
		}
	}
}

// --token-addr, --registry-addr and --provider-addr take one address or a comma-separated list of replicas.
func TestBackendAddrLists(t *testing.T) {
	key := []string{"AUTHSUITE_MASTER_KEY=k"}
	c, err := Load(RoleGateway, []string{"--token-addr", "t1:9091, t2:9091", "--registry-addr", "r1:9092"}, key, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ParseAddrs(c.TokenAddr); !slices.Equal(got, []string{"t1:9091", "t2:9091"}) {
		t.Errorf("token-addr: %q", got)
	}
	if got, _ := ParseAddrs(c.RegistryAddr); !slices.Equal(got, []string{"r1:9092"}) {
		t.Errorf("registry-addr: %q", got)
	}
	for _, tt := range []struct{ args []string }{
		{[]string{"--token-addr", "t1:9091,"}},
		{[]string{"--token-addr", "t1:9091,t1:9091"}},
		{[]string{"--token-addr", "t1:9091,t2"}},
		{[]string{"--token-addr", ":9091"}},
		{[]string{"--token-addr", "dns:///t1:9091"}},
		{[]string{"--token-addr", strings.Repeat("t:1,", MaxListEntries) + "t:2"}},
	} {
		if _, err := Load(RoleGateway, tt.args, key, io.Discard); err == nil || !strings.Contains(err.Error(), "--token-addr (AUTHSUITE_TOKEN_ADDR)") {
			t.Errorf("Load(gateway, %q) = %v; want an error naming --token-addr", tt.args, err)
		}
	}
}

// FuzzParseEndpoints: what ParseEndpoints accepts is a list of distinct http(s)://host:port URLs of one scheme
// that parses back to itself; what ParseAddrs accepts is distinct host:port pairs.
func FuzzParseEndpoints(f *testing.F) {
	for _, s := range []string{"http://h1:2379", "http://h1:2379,http://h2:2379", " https://[::1]:2379/ ", "http://h:0",
		"http://h:2379?x", "http://h:2379#f", "http://u@h:1", "h:1", "http://h:1,https://h:2", "http://:1", "http://h:+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		eps, err := ParseEndpoints(s)
		if err == nil {
			if len(eps) == 0 || len(eps) > MaxListEntries {
				t.Fatalf("%q: %d endpoints", s, len(eps))
			}
			again, err := ParseEndpoints(strings.Join(eps, ","))
			if err != nil || !slices.Equal(again, eps) {
				t.Fatalf("%q → %q does not parse back to itself: %q, %v", s, eps, again, err)
			}
			// Nothing of an accepted entry is dropped: each is its endpoint, but for one trailing slash.
			for i, e := range strings.Split(s, ",") {
				if e = strings.TrimSpace(e); !strings.EqualFold(strings.TrimSuffix(e, "/"), eps[i]) { // a scheme is case-insensitive
					t.Fatalf("%q: entry %q became %q", s, e, eps[i])
				}
			}
			for _, e := range eps {
				u, err := url.Parse(e)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Scheme != strings.SplitN(eps[0], ":", 2)[0] ||
					u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() == "" || u.Hostname() == "" {
					t.Fatalf("%q: accepted endpoint %q is not scheme://host:port", s, e)
				}
			}
		}
		addrs, err := ParseAddrs(s)
		if err == nil {
			seen := map[string]bool{}
			for _, a := range addrs {
				if host, port, err := net.SplitHostPort(a); err != nil || host == "" || port == "" || seen[a] || strings.Contains(a, ",") {
					t.Fatalf("%q: accepted address %q", s, a)
				}
				seen[a] = true
			}
		}
	})
}

// FuzzValidatePrefix: an accepted prefix starts and ends with "/", is short and is printable ASCII without spaces.
func FuzzValidatePrefix(f *testing.F) {
	for _, s := range []string{"/authsuite/", "/", "//", "authsuite/", "/a b/", "/ä/", "/a\n/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePrefix(p) != nil {
			return
		}
		if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) > MaxEtcdPrefixBytes {
			t.Fatalf("accepted %q", p)
		}
		for _, r := range p {
			if r <= ' ' || r > '~' {
				t.Fatalf("accepted %q with %q", p, r)
			}
		}
	})
}
