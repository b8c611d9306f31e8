package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
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
// with apistatus.FromStatus).
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
		code, msg = ExitNotFound, apierror.Text(err)
	case errors.Is(err, apierror.ErrUnauthenticated), errors.Is(err, apierror.ErrPermissionDenied):
		code, msg = ExitAuth, apierror.Text(err)
	case errors.Is(err, apierror.ErrAlreadyExists), errors.Is(err, apierror.ErrFailedPrecondition):
		code, msg = ExitConflict, apierror.Text(err)
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

// fromStatus maps a gRPC status from the server to an exit code and a message: the code's label, then what
// the service said (the status message carries no sentinel suffix, apistatus strips it).
func fromStatus(err error) (int, string) {
	info := apistatus.FromStatus(err)
	if info.Field != "" {
		return ExitUsage, fieldMessage(info.Field, info.Message)
	}
	msg := info.Message
	if info.OAuthCode != "" && !strings.HasPrefix(msg, info.OAuthCode) {
		msg = info.OAuthCode + ": " + msg
	}
	return exitCodeOf(info.Code), apistatus.CodeLabel(info.Code) + ": " + msg
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
