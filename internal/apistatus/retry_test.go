package apistatus

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/authsuite/authsuite/internal/apierror"
)

// TestRetryHints: Overloaded is UNAVAILABLE with its retry hint, an OAuth error keeps its code, status and
// hint, and RetryAfterSeconds rounds up to whole seconds.
func TestRetryHints(t *testing.T) {
	over := fmt.Errorf("verify: %w", apierror.Overloaded(1500*time.Millisecond, "busy"))
	if !errors.Is(over, apierror.ErrUnavailable) {
		t.Fatal("Overloaded is not ErrUnavailable")
	}
	if info := FromStatus(ToStatus(over)); info.Code != codes.Unavailable || info.RetryAfter != 1500*time.Millisecond || info.Message != "busy" {
		t.Fatalf("Overloaded round trip: %+v", info)
	}
	slow := &apierror.OAuthError{Code: apierror.TemporarilyUnavailable, Description: "wait", Status: 429, RetryAfter: 2 * time.Second}
	if info := FromStatus(ToStatus(slow)); info.OAuthCode != apierror.TemporarilyUnavailable || info.HTTPStatus != 429 || info.RetryAfter != 2*time.Second {
		t.Fatalf("OAuth error with a hint: %+v", info)
	}
	if info := FromStatus(ToStatus(apierror.OAuth(apierror.InvalidGrant, "no"))); info.RetryAfter != 0 {
		t.Fatalf("no hint: %+v", info)
	}
	for d, want := range map[time.Duration]string{0: "", -time.Second: "", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60"} {
		if got := apierror.RetryAfterSeconds(d); got != want {
			t.Errorf("apierror.RetryAfterSeconds(%s) = %q, want %q", d, got, want)
		}
	}
}
