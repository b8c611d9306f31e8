package audit_test

import (
	"errors"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/audit"
)

// FuzzPageToken checks the audit listing's page token: an ID round-trips, and any other string is either an
// ID or refused as "pageToken", never anything else.
func FuzzPageToken(f *testing.F) {
	f.Add("0000018c2b3e4f5a00000001", "")
	f.Add("x", "YTE6eA")
	f.Add("", "YTE6")
	f.Fuzz(func(t *testing.T, id, token string) {
		if _, err := audit.DecodePageToken(token); err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != "pageToken" {
				t.Fatalf("token %q: %v", token, err)
			}
		}
		if id == "" || len(id) > 60 {
			return
		}
		got, err := audit.DecodePageToken(audit.EncodePageToken(id))
		if err != nil || got != id {
			t.Fatalf("id %q round-tripped to %q, %v", id, got, err)
		}
	})
}
