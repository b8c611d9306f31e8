package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// MaxListEntries bounds a comma-separated list of addresses or endpoints: more than any cluster has.
const MaxListEntries = 64

// MaxEtcdPrefixBytes bounds --etcd-prefix, which starts every key the suite writes.
const MaxEtcdPrefixBytes = 128

// ParseEndpoints reads --etcd-endpoints: a comma-separated list of etcd client URLs, each
// http://host:port or https://host:port with nothing else (no user, path, query or fragment), all with the
// same scheme, none twice, at most MaxListEntries. Spaces around an entry are ignored. It returns the URLs
// as scheme://host:port, in the given order; an error says which entry is wrong and why.
func ParseEndpoints(s string) ([]string, error) {
	entries, err := splitList(s)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(entries))
	scheme := ""
	for _, e := range entries {
		u, err := url.Parse(e)
		if err == nil && u.User != nil {
			return nil, fmt.Errorf("%q: an endpoint must not carry a user or password (give --etcd-username and AUTHSUITE_ETCD_PASSWORD)", redactCredentials(e))
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return nil, fmt.Errorf("want http://host:port or https://host:port, got %q", redactCredentials(e))
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || !validPort(port) {
			return nil, fmt.Errorf("want http://host:port or https://host:port (the port is required), got %q", redactCredentials(e))
		}
		if scheme != "" && u.Scheme != scheme {
			return nil, fmt.Errorf("mixes %s:// and %s:// endpoints: all members are reached the same way", scheme, u.Scheme)
		}
		scheme = u.Scheme
		out = append(out, u.Scheme+"://"+net.JoinHostPort(host, port))
	}
	if err := noDuplicates(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseAddrs reads a list of gRPC addresses (--token-addr, --registry-addr, --provider-addr): host:port
// entries separated by commas, none twice, at most MaxListEntries, spaces around an entry ignored.
func ParseAddrs(s string) ([]string, error) {
	entries, err := splitList(s)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		host, port, err := net.SplitHostPort(e)
		if err != nil || host == "" || port == "" || strings.ContainsAny(e, "/ ") {
			return nil, fmt.Errorf("want host:port (comma-separated for several replicas), got %q", e)
		}
	}
	if err := noDuplicates(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// ValidatePrefix checks --etcd-prefix: it starts and ends with "/", is at most MaxEtcdPrefixBytes long and
// holds printable ASCII only (no space, no control character), so that every key the suite writes is
// readable in etcdctl and no two suites' prefixes differ only by invisible bytes.
func ValidatePrefix(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("must not be empty (the default is %s)", DefaultEtcdPrefix)
	case len(p) > MaxEtcdPrefixBytes:
		return fmt.Errorf("at most %d bytes, got %d", MaxEtcdPrefixBytes, len(p))
	case p[0] != '/' || p[len(p)-1] != '/':
		return fmt.Errorf("must start and end with /, got %q", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x21 || p[i] > 0x7e {
			return fmt.Errorf("printable ASCII without spaces only, got %q", p)
		}
	}
	return nil
}

// validateEtcd checks the settings of --store etcd, as Validate reports them.
func (c Config) validateEtcd() []error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s (%s): %s", flagName, EnvName(flagName), fmt.Sprintf(format, args...)))
	}
	if len(c.EtcdEndpoints) == 0 {
		bad("etcd-endpoints", "--store etcd needs the etcd cluster's client URLs, e.g. http://h1:2379,http://h2:2379,http://h3:2379")
	}
	if err := ValidatePrefix(c.EtcdPrefix); err != nil {
		bad("etcd-prefix", "%v", err)
	}
	if (c.EtcdCertFile == "") != (c.EtcdKeyFile == "") {
		bad("etcd-cert-file", "--etcd-cert-file and --etcd-key-file go together")
	}
	if len(c.EtcdEndpoints) > 0 && strings.HasPrefix(c.EtcdEndpoints[0], "http://") &&
		(c.EtcdCAFile != "" || c.EtcdCertFile != "" || c.EtcdKeyFile != "") {
		bad("etcd-endpoints", "TLS files are given but the endpoints are http://: use https:// URLs")
	}
	if c.EtcdUsername == "" && (c.EtcdPassword != "" || c.EtcdPasswordFile != "") {
		bad("etcd-username", "a password is given (AUTHSUITE_ETCD_PASSWORD or --etcd-password-file) but no user")
	}
	if c.EtcdUsername != "" && c.EtcdPassword == "" && c.EtcdPasswordFile == "" {
		bad("etcd-password-file", "--etcd-username needs a password: set AUTHSUITE_ETCD_PASSWORD or --etcd-password-file")
	}
	if c.EtcdDialTimeout < 100*time.Millisecond || c.EtcdDialTimeout > 5*time.Minute {
		bad("etcd-dial-timeout", "want 100ms to 5m, got %s", c.EtcdDialTimeout)
	}
	return errs
}

// etcdGiven reports whether an etcd-only setting is set, which without --store etcd is a mistake: the
// process would keep its state apart from the cluster the operator named.
func (c Config) etcdGiven() string {
	switch {
	case len(c.EtcdEndpoints) > 0:
		return "etcd-endpoints"
	case c.EtcdUsername != "":
		return "etcd-username"
	case c.EtcdCAFile != "":
		return "etcd-ca-file"
	case c.EtcdCertFile != "":
		return "etcd-cert-file"
	}
	return ""
}

func splitList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty: want at least one entry")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxListEntries {
		return nil, fmt.Errorf("%d entries, at most %d", len(parts), MaxListEntries)
	}
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, fmt.Errorf("empty entry in %q", redactCredentials(s))
		}
	}
	return parts, nil
}

func noDuplicates(list []string) error {
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		if seen[e] {
			return fmt.Errorf("%q is listed twice", redactCredentials(e))
		}
		seen[e] = true
	}
	return nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n > 0 && n <= 65535
}

// credentialsPart matches what comes before an '@' in an entry of a comma-separated list: a URL's user and
// password, which an error message must never repeat.
var credentialsPart = regexp.MustCompile(`(^|,)[^,@]*@`)

// redactCredentials is s as errors may quote it: in each comma-separated entry, everything up to an '@' is
// replaced by "***".
func redactCredentials(s string) string { return credentialsPart.ReplaceAllString(s, "${1}***@") }
