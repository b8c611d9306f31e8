// Package config reads authsuite's settings: command-line flags, each overridable by an AUTHSUITE_*
// environment variable named after it (--http-addr ↔ AUTHSUITE_HTTP_ADDR); a flag given on the command
// line wins over the environment. Load validates everything and names the offending setting.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/clientip"
)

// Role is what one authsuite process runs.
type Role string

// The roles. RoleAll runs every service and the gateway in one process (the default).
const (
	RoleAll      Role = ""
	RoleToken    Role = "token"
	RoleRegistry Role = "registry"
	RoleProvider Role = "provider"
	RoleGateway  Role = "gateway"
)

// ParseRole reads a role name as given to `authsuite serve ROLE`.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAll, RoleToken, RoleRegistry, RoleProvider, RoleGateway:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: want token, registry, provider or gateway", s)
}

// Runs reports whether a process of role r runs the part p (a service role or the gateway).
func (r Role) Runs(p Role) bool { return r == RoleAll || r == p }

// Default listen addresses per role, so that every role can run by hand on one host with no flags: the REST
// API (one-process mode and gateway), gRPC (services) and the admin listener (/metrics, /healthz, /readyz).
// The service roles' admin listeners keep the ports their health listeners always had.
var defaultAddrs = map[Role]struct{ http, grpc, admin string }{
	RoleAll:      {"127.0.0.1:8080", "127.0.0.1:9090", "127.0.0.1:8084"},
	RoleGateway:  {"127.0.0.1:8080", "", "127.0.0.1:8084"},
	RoleToken:    {"", "127.0.0.1:9091", "127.0.0.1:8081"},
	RoleRegistry: {"", "127.0.0.1:9092", "127.0.0.1:8082"},
	RoleProvider: {"", "127.0.0.1:9093", "127.0.0.1:8083"},
}

// ErrHelp is returned by Load when -h or --help was given: the usage was written and nothing else happens.
var ErrHelp = flag.ErrHelp

// EnvOnly are the settings read from the environment only (secrets do not belong on a command line), with
// what each does. Usage lists them; Load reads exactly these.
var EnvOnly = []struct{ Name, Usage string }{
	{"AUTHSUITE_MASTER_KEY", "the suite's master key, base64 of 32 random bytes (NEW,OLD while rotating); wins over --master-key-file. Every service role needs it (or the file); losing it loses every secret and sealed record"},
	{"AUTHSUITE_BOOTSTRAP_SECRET", "secret of the admin client created on the first start of an empty registry (when unset, one is generated and printed once); ignored, with one warning, once the data directory is bootstrapped"},
	{"AUTHSUITE_BOOTSTRAP_PASSWORD", "when set on that first start, also creates user admin (tenant_admin) with this password; ignored, with one warning, afterwards"},
	{"AUTHSUITE_ETCD_PASSWORD", "password of --etcd-username for etcd authentication; wins over --etcd-password-file"},
	{"AUTHSUITE_GATEWAY_CREDENTIAL", "what the gateway role presents to the services instead of the master key: the output of `authsuite gateway-credential`"},
	{"GOGC", "Go's garbage collection target; serve uses 400 unless it is set"},
}

