package server

import (
	"context"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Mailer sends one mail through a tenant's SMTP server.
type Mailer interface {
	// Send delivers a message with the given subject and plain-text body to one address.
	Send(ctx context.Context, smtp *registryv1.SmtpSettings, to, subject, body string) error
}
