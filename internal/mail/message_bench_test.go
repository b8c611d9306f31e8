package mail_test

import (
	"testing"

	"github.com/authsuite/authsuite/internal/mail"
)

// BenchmarkBuild builds a Chinese reset mail (subject encoded, body quoted-printable).
func BenchmarkBuild(b *testing.B) {
	m := mail.Message{From: "Acme 账户 <no-reply@acme.example>", To: "alice@acme.example", Subject: "重设您在 Acme 的密码", Body: chineseBody}
	for b.Loop() {
		if _, _, err := mail.Build(m); err != nil {
			b.Fatal(err)
		}
	}
}