// Config is the validated configuration of one authsuite process.
type Config struct {
	Role Role // what this process runs

	HTTPAddr      string        // REST API listen address (gateway, all; empty for a service role), also /healthz, /readyz
	AdminAddr     string        // admin listener: /metrics, /healthz, /readyz (every role)
	GRPCAddr      string        // gRPC listen address (services)
	TokenAddr     string        // where the token service is reached (split roles): host:port, comma-separated (Addrs)
	RegistryAddr  string        // where the registry is reached (split roles), as TokenAddr
	ProviderAddr  string        // where the provider service is reached (split roles), as TokenAddr
	TLSCert       string        // gateway HTTPS certificate (PEM file); with TLSKey
	TLSKey        string        // gateway HTTPS key (PEM file)
	TLSClientCA   string        // CA bundle (PEM file) verifying tls_client_auth client certificates (token role, all)
	GRPCTLSCert   string        // this role's certificate for mutual TLS between roles
	GRPCTLSKey    string        // its key
	GRPCTLSCA     string        // the CA that signs every role's certificate
	ShutdownGrace time.Duration // how long in-flight requests may take to finish on SIGTERM
	Store         string        // where services keep their state: StoreBbolt (files in DataDir), StoreMemory or StoreEtcd
	DataDir       string        // where the bbolt files and the generated master key live
	Issuer        string        // OAuth issuer; empty means http:// + the bound HTTP address
	MasterKeyFile string        // key file used when AUTHSUITE_MASTER_KEY is not set
	SigningAlg    string        // ES256, EdDSA or RS256
	KeyRotation   time.Duration // signing key rotation period
	LogFormat     string        // text or json
	LogLevel      string        // debug, info, warn, error
	AuthzRoutes   string        // route file of the Envoy authorizer (token role, all-in-one); empty: not served

	// Bounds of the REST listener (gateway and all-in-one; internal/httplimit).
	MaxBodyBytes           int64         // largest request body (413 beyond)
	MaxProviderConfigBytes int64         // largest LoadOAuthConfiguration body
	HTTPReadTimeout        time.Duration // whole request, headers and body
	HTTPWriteTimeout       time.Duration // from the end of the request headers to the end of the response
	HTTPIdleTimeout        time.Duration // keep-alive connection waiting for its next request
	MaxConnections         int           // open REST connections; a share is kept for /healthz and /readyz
	// TrustedProxies are the reverse proxies whose X-Forwarded-For the gateway believes (internal/clientip).
	TrustedProxies clientip.Trusted
	// AllowPrivateOutbound lets outbound HTTP (back-channel logout, provider endpoints) reach loopback,
	// private, link-local and other non-public addresses (internal/outbound).
	AllowPrivateOutbound bool

	// The etcd cluster of --store etcd (internal/etcdclient); ignored by the other backends and the gateway.
	EtcdEndpoints    []string      // client URLs, http:// or https:// (ParseEndpoints)
	EtcdPrefix       string        // key prefix of this suite: every key it writes starts with it (ValidatePrefix)
	EtcdCAFile       string        // CA that signs the etcd servers' certificates (PEM); https endpoints
	EtcdCertFile     string        // client certificate for etcd's mutual TLS (PEM); with EtcdKeyFile
	EtcdKeyFile      string        // its key
	EtcdUsername     string        // etcd user (etcd's own authentication); with a password
	EtcdPasswordFile string        // file holding the password when AUTHSUITE_ETCD_PASSWORD is not set
	EtcdDialTimeout  time.Duration // how long connecting and the start-up check may take

	// From the environment only: secrets do not belong on a command line.
	EtcdPassword      string // AUTHSUITE_ETCD_PASSWORD
	MasterKey         string // AUTHSUITE_MASTER_KEY
	BootstrapSecret   string // AUTHSUITE_BOOTSTRAP_SECRET
	BootstrapPassword string // AUTHSUITE_BOOTSTRAP_PASSWORD
	// GatewayCredential (AUTHSUITE_GATEWAY_CREDENTIAL) is what a gateway role presents to the services'
	// browser-facing methods (internal/internalauth); `authsuite gateway-credential` prints it from
	// AUTHSUITE_MASTER_KEY. A gateway given the master key instead derives it.
	GatewayCredential string
}

// The backends of --store.
const (
	// StoreBbolt keeps each service's state in its own bbolt file in --data-dir: every acknowledged write is
	// on disk.
	StoreBbolt = "bbolt"
	// StoreMemory keeps it in process memory: nothing is written, everything is lost when the process ends.
	StoreMemory = "memory"
	// StoreEtcd keeps it in an etcd cluster (--etcd-endpoints), under --etcd-prefix: every replica of every
	// role that names the same cluster and prefix shares it.
	StoreEtcd = "etcd"
)

// DefaultEtcdPrefix is --etcd-prefix's default.
const DefaultEtcdPrefix = "/authsuite/"

