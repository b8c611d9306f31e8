package mail_test

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	authmail "github.com/authsuite/authsuite/internal/mail"
	"github.com/authsuite/authsuite/internal/mail/mailtest"
)

// FuzzBuild: whatever the recipient, subject and body, Build either refuses with ErrInvalid, or returns a
// message that net/mail parses with exactly one To (the recipient), the subject and body round-trip, no
// line is longer than RFC 5322's 998 characters, and no header but the ones Build writes appears (nothing
// was injected).
func FuzzBuild(f *testing.F) {
	f.Add("alice@example.org", "Reset your password", "Hello,\nopen https://x.example/a?b=c\n")
	f.Add("alice@example.org", "重设您的密码", "您好，\n请打开链接。\n")
	f.Add("alice@example.org", "=?UTF-8?B?eA==?=", "=3D\r\n. \n.\n")
	f.Add("a@b.c\r\nBcc: x@y.z", "s", "b")
	f.Add("a@b.c", "s\r\nBcc: x@y.z", "b")
	f.Add("\"q w\"@example.org", strings.Repeat("長", 85), strings.Repeat("x ", 2000))
	f.Add("a@b.c", "trailing space ", "line with trailing space \t\nnext")
	f.Fuzz(func(t *testing.T, to, subject, body string) {
		raw, envFrom, err := authmail.Build(authmail.Message{From: "Sender 发件人 <no-reply@example.com>", To: to, Subject: subject, Body: body,
			Date: time.Unix(1700000000, 0)})
		if err != nil {
			if !errors.Is(err, authmail.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if strings.ContainsAny(subject+to, "\r\n") {
				return
			}
			return
		}
		if strings.ContainsAny(subject, "\r\n") || strings.ContainsAny(to, "\r\n") {
			t.Fatalf("accepted CR/LF in to %q or subject %q", to, subject)
		}
		if envFrom != "no-reply@example.com" {
			t.Fatalf("envelope from %q", envFrom)
		}
		for _, line := range strings.Split(string(raw), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("line of %d characters", len(line))
			}
		}
		if strings.Contains(strings.ReplaceAll(string(raw), "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(string(raw), "\r\n", ""), "\r") {
			t.Fatal("a bare CR or LF in the message")
		}
		m, err := mail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("the message does not parse: %v\n%s", err, raw)
		}
		want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true, "Mime-Version": true,
			"Content-Type": true, "Content-Transfer-Encoding": true, "Auto-Submitted": true}
		for k, v := range m.Header {
			if !want[k] || len(v) != 1 {
				t.Fatalf("header %q (%d values) was not written by Build", k, len(v))
			}
		}
		rcpt, err := m.Header.AddressList("To")
		if err != nil || len(rcpt) != 1 {
			t.Fatalf("To %q: %v", m.Header.Get("To"), err)
		}
		parsed, _ := mail.ParseAddress(to)
		if rcpt[0].Address != parsed.Address {
			t.Fatalf("To %q, want %q", rcpt[0].Address, parsed.Address)
		}
		p, err := mailtest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != subject {
			t.Fatalf("subject %q, want %q", p.Subject, subject)
		}
		wantBody := strings.ReplaceAll(body, "\r\n", "\n")
		// quoted-printable ends the text with a line break; a lone CR in the text is a line break too.
		got := strings.TrimSuffix(p.Body, "\n")
		wantBody = strings.TrimSuffix(strings.ReplaceAll(wantBody, "\r", "\n"), "\n")
		if got != wantBody && strings.TrimRight(got, "\n") != strings.TrimRight(wantBody, "\n") {
			t.Fatalf("body %q, want %q", got, wantBody)
		}
		if !utf8.ValidString(p.Body) {
			t.Fatal("body decodes to invalid UTF-8")
		}
	})
}
