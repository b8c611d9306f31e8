package apierror

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// overloadedError is a refusal to do work now that a later retry can pass: load shed before the work began.
type overloadedError struct {
	msg   string
	after time.Duration
}

func (e *overloadedError) Error() string { return e.msg }
func (e *overloadedError) Unwrap() error { return ErrUnavailable }

// Overloaded returns an error saying the service shed the request before doing any of its work and that a
// retry after about after may pass. ToStatus makes it UNAVAILABLE with a google.rpc.RetryInfo detail; the
// REST gateway answers 503 with Retry-After (RFC 9110 §15.6.4, §10.2.3). It is ErrUnavailable for errors.Is.
func Overloaded(after time.Duration, format string, args ...any) error {
	return &overloadedError{msg: fmt.Sprintf(format, args...), after: after}
}

// retryInfo is the RetryInfo detail of a retry hint, or nil when there is none.
func retryInfo(after time.Duration) *errdetails.RetryInfo {
	if after <= 0 {
		return nil
	}
	return &errdetails.RetryInfo{RetryDelay: durationpb.New(after)}
}

// overloadedStatus maps an Overloaded error.
func overloadedStatus(e *overloadedError) error {
	st := status.New(codes.Unavailable, e.msg)
	if ri := retryInfo(e.after); ri != nil {
		return withDetails(st, ri)
	}
	return st.Err()
}

// RetryAfterSeconds is the Retry-After header value (delay-seconds, RFC 9110 §10.2.3) of a retry hint: whole
// seconds rounded up, at least 1; "" when there is no hint.
func RetryAfterSeconds(after time.Duration) string {
	if after <= 0 {
		return ""
	}
	return fmt.Sprint(int64((after + time.Second - 1) / time.Second))
}

// asOverloaded finds an Overloaded error in err's chain.
func asOverloaded(err error) (*overloadedError, bool) {
	var oe *overloadedError
	ok := errors.As(err, &oe)
	return oe, ok
}