// EnvName is the environment variable that overrides a flag.
func EnvName(flagName string) string {
	return "AUTHSUITE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load parses the flags of `authsuite serve [role]` from args (without the program, subcommand and role
// names) and env ("KEY=value" pairs). On -h or --help it writes Usage to out and returns ErrHelp; parse errors
// are returned, never written.
func Load(role Role, args []string, env []string, out io.Writer) (Config, error) {
	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	c := Config{Role: role}
	fs := newFlagSet(role, &c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if out != nil {
				io.WriteString(out, Usage(role))
			}
			return Config{}, ErrHelp
		}
		return Config{}, fmt.Errorf("%v (`%s -h` lists the flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := envMap[EnvName(f.Name)]
		if given[f.Name] || !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", EnvName(f.Name), err))
		}
		given[f.Name] = true
	})
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if err := c.resolveAdminAddr(given["http-addr"], given["admin-addr"]); err != nil {
		return Config{}, err
	}
	c.EtcdPassword = envMap["AUTHSUITE_ETCD_PASSWORD"]
	c.MasterKey = envMap["AUTHSUITE_MASTER_KEY"]
	c.BootstrapSecret = envMap["AUTHSUITE_BOOTSTRAP_SECRET"]
	c.BootstrapPassword = envMap["AUTHSUITE_BOOTSTRAP_PASSWORD"]
	c.GatewayCredential = envMap["AUTHSUITE_GATEWAY_CREDENTIAL"]
	if role == RoleGateway && c.GatewayCredential == "" && c.MasterKey == "" {
		// Without it the services refuse the sign-in pages' calls (only the gateway may state browser facts).
		return Config{}, fmt.Errorf("the gateway role needs the gateway credential: set AUTHSUITE_GATEWAY_CREDENTIAL to the output of `authsuite gateway-credential` (run where AUTHSUITE_MASTER_KEY is set)")
	}
	if role != RoleAll && role != RoleGateway && c.MasterKey == "" && c.MasterKeyFile == "" {
		// Roles in separate processes must share one key (internal credential, secret digests, sealed records).
		return Config{}, fmt.Errorf("the %s role needs the suite's shared master key: set AUTHSUITE_MASTER_KEY or --master-key-file (%s)", role, EnvName("master-key-file"))
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if c.Store != StoreEtcd && role != RoleGateway {
		for _, name := range slices.Sorted(maps.Keys(given)) {
			if strings.HasPrefix(name, "etcd-") {
				// Without this, a replica whose --store was forgotten would keep its own state apart from the cluster.
				return Config{}, fmt.Errorf("--%s (%s) is set but --store is %s: add --store etcd (%s=etcd), or unset it", name, EnvName(name), c.Store, EnvName("store"))
			}
		}
	}
	return c, c.Validate()
}

// resolveAdminAddr settles the admin listener. A service role has no REST API: its one HTTP listener is the
// admin listener, and --http-addr, the name it had before --admin-addr, still sets it (giving both with
// different values is an error). For the one-process mode and the gateway, an ephemeral REST port
// (--http-addr …:0, as tests and embedders use) makes the default admin port ephemeral too, so that two such
// processes never contend for the fixed default.
func (c *Config) resolveAdminAddr(httpGiven, adminGiven bool) error {
	if !c.Role.Runs(RoleGateway) {
		if httpGiven {
			if adminGiven && c.AdminAddr != c.HTTPAddr {
				return fmt.Errorf("--http-addr (%s): a %s role serves no REST API; its HTTP listener is --admin-addr (%s), which it contradicts", EnvName("http-addr"), c.Role, EnvName("admin-addr"))
			}
			c.AdminAddr = c.HTTPAddr
		}
		c.HTTPAddr = ""
		return nil
	}
	if !adminGiven {
		if host, port, err := net.SplitHostPort(c.HTTPAddr); err == nil && port == "0" {
			c.AdminAddr = net.JoinHostPort(defaultHost(host), "0")
		}
	}
	return nil
}

// defaultHost is where an ephemeral admin listener binds for a REST listener on host: the same loopback
// address, and loopback for a wildcard one (the admin listener is never public by default).
func defaultHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return host
	}
	return "127.0.0.1"
}

