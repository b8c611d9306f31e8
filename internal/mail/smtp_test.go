package mail_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/mail"
	"github.com/authsuite/authsuite/internal/mail/mailtest"
)

const chineseBody = "您好，\n\n请打开以下链接重设密码：\nhttps://login.example/account/reset?token=abc.def\n\n此链接 30 分钟内有效。\n. \n.\n"

func settings(srv *mailtest.Server, sec registryv1.SmtpSettings_Security) *registryv1.SmtpSettings {
	return &registryv1.SmtpSettings{Host: "127.0.0.1", Port: int32(srv.Port), Security: sec, From: "示例 <no-reply@example.com>"}
}

// A Chinese mail over STARTTLS with AUTH arrives intact: subject, body (with lines that need dot-stuffing),
// envelope, TLS and authentication as the server saw them.
func TestSendStartTLSAuth(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: mailtest.StartTLS, User: "robot", Password: "s3cret pass"})
	st := settings(srv, registryv1.SmtpSettings_SECURITY_UNSPECIFIED)
	st.Username, st.Password = "robot", ptr("s3cret pass")
	c := mail.SMTP{RootCAs: srv.Roots}
	subject := "重设您的密码 · Reset your password"
	if err := c.Send(context.Background(), st, "alice@example.org", subject, chineseBody); err != nil {
		t.Fatal(err)
	}
	d := srv.Next(t, 20*time.Second)
	if !d.TLS || !d.Authenticated {
		t.Fatalf("tls=%v authenticated=%v, want both", d.TLS, d.Authenticated)
	}
	if d.MailFrom != "no-reply@example.com" || len(d.RcptTos) != 1 || d.RcptTos[0] != "alice@example.org" {
		t.Fatalf("envelope %q → %q", d.MailFrom, d.RcptTos)
	}
	p, err := mailtest.Parse(d.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != subject {
		t.Fatalf("subject %q, want %q", p.Subject, subject)
	}
	if p.Body != chineseBody {
		t.Fatalf("body %q, want %q", p.Body, chineseBody)
	}
	if ct := p.Header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if p.Header.Get("Message-ID") == "" || p.Header.Get("Date") == "" {
		t.Fatal("no Message-ID or Date")
	}
	for _, line := range strings.Split(string(d.Raw), "\r\n") {
		if len(line) > 78 {
			t.Fatalf("line of %d characters: %q", len(line), line)
		}
	}
	// A wrong password is refused and the error does not carry it.
	st.Password = ptr("wrong-password-value")
	err = c.Send(context.Background(), st, "alice@example.org", "x", "y")
	if err == nil || strings.Contains(err.Error(), "wrong-password-value") {
		t.Fatalf("wrong password: %v", err)
	}
}

// Implicit TLS (RFC 8314) delivers; a certificate the client does not trust fails.
func TestSendImplicitTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: mailtest.TLS})
	st := settings(srv, registryv1.SmtpSettings_SECURITY_TLS)
	if err := (mail.SMTP{RootCAs: srv.Roots}).Send(context.Background(), st, "bob@example.org", "Hello", "Hi"); err != nil {
		t.Fatal(err)
	}
	if d := srv.Next(t, 20*time.Second); !d.TLS {
		t.Fatal("not over TLS")
	}
	if err := (mail.SMTP{}).Send(context.Background(), st, "bob@example.org", "Hello", "Hi"); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
}

// The default security requires STARTTLS: a server that does not offer it gets nothing.
func TestSendRequiresStartTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: mailtest.Plain})
	st := settings(srv, registryv1.SmtpSettings_SECURITY_UNSPECIFIED)
	err := (mail.SMTP{}).Send(context.Background(), st, "bob@example.org", "Hello", "Hi")
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err %v, want a STARTTLS refusal", err)
	}
	// SECURITY_NONE to the loopback server delivers in plain text.
	st.Security = registryv1.SmtpSettings_SECURITY_NONE
	if err := (mail.SMTP{}).Send(context.Background(), st, "bob@example.org", "Hello", "Hi"); err != nil {
		t.Fatal(err)
	}
	if d := srv.Next(t, 20*time.Second); d.TLS {
		t.Fatal("plain server reports TLS")
	}
	// SECURITY_NONE never authenticates: the password would travel in clear.
	st.Username, st.Password = "robot", ptr("pw")
	if err := (mail.SMTP{}).Send(context.Background(), st, "bob@example.org", "Hello", "Hi"); err == nil {
		t.Fatal("AUTH without TLS was attempted")
	}
}

