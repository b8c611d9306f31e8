package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/smtp"
	"os"
	"strconv"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Timeout bounds one delivery: connecting, TLS, the SMTP dialogue and the message (a shorter deadline of
// the caller's ctx wins).
const Timeout = 10 * time.Second

// DefaultPort is the submission port (RFC 6409 §3.1), used when the settings name none.
const DefaultPort = 587

// ErrNoMail is returned for settings without a host: the tenant sends no mail.
var ErrNoMail = errors.New("mail: the tenant has no mail server")

// SMTP delivers messages through the SMTP server of the settings each call names. The zero value is ready
// to use: system roots verify the server's certificate.
//
// Guarantees, by SmtpSettings.Security:
//   - SECURITY_UNSPECIFIED: the server must offer STARTTLS (RFC 3207) and the upgraded connection must
//     verify; a server that does not offer it fails the delivery before anything is sent (no downgrade).
//   - SECURITY_TLS: TLS from the first byte (implicit TLS, RFC 8314 §3.3).
//   - SECURITY_NONE: plain text, only when the connected peer is on a loopback address (a relay on the same
//     machine); never with AUTH.
//
// AUTH PLAIN (RFC 4616) is sent only over a verified TLS connection; the password never appears in errors.
type SMTP struct {
	// RootCAs verifies servers' certificates; nil: the system roots.
	RootCAs *x509.CertPool
	// HelloName is the EHLO name (default "localhost").
	HelloName string
	// Dialer dials the server; nil: a net.Dialer.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
}

// Send delivers one message (Build of from the settings, to, subject and body) within Timeout.
func (c SMTP) Send(ctx context.Context, st *registryv1.SmtpSettings, to, subject, body string) error {
	if st.GetHost() == "" {
		return ErrNoMail
	}
	msg, envFrom, err := Build(Message{From: st.GetFrom(), To: to, Subject: subject, Body: body})
	if err != nil {
		return err
	}
	rcpt, _ := ParseAddress(to) // Build parsed it
	port := int(st.GetPort())
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("mail: port %d is out of range", port)
	}
	sec := st.GetSecurity()
	if sec == registryv1.SmtpSettings_SECURITY_NONE && st.GetUsername() != "" {
		return errors.New("mail: SMTP AUTH needs TLS; SECURITY_NONE cannot authenticate")
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	conn, err := c.dial(ctx, st.GetHost(), port, sec)
	if err != nil {
		return err
	}
	// The deadline bounds every read and write; cancelling ctx closes the connection at once.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err = c.converse(conn, st, sec, envFrom, rcpt.Address, msg)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

// dial connects to host:port, with TLS at once for SECURITY_TLS; for SECURITY_NONE the peer must be on a
// loopback address (checked on the connection, so a name that resolves elsewhere is refused too).
func (c SMTP) dial(ctx context.Context, host string, port int, sec registryv1.SmtpSettings_Security) (net.Conn, error) {
	var d interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	} = &net.Dialer{}
	if c.Dialer != nil {
		d = c.Dialer
	}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("mail: connect: %w", err)
	}
	switch sec {
	case registryv1.SmtpSettings_SECURITY_NONE:
		if !loopback(conn.RemoteAddr()) {
			conn.Close()
			return nil, fmt.Errorf("mail: SECURITY_NONE is allowed only to a loopback address, not %s", conn.RemoteAddr())
		}
	case registryv1.SmtpSettings_SECURITY_TLS:
		tc := tls.Client(conn, c.tlsConfig(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("mail: TLS: %w", err)
		}
		return tc, nil
	case registryv1.SmtpSettings_SECURITY_UNSPECIFIED:
	default:
		conn.Close()
		return nil, fmt.Errorf("mail: unknown security %v", sec)
	}
	return conn, nil
}

func (c SMTP) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
}

// converse runs the SMTP dialogue (RFC 5321 §3.3) on conn.
func (c SMTP) converse(conn net.Conn, st *registryv1.SmtpSettings, sec registryv1.SmtpSettings_Security, envFrom, to string, msg []byte) error {
	host := st.GetHost()
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting: %w", err)
	}
	defer cl.Close()
	hello := c.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := cl.Hello(hello); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if sec == registryv1.SmtpSettings_SECURITY_UNSPECIFIED {
		if ok, _ := cl.Extension("STARTTLS"); !ok {
			return errors.New("mail: the server does not offer STARTTLS, which these settings require")
		}
		if err := cl.StartTLS(c.tlsConfig(host)); err != nil {
			return fmt.Errorf("mail: STARTTLS: %w", err)
		}
	}
	if u := st.GetUsername(); u != "" {
		// net/smtp's PLAIN refuses a connection without TLS (but for localhost); SECURITY_NONE with a user
		// was refused before dialling, so the password only ever travels inside TLS.
		if err := cl.Auth(smtp.PlainAuth("", u, st.GetPassword(), host)); err != nil {
			return fmt.Errorf("mail: AUTH: %w", err)
		}
	}
	if err := cl.Mail(envFrom); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := cl.Rcpt(to); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := cl.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("mail: message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: message: %w", err)
	}
	return cl.Quit()
}

// loopback reports whether addr is a TCP address on a loopback interface.
func loopback(addr net.Addr) bool {
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
