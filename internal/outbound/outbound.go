// Package outbound is the one HTTP client authsuite uses to reach URLs that tenants, admins or third
// parties choose: back-channel logout URIs (OpenID Connect Back-Channel Logout 1.0 §2.5) and the token,
// validate and OAuth 1.0a endpoints of third-party providers. Such URLs must not turn authsuite into a
// proxy into its own network (server-side request forgery, OWASP SSRF Prevention):
//
//   - the address is checked at dial time, on the IP actually connected to (net.Dialer.Control runs after
//     name resolution, for every address tried), so a name that resolves to a public address when checked
//     and to 127.0.0.1 when used (DNS rebinding) is refused too; loopback, private, unique-local,
//     link-local, unspecified, multicast and reserved addresses (Classify) are refused unless the operator
//     allows private destinations (--allow-private-outbound);
//   - no environment proxy is used (it would be dialled instead of the destination);
//   - redirects are never followed: the 3xx answer itself is returned to the caller;
//   - every request is bounded in time (Options.Timeout, including reading the body) and every response
//     body in size (Options.MaxResponseBytes; reading past it fails with ErrResponseTooLarge).
package outbound

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
)

// AllowPrivateFlag names the operator setting that lifts the address check, for error messages.
const AllowPrivateFlag = "--allow-private-outbound (AUTHSUITE_ALLOW_PRIVATE_OUTBOUND)"

// ErrBlocked is matched (errors.Is) by every refusal of a destination address.
var ErrBlocked = errors.New("outbound: destination address not allowed")

// ErrResponseTooLarge is returned when reading a response body past Options.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("outbound: response body too large")

// BlockedError is a refused destination: the IP the name resolved to and why it is refused.
type BlockedError struct {
	Addr   netip.Addr
	Reason string // as Classify says
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("outbound: refusing to connect to %s, a %s address (allow it with %s)", e.Addr, e.Reason, AllowPrivateFlag)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Options configure New.
type Options struct {
	// AllowPrivate lifts the address check (for tests, and for operators whose providers or relying parties
	// live on their own network). Redirects stay unfollowed and the bounds stay.
	AllowPrivate bool
	// Timeout bounds a whole request, reading the answer included. Default DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Resolver resolves host names; nil means net.DefaultResolver. Tests use it to resolve a public-looking
	// name to a private address.
	Resolver *net.Resolver
}

// New returns a client with the guarantees of the package documentation.
func New(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second, Resolver: o.Resolver}
	if !o.AllowPrivate {
		d.Control = control
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     &limitTransport{rt: t, max: o.MaxResponseBytes},
		Timeout:       o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// control refuses, before connecting, a socket to an address Classify names.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: "unparsable"}
	}
	if reason := Classify(ap.Addr()); reason != "" {
		return &BlockedError{Addr: ap.Addr().Unmap(), Reason: reason}
	}
	return nil
}

// limitTransport bounds response bodies.
type limitTransport struct {
	rt  http.RoundTripper
	max int64
}

func (l *limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > l.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, at most %d read", ErrResponseTooLarge, resp.ContentLength, l.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: l.max}
	return resp, nil
}

// limitedBody reads at most left more bytes, then fails with ErrResponseTooLarge if more were sent.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := io.ReadAtLeast(b.rc, one[:], 1); n == 0 {
			return 0, err // io.EOF: the body ended within the bound
		}
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