// SECURITY_NONE refuses a peer that is not on a loopback address (checked on the connection).
func TestSendNoneOnlyLoopback(t *testing.T) {
	dialed := false
	c := mail.SMTP{Dialer: dialerFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = true
		a, b := net.Pipe()
		go func() { b.Close() }()
		return fakeRemote{Conn: a, remote: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 25}}, nil
	})}
	st := &registryv1.SmtpSettings{Host: "mail.example", Security: registryv1.SmtpSettings_SECURITY_NONE, From: "a@example.com"}
	err := c.Send(context.Background(), st, "bob@example.org", "Hello", "Hi")
	if !dialed || err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err %v", err)
	}
}

// A server that never answers is abandoned when ctx ends (and within Timeout otherwise).
func TestSendDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepts and says nothing
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	st := &registryv1.SmtpSettings{Host: "127.0.0.1", Port: int32(ln.Addr().(*net.TCPAddr).Port), Security: registryv1.SmtpSettings_SECURITY_NONE, From: "a@example.com"}
	done := make(chan error, 1)
	go func() { done <- (mail.SMTP{}).Send(ctx, st, "bob@example.org", "Hello", "Hi") }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want the deadline", err)
		}
	case <-time.After(mail.Timeout + 5*time.Second):
		t.Fatal("Send did not return after its deadline")
	}
}

// Settings without a host send nothing; headers cannot be injected through the recipient or subject.
func TestSendRefusesBadInput(t *testing.T) {
	if err := (mail.SMTP{}).Send(context.Background(), &registryv1.SmtpSettings{}, "a@example.org", "s", "b"); !errors.Is(err, mail.ErrNoMail) {
		t.Fatalf("no host: %v", err)
	}
	st := &registryv1.SmtpSettings{Host: "127.0.0.1", Port: 1, Security: registryv1.SmtpSettings_SECURITY_NONE, From: "a@example.com"}
	for _, tc := range []struct{ to, subject string }{
		{"a@example.org\r\nBcc: x@evil.example", "s"},
		{"a@example.org", "s\r\nBcc: x@evil.example"},
		{"a@example.org", "s\nX: y"},
		{"Name <a@example.org>", "s"},
		{"a@example.org>\r\nRCPT TO:<x@evil.example", "s"},
	} {
		if err := (mail.SMTP{}).Send(context.Background(), st, tc.to, tc.subject, "b"); !errors.Is(err, mail.ErrInvalid) {
			t.Errorf("to %q subject %q: %v, want ErrInvalid", tc.to, tc.subject, err)
		}
	}
}

// The outbox runs at most Concurrency jobs at once and drops jobs beyond Queue.
func TestOutboxBounds(t *testing.T) {
	o := mail.NewOutbox(mail.OutboxOptions{Queue: 5, Concurrency: 2})
	release := make(chan struct{})
	var running, peak atomic.Int32
	var ran atomic.Int32
	for i := range 5 {
		_ = i
		if !o.Go("test", func(ctx context.Context) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			ran.Add(1)
		}) {
			t.Fatalf("job %d dropped below the queue bound", i)
		}
	}
	if o.Go("test", func(context.Context) { ran.Add(1) }) {
		t.Fatal("a sixth job was queued beyond the bound of 5")
	}
	close(release)
	o.Wait()
	if peak.Load() > 2 || ran.Load() != 5 {
		t.Fatalf("peak %d ran %d, want ≤2 and 5", peak.Load(), ran.Load())
	}
}

func ptr(s string) *string { return &s }

type dialerFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialerFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

type fakeRemote struct {
	net.Conn
	remote net.Addr
}

func (f fakeRemote) RemoteAddr() net.Addr { return f.remote }

// Close cancels waiting and running jobs and refuses new ones.
func TestOutboxClose(t *testing.T) {
	o := mail.NewOutbox(mail.OutboxOptions{Queue: 10, Concurrency: 1})
	started := make(chan struct{})
	var cancelled, ranSecond atomic.Bool
	o.Go("test", func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		cancelled.Store(true)
	})
	<-started
	o.Go("test", func(context.Context) { ranSecond.Store(true) }) // waits for the only slot
	o.Close()
	if !cancelled.Load() || ranSecond.Load() {
		t.Fatalf("cancelled %v, second job ran %v", cancelled.Load(), ranSecond.Load())
	}
	if o.Go("test", func(context.Context) {}) {
		t.Fatal("a job was queued after Close")
	}
}