// newFlagSet registers every flag of role into c; its output is discarded (Load reports errors, Usage helps).
func newFlagSet(role Role, c *Config) *flag.FlagSet {
	def := defaultAddrs[role]
	fs := flag.NewFlagSet(strings.TrimSpace("authsuite serve "+string(role)), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	httpUsage := "REST API listen address (the one-process mode and the gateway role); /healthz and /readyz answer there too"
	if !role.Runs(RoleGateway) {
		httpUsage = "former name of --admin-addr for this role, which serves no REST API"
	}
	fs.StringVar(&c.HTTPAddr, "http-addr", def.http, httpUsage)
	fs.StringVar(&c.AdminAddr, "admin-addr", def.admin, "admin listen address: /metrics, /healthz and /readyz, never on the REST port (ephemeral when --http-addr's port is 0 and this is not given)")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", def.grpc, "gRPC listen address (not used by the gateway role)")
	fs.StringVar(&c.TokenAddr, "token-addr", defaultAddrs[RoleToken].grpc, "gRPC address of the token service (split roles); several replicas as a comma-separated list, balanced round robin over the healthy ones")
	fs.StringVar(&c.RegistryAddr, "registry-addr", defaultAddrs[RoleRegistry].grpc, "gRPC address of the registry (split roles); comma-separated for several replicas")
	fs.StringVar(&c.ProviderAddr, "provider-addr", defaultAddrs[RoleProvider].grpc, "gRPC address of the provider service (split roles); comma-separated for several replicas")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve the REST API over HTTPS with this certificate (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the HTTPS private key (PEM)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "CA certificates (PEM bundle) whose client certificates authenticate tls_client_auth clients (RFC 8705); the token service verifies them, the HTTPS listener asks every client for a certificate")
	fs.StringVar(&c.GRPCTLSCert, "grpc-tls-cert", "", "certificate of this role for mutual TLS between roles (PEM)")
	fs.StringVar(&c.GRPCTLSKey, "grpc-tls-key", "", "private key for --grpc-tls-cert (PEM)")
	fs.StringVar(&c.GRPCTLSCA, "grpc-tls-ca", "", "CA certificate that signs every role's certificate; enables mutual TLS (PEM)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight requests may take to finish on SIGTERM")
	fs.StringVar(&c.Store, "store", StoreBbolt, "where the services keep their state: bbolt (one file per service in --data-dir, durable), etcd (the cluster of --etcd-endpoints, shared by every replica) or memory (lost when the process ends; for tests and development)")
	fs.Func("etcd-endpoints", "comma-separated client URLs of the etcd cluster of --store etcd (http://host:port or https://host:port)", func(v string) (err error) {
		c.EtcdEndpoints, err = ParseEndpoints(v)
		return err
	})
	fs.StringVar(&c.EtcdPrefix, "etcd-prefix", DefaultEtcdPrefix, "key prefix of this suite in etcd (starts and ends with /): suites sharing one etcd cluster need different prefixes")
	fs.StringVar(&c.EtcdCAFile, "etcd-ca-file", "", "CA certificate that signs the etcd servers' certificates (PEM; https endpoints; default: the system's roots)")
	fs.StringVar(&c.EtcdCertFile, "etcd-cert-file", "", "client certificate for etcd's mutual TLS (PEM), with --etcd-key-file")
	fs.StringVar(&c.EtcdKeyFile, "etcd-key-file", "", "private key for --etcd-cert-file (PEM)")
	fs.StringVar(&c.EtcdUsername, "etcd-username", "", "etcd user, when etcd authentication is enabled; the password comes from AUTHSUITE_ETCD_PASSWORD or --etcd-password-file")
	fs.StringVar(&c.EtcdPasswordFile, "etcd-password-file", "", "file holding the password of --etcd-username (AUTHSUITE_ETCD_PASSWORD wins)")
	fs.DurationVar(&c.EtcdDialTimeout, "etcd-dial-timeout", 5*time.Second, "how long connecting to etcd and the start-up check may take before the start fails")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the bbolt files")
	fs.StringVar(&c.Issuer, "issuer", "", "OAuth issuer URL (default http:// + the HTTP address)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "", "master key file, created when missing (default DATA_DIR/master.key; AUTHSUITE_MASTER_KEY wins)")
	fs.Func("trusted-proxies", "comma-separated CIDR prefixes or addresses of reverse proxies whose X-Forwarded-For names the client (default: none, the header is ignored)", func(v string) (err error) {
		c.TrustedProxies, err = clientip.Parse(v)
		return err
	})
	fs.StringVar(&c.SigningAlg, "signing-alg", "ES256", "access and ID token signing algorithm: ES256, EdDSA or RS256")
	fs.DurationVar(&c.KeyRotation, "key-rotation", 90*24*time.Hour, "signing key rotation period")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", 1<<20, "largest REST request body in bytes; larger ones are answered 413")
	fs.Int64Var(&c.MaxProviderConfigBytes, "max-provider-config-bytes", 1<<20, "largest LoadOAuthConfiguration body in bytes")
	fs.DurationVar(&c.HTTPReadTimeout, "http-read-timeout", 30*time.Second, "time a client has to send a whole REST request (headers and body)")
	fs.DurationVar(&c.HTTPWriteTimeout, "http-write-timeout", 60*time.Second, "time to answer a REST request once its headers are read")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", 120*time.Second, "how long an idle keep-alive REST connection stays open")
	fs.IntVar(&c.MaxConnections, "max-connections", 1024, "open REST connections at most; one in eight (at least 2) is kept for /healthz and /readyz")
	fs.StringVar(&c.AuthzRoutes, "authz-routes", "", "JSON route file of the Envoy external authorizer (envoy.service.auth.v3.Authorization on --grpc-addr): the audience and scopes each path prefix requires; without it the authorizer is not served")
	fs.BoolVar(&c.AllowPrivateOutbound, "allow-private-outbound", false, "let back-channel logout and provider requests reach loopback, private and link-local addresses (refused by default against SSRF)")
	return fs
}

// Usage is the help of `authsuite serve [role] -h`: every flag with its AUTHSUITE_* variable and default,
// then the settings read from the environment only.
func Usage(role Role) string {
	var b strings.Builder
	fs := newFlagSet(role, &Config{})
	fmt.Fprintf(&b, "usage: %s [flags]\n\n", fs.Name())
	b.WriteString("Flags (each can be set by its AUTHSUITE_* variable; a flag on the command line wins):\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(&b, "  --%s  %s  (default %s)\n      %s\n", f.Name, EnvName(f.Name), def, f.Usage)
	})
	b.WriteString("\nEnvironment only (never flags):\n")
	for _, e := range EnvOnly {
		fmt.Fprintf(&b, "  %s\n      %s\n", e.Name, e.Usage)
	}
	return b.String()
}

// Validate checks every setting and names the first wrong ones.
func (c Config) Validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s (%s): %s", flagName, EnvName(flagName), fmt.Sprintf(format, args...)))
	}
	addrs := map[string]string{"admin-addr": c.AdminAddr}
	if c.Role.Runs(RoleGateway) {
		addrs["http-addr"] = c.HTTPAddr
	}
	if c.Role != RoleGateway {
		addrs["grpc-addr"] = c.GRPCAddr
	}
	for name, addr := range addrs {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(name, "want host:port, got %q", addr)
		}
	}
	if c.Role != RoleAll {
		for name, list := range map[string]string{"token-addr": c.TokenAddr, "registry-addr": c.RegistryAddr, "provider-addr": c.ProviderAddr} {
			if _, err := ParseAddrs(list); err != nil {
				bad(name, "%v", err)
			}
		}
	}
	if c.Role.Runs(RoleGateway) && c.AdminAddr == c.HTTPAddr && !strings.HasSuffix(c.AdminAddr, ":0") {
		bad("admin-addr", "must differ from --http-addr: /metrics is never served on the REST port")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls-cert", "--tls-cert and --tls-key go together")
	}
	if c.TLSClientCA != "" && !c.Role.Runs(RoleToken) {
		bad("tls-client-ca", "client certificates are verified by the token service: give it to `authsuite serve token` (or the one-process mode)")
	}
	if c.TLSClientCA != "" && c.Role == RoleAll && c.TLSCert == "" {
		bad("tls-client-ca", "needs --tls-cert and --tls-key: client certificates come with HTTPS")
	}
	if c.GRPCTLSCA != "" && (c.GRPCTLSCert == "" || c.GRPCTLSKey == "") {
		bad("grpc-tls-ca", "mutual TLS needs --grpc-tls-cert and --grpc-tls-key too")
	}
	if c.GRPCTLSCA == "" && (c.GRPCTLSCert != "" || c.GRPCTLSKey != "") {
		bad("grpc-tls-ca", "is required with --grpc-tls-cert and --grpc-tls-key")
	}
	if c.AuthzRoutes != "" && !c.Role.Runs(RoleToken) {
		bad("authz-routes", "the Envoy authorizer runs in the token role: give it to `authsuite serve token` (or the one-process mode)")
	}
	if c.ShutdownGrace < 0 {
		bad("shutdown-grace", "must not be negative")
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	if f := c.etcdGiven(); f != "" && c.Store != StoreEtcd && c.Role != RoleGateway {
		// Without this, a replica whose --store was forgotten would keep its own state apart from the cluster.
		bad(f, "is set but --store is %s: add --store etcd (%s=etcd), or unset it", c.Store, EnvName("store"))
	}
	switch c.Store {
	case StoreBbolt:
	case StoreMemory:
		if c.Role != RoleAll && c.Role != RoleGateway && c.MasterKey == "" {
			// Roles of one suite must share the master key; a memory store has no file to keep a generated one.
			bad("store", "memory with one role per process needs AUTHSUITE_MASTER_KEY")
		}
	case StoreEtcd:
		if c.Role != RoleGateway { // the gateway keeps no state: it ignores the etcd settings
			errs = append(errs, c.validateEtcd()...)
		}
	default:
		bad("store", "want bbolt, etcd or memory, got %q", c.Store)
	}
	if c.Issuer != "" {
		u, err := url.Parse(c.Issuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			// OpenID Connect Discovery 1.0 §3: a URL using https (http for local use) with no query or fragment.
			bad("issuer", "want an http(s) URL without query or fragment, got %q", c.Issuer)
		}
	}
	switch c.SigningAlg {
	case "ES256", "EdDSA", "RS256":
	default:
		bad("signing-alg", "want ES256, EdDSA or RS256, got %q", c.SigningAlg)
	}
	if c.KeyRotation < time.Hour {
		bad("key-rotation", "must be at least 1h, got %s", c.KeyRotation)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log-format", "want text or json, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.MaxBodyBytes < 1<<10 {
		bad("max-body-bytes", "must be at least 1024, got %d", c.MaxBodyBytes)
	}
	if c.MaxProviderConfigBytes < 1<<10 {
		bad("max-provider-config-bytes", "must be at least 1024, got %d", c.MaxProviderConfigBytes)
	}
	for name, d := range map[string]time.Duration{"http-read-timeout": c.HTTPReadTimeout, "http-write-timeout": c.HTTPWriteTimeout, "http-idle-timeout": c.HTTPIdleTimeout} {
		if d < 100*time.Millisecond {
			bad(name, "must be at least 100ms, got %s", d)
		}
	}
	if c.MaxConnections < 4 {
		bad("max-connections", "must be at least 4, got %d", c.MaxConnections)
	}
	return errors.Join(errs...)
}

// IssuerFor returns the configured issuer. Without one, the all-in-one process and the gateway use their
// bound HTTP address (https when serving TLS), and the service roles the default gateway address.
func (c Config) IssuerFor(boundHTTP net.Addr) string {
	if c.Issuer != "" {
		return strings.TrimRight(c.Issuer, "/")
	}
	scheme := "http://"
	if c.TLSCert != "" {
		scheme = "https://"
	}
	if c.Role != RoleAll && c.Role != RoleGateway {
		return scheme + defaultAddrs[RoleGateway].http
	}
	return scheme + boundHTTP.String()
}
