// Package config reads authsuite's settings: command-line flags, each overridable by an AUTHSUITE_*
// environment variable named after it (--http-addr ↔ AUTHSUITE_HTTP_ADDR); a flag given on the command
// line wins over the environment. Load validates everything and names the offending setting.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Config is the validated configuration of one authsuite process.
type Config struct {
	HTTPAddr      string        // REST gateway listen address
	GRPCAddr      string        // gRPC listen address
	DataDir       string        // where the bbolt files and the generated master key live
	Issuer        string        // OAuth issuer; empty means http:// + the bound HTTP address
	MasterKeyFile string        // key file used when AUTHSUITE_MASTER_KEY is not set
	SigningAlg    string        // ES256, EdDSA or RS256
	KeyRotation   time.Duration // signing key rotation period
	LogFormat     string        // text or json
	LogLevel      string        // debug, info, warn, error

	// From the environment only: secrets do not belong on a command line.
	MasterKey         string // AUTHSUITE_MASTER_KEY
	BootstrapSecret   string // AUTHSUITE_BOOTSTRAP_SECRET
	BootstrapPassword string // AUTHSUITE_BOOTSTRAP_PASSWORD
}

// EnvName is the environment variable that overrides a flag.
func EnvName(flagName string) string {
	return "AUTHSUITE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load parses args (without the program and subcommand names) and env ("KEY=value" pairs). Help output
// and errors go to out.
func Load(name string, args []string, env []string, out io.Writer) (Config, error) {
	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envMap[k] = v
		}
	}
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "REST gateway listen address")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "gRPC listen address")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the bbolt files")
	fs.StringVar(&c.Issuer, "issuer", "", "OAuth issuer URL (default http:// + the HTTP address)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "", "master key file, created when missing (default DATA_DIR/master.key; AUTHSUITE_MASTER_KEY wins)")
	fs.StringVar(&c.SigningAlg, "signing-alg", "ES256", "access and ID token signing algorithm: ES256, EdDSA or RS256")
	fs.DurationVar(&c.KeyRotation, "key-rotation", 90*24*time.Hour, "signing key rotation period")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: %s [flags]\nEvery flag can be set by its AUTHSUITE_* variable, e.g. --http-addr by %s.\n", name, EnvName("http-addr"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
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
	})
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	c.MasterKey = envMap["AUTHSUITE_MASTER_KEY"]
	c.BootstrapSecret = envMap["AUTHSUITE_BOOTSTRAP_SECRET"]
	c.BootstrapPassword = envMap["AUTHSUITE_BOOTSTRAP_PASSWORD"]
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	return c, c.Validate()
}

// Validate checks every setting and names the first wrong ones.
func (c Config) Validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s (%s): %s", flagName, EnvName(flagName), fmt.Sprintf(format, args...)))
	}
	for name, addr := range map[string]string{"http-addr": c.HTTPAddr, "grpc-addr": c.GRPCAddr} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(name, "want host:port, got %q", addr)
		}
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty")
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
	return errors.Join(errs...)
}

// IssuerFor returns the configured issuer, or http:// + the bound HTTP address.
func (c Config) IssuerFor(boundHTTP net.Addr) string {
	if c.Issuer != "" {
		return strings.TrimRight(c.Issuer, "/")
	}
	return "http://" + boundHTTP.String()
}
