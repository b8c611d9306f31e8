package apierror

import (
	"fmt"
	"time"
)

// OverloadedError is a refusal to do work now that a later retry can pass: load shed before the work began.
// It is ErrUnavailable for errors.Is.
type OverloadedError struct {
	// Message says what was shed.
	Message string
	// After is about when a retry may pass; zero when unknown.
	After time.Duration
}

func (e *OverloadedError) Error() string { return e.Message }

// Unwrap makes the error ErrUnavailable for errors.Is.
func (e *OverloadedError) Unwrap() error { return ErrUnavailable }

// Overloaded returns an *OverloadedError saying the service shed the request before doing any of its work and
// that a retry after about after may pass. The gRPC edge makes it UNAVAILABLE with a google.rpc.RetryInfo
// detail; the REST gateway answers 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3).
func Overloaded(after time.Duration, format string, args ...any) error {
	return &OverloadedError{Message: fmt.Sprintf(format, args...), After: after}
}

// RetryAfterSeconds is the Retry-After header value (delay-seconds, RFC 9110 §10.2.3) of a retry hint: whole
// seconds rounded up, at least 1; "" when there is no hint.
func RetryAfterSeconds(after time.Duration) string {
	if after <= 0 {
		return ""
	}
	return fmt.Sprint(int64((after + time.Second - 1) / time.Second))
}
