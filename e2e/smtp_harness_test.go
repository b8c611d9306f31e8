package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/mail/mailtest"
)

// mailbox is a real SMTP server process (aiosmtpd, internal/mail/mailtest) on 127.0.0.1 that the suite's
// tenants send their mail to, in plain text: SECURITY_NONE, which authsuite allows only to a loopback
// address.
type mailbox struct {
	t   testing.TB
	srv *mailtest.Server
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	return &mailbox{t: t, srv: mailtest.Start(t, mailtest.Options{Mode: mailtest.Plain})}
}

// settings are the tenant's smtp settings (admin API JSON) that send to the mailbox.
func (m *mailbox) settings() map[string]any {
	return map[string]any{"host": "127.0.0.1", "port": m.srv.Port, "security": "SECURITY_NONE", "from": "Acme 账户 <no-reply@acme.example>"}
}

// receivedMail is one delivered mail, decoded.
type receivedMail struct {
	to      []string
	subject string
	body    string
}

// next waits for the next mail.
func (m *mailbox) next() receivedMail {
	m.t.Helper()
	d := m.srv.Next(m.t, 30*time.Second)
	p, err := mailtest.Parse(d.Raw)
	if err != nil {
		m.t.Fatalf("mail does not parse: %v\n%s", err, d.Raw)
	}
	return receivedMail{to: d.RcptTos, subject: p.Subject, body: p.Body}
}

// link is the URL in the mail's body that starts with prefix (base + path), with its token.
func (r receivedMail) link(t testing.TB, prefix string) string {
	t.Helper()
	i := strings.Index(r.body, prefix+"?token=")
	if i < 0 {
		t.Fatalf("no link to %s in %q", prefix, r.body)
	}
	raw := strings.Fields(r.body[i:])[0]
	if _, err := url.Parse(raw); err != nil {
		t.Fatalf("link %q: %v", raw, err)
	}
	return raw
}
