// Package etcdclient connects an authsuite process to the etcd cluster of --store etcd: one *clientv3.Client
// per process, built from the configuration (endpoints, TLS, user and password, dial timeout, keepalive),
// checked at start by a linearizable read, and counting every RPC it sends (Requests), so that a benchmark or
// an operator can see which paths reach etcd and which are served from a replica's watched caches.
package etcdclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/authsuite/authsuite/internal/config"
)

// Keepalive of the connections to etcd: a ping after this much silence, and the connection is dropped (and
// another member tried) when the ping is not answered within KeepaliveTimeout. etcd refuses pings more
// frequent than its --grpc-keepalive-min-time (5 s by default).
const (
	KeepaliveTime    = 10 * time.Second
	KeepaliveTimeout = 5 * time.Second
)

// MaxPasswordFileBytes bounds --etcd-password-file: a password, not a document.
const MaxPasswordFileBytes = 4 << 10

// Options are what Dial needs; FromConfig fills them from a validated configuration.
type Options struct {
	Endpoints []string // client URLs, all http:// or all https://
	// Prefix is the suite's key prefix (default config.DefaultEtcdPrefix): the start-up check reads the key
	// Prefix itself, which a user restricted to the suite's keys may read.
	Prefix       string
	CAFile       string // PEM CA of the servers' certificates; empty: the system's roots (https only)
	CertFile     string // PEM client certificate for mutual TLS, with KeyFile
	KeyFile      string
	Username     string // etcd user, when etcd authentication is on
	Password     string // its password; wins over PasswordFile
	PasswordFile string
	DialTimeout  time.Duration // bounds the start-up check (and each connection attempt's wait for a member)
	// Requests counts every RPC the client sends; nil counts nothing.
	Requests *Requests
	// Log receives the client's warnings and errors (members unreachable, requests retried); nil discards.
	Log *slog.Logger
}

// FromConfig returns the Options of cfg's --store etcd settings.
func FromConfig(cfg config.Config) Options {
	return Options{
		Endpoints: cfg.EtcdEndpoints, Prefix: cfg.EtcdPrefix,
		CAFile: cfg.EtcdCAFile, CertFile: cfg.EtcdCertFile, KeyFile: cfg.EtcdKeyFile,
		Username: cfg.EtcdUsername, Password: cfg.EtcdPassword, PasswordFile: cfg.EtcdPasswordFile,
		DialTimeout: cfg.EtcdDialTimeout,
	}
}

// Dial connects to the cluster and returns once it has answered a linearizable read of the key o.Prefix
// (proof that a quorum is up and that the credentials, if any, are accepted), or fails within o.DialTimeout
// (or when ctx ends) with an error naming the endpoints; nothing is left open then. The caller closes the
// client. Every RPC it sends, retries included, is counted in o.Requests.
func Dial(ctx context.Context, o Options) (*clientv3.Client, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints (--etcd-endpoints)")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = config.DefaultEtcdPrefix // etcd refuses to read the empty key
	}
	where := strings.Join(o.Endpoints, ",")
	cfg := clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          o.DialTimeout,
		DialKeepAliveTime:    KeepaliveTime,
		DialKeepAliveTimeout: KeepaliveTimeout,
		PermitWithoutStream:  true,
		Logger:               zapToSlog(o.Log),
		Context:              context.WithoutCancel(ctx), // the client lives until Close, not until the start-up context ends
	}
	if o.Requests != nil {
		cfg.DialOptions = append(cfg.DialOptions,
			grpc.WithChainUnaryInterceptor(o.Requests.unary), grpc.WithChainStreamInterceptor(o.Requests.stream))
	}
	if strings.HasPrefix(o.Endpoints[0], "https://") {
		tlsCfg, err := clientTLS(o)
		if err != nil {
			return nil, err
		}
		cfg.TLS = tlsCfg
	}
	if o.Username != "" {
		pw, err := password(o)
		if err != nil {
			return nil, err
		}
		cfg.Username, cfg.Password = o.Username, pw
	}
	cli, err := clientv3.New(cfg) // with a user, this already authenticates (bounded by DialTimeout)
	if err != nil {
		return nil, fmt.Errorf("etcd at %s: %w", where, explain(err))
	}
	checkCtx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if _, err := cli.Get(checkCtx, o.Prefix, clientv3.WithKeysOnly()); err != nil {
		cli.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			hint := "is a quorum of members up and reachable?"
			if cfg.TLS != nil {
				hint = "is a quorum of members up and reachable, and do --etcd-ca-file, --etcd-cert-file and --etcd-key-file match the cluster's TLS?"
			}
			return nil, fmt.Errorf("etcd at %s did not answer a linearizable read within %s (--etcd-dial-timeout): %s", where, o.DialTimeout, hint)
		}
		return nil, fmt.Errorf("etcd at %s: %w", where, explain(err))
	}
	return cli, nil
}

// explain adds the setting to look at to the errors an operator can fix.
func explain(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "authentication failed"), strings.Contains(msg, "invalid auth token"):
		return fmt.Errorf("%w (check --etcd-username and its password)", err)
	case strings.Contains(msg, "permission denied"):
		return fmt.Errorf("%w (the etcd user needs read and write access to the --etcd-prefix range)", err)
	case strings.Contains(msg, "certificate"), strings.Contains(msg, "tls:"):
		return fmt.Errorf("%w (check --etcd-ca-file, --etcd-cert-file and --etcd-key-file)", err)
	}
	return err
}

// clientTLS is the TLS configuration for https endpoints: the servers verified against --etcd-ca-file (or the
// system's roots), the client certificate presented when one is given. TLS 1.2 at least.
func clientTLS(o Options) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-ca-file (%s): %w", config.EnvName("etcd-ca-file"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-ca-file (%s): no PEM certificate in %s", config.EnvName("etcd-ca-file"), o.CAFile)
		}
		c.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert-file/--etcd-key-file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// password is o.Password, else the content of o.PasswordFile without its trailing line break.
func password(o Options) (string, error) {
	if o.Password != "" {
		return o.Password, nil
	}
	src := fmt.Sprintf("--etcd-password-file (%s)", config.EnvName("etcd-password-file"))
	if o.PasswordFile == "" {
		return "", fmt.Errorf("%s: --etcd-username %s needs a password (AUTHSUITE_ETCD_PASSWORD or this file)", src, o.Username)
	}
	f, err := os.Open(o.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPasswordFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	if len(b) > MaxPasswordFileBytes {
		return "", fmt.Errorf("%s: %s is larger than %d bytes", src, o.PasswordFile, MaxPasswordFileBytes)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("%s: %s is empty", src, o.PasswordFile)
	}
	return pw, nil
}
