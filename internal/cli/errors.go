package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apierror"
)

// usageError is a wrong command line: exit code 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagErr reports an invalid flag value, naming the flag (e.g. "--output").
func flagErr(flag, format string, args ...any) error {
	return apierror.Invalid(flag, format, args...)
}

// classify turns a command's error into an *ExitError with the documented code and a message that names
// the offending field: local flag and file errors, domain errors, and gRPC statuses from the server (read
// with apierror.FromStatus).
func classify(command string, err error) *ExitError {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee
	}
	code, msg := ExitUnavailable, err.Error()
	var ue *usageError
	var fe *apierror.FieldError
	switch {
	case errors.As(err, &ue):
		code = ExitUsage
	case errors.As(err, &fe):
		code, msg = ExitUsage, fieldMessage(fe.Field, err.Error())
	case errors.Is(err, apierror.ErrNotFound):
		code, msg = ExitNotFound, trimSentinel(msg, apierror.ErrNotFound)
	case errors.Is(err, apierror.ErrUnauthenticated), errors.Is(err, apierror.ErrPermissionDenied):
		code = ExitAuth
		msg = trimSentinel(trimSentinel(msg, apierror.ErrUnauthenticated), apierror.ErrPermissionDenied)
	case errors.Is(err, apierror.ErrAlreadyExists), errors.Is(err, apierror.ErrFailedPrecondition):
		code, msg = ExitConflict, trimSentinel(msg, apierror.ErrFailedPrecondition)
	case errors.Is(err, apierror.ErrUnavailable):
		code = ExitUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		code = ExitUnavailable
	default:
		if _, ok := status.FromError(err); ok {
			code, msg = fromStatus(err)
		}
	}
	return &ExitError{Code: code, Err: errors.New(clean(msg))}
}

// fromStatus maps a gRPC status from the server to an exit code and a message.
func fromStatus(err error) (int, string) {
	info := apierror.FromStatus(err)
	if info.Field != "" {
		return ExitUsage, fieldMessage(info.Field, info.Message)
	}
	label := codeName(info.Code)
	// Domain errors end with their sentinel's text ("…: not found"); the label already says it.
	msg := strings.TrimSuffix(info.Message, ": "+label)
	msg = strings.TrimSuffix(msg, ": unauthenticated")
	if info.OAuthCode != "" && !strings.HasPrefix(msg, info.OAuthCode) {
		msg = info.OAuthCode + ": " + msg
	}
	return exitCodeOf(info.Code), label + ": " + msg
}

// exitCodeOf is the exit code of a gRPC status code.
func exitCodeOf(c codes.Code) int {
	switch c {
	case codes.OK:
		return ExitOK
	case codes.InvalidArgument, codes.OutOfRange:
		return ExitUsage
	case codes.NotFound:
		return ExitNotFound
	case codes.Unauthenticated, codes.PermissionDenied:
		return ExitAuth
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return ExitConflict
	}
	return ExitUnavailable
}

func codeName(c codes.Code) string {
	switch c {
	case codes.AlreadyExists:
		return "conflict"
	case codes.FailedPrecondition:
		return "failed precondition"
	case codes.Unauthenticated:
		return "authentication failed"
	case codes.PermissionDenied:
		return "permission denied"
	case codes.NotFound:
		return "not found"
	case codes.InvalidArgument:
		return "invalid argument"
	case codes.Internal:
		return "internal error"
	case codes.DeadlineExceeded:
		return "deadline exceeded"
	}
	return strings.ToLower(c.String())
}

// trimSentinel drops the ": <sentinel>" that apierror's constructors append; the exit code says it.
func trimSentinel(msg string, sentinel error) string {
	return strings.TrimSuffix(msg, ": "+sentinel.Error())
}

// fieldMessage renders "invalid <field>: <reason>", dropping a "<field>: " the reason already starts with.
func fieldMessage(field, msg string) string {
	return "invalid " + field + ": " + strings.TrimPrefix(msg, field+": ")
}

// clean makes a message printable on one line. protobuf's errors deliberately use non-breaking spaces at
// random; they become plain ones so that messages are stable.
func clean(msg string) string {
	msg = strings.ReplaceAll(msg, "\u00a0", " ")
	return strings.ReplaceAll(msg, "\n", "; ")
}
