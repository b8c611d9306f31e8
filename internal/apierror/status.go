package apierror

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Domain is the ErrorInfo domain of every authsuite error detail.
const Domain = "authsuite"

// Metadata keys of the ErrorInfo detail.
const (
	metaField      = "field"
	metaHTTPStatus = "http_status"
)

// ToStatus maps err to a gRPC status error. It is the only place that does so:
//   - *OAuthError → the code its HTTP status implies, with ErrorInfo{Reason: OAuth code, http_status}
//     (+ RetryInfo when it has a RetryAfter)
//   - Overloaded → UNAVAILABLE with RetryInfo
//   - *FieldError → INVALID_ARGUMENT with ErrorInfo{Reason: "invalid_argument", field} and BadRequest
//   - the sentinels → their codes
//   - context errors → CANCELED / DEADLINE_EXCEEDED
//   - an error that already is a status passes through
//   - anything else → INTERNAL with a generic message (the caller should log the cause once).
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	var oe *OAuthError
	if errors.As(err, &oe) {
		msg := oe.Description // the code travels in ErrorInfo; error_description is the description alone
		if msg == "" {
			msg = oe.Code
		}
		st := status.New(codeForHTTP(oe.HTTPStatus()), msg)
		details := []protoadapt.MessageV1{&errdetails.ErrorInfo{
			Reason:   oe.Code,
			Domain:   Domain,
			Metadata: map[string]string{metaHTTPStatus: strconv.Itoa(oe.HTTPStatus())},
		}}
		if ri := retryInfo(oe.RetryAfter); ri != nil {
			details = append(details, ri)
		}
		return withDetails(st, details...)
	}
	if oe, ok := asOverloaded(err); ok {
		return overloadedStatus(oe)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		st := status.New(codes.InvalidArgument, fe.Error())
		return withDetails(st,
			&errdetails.ErrorInfo{Reason: "invalid_argument", Domain: Domain, Metadata: map[string]string{metaField: fe.Field}},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.Field, Description: fe.Reason}}},
		)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrFailedPrecondition):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, "internal error")
}

func withDetails(st *status.Status, details ...protoadapt.MessageV1) error {
	if ds, err := st.WithDetails(details...); err == nil {
		return ds.Err()
	}
	return st.Err()
}

func codeForHTTP(httpStatus int) codes.Code {
	switch httpStatus {
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.NotFound
	case 409:
		return codes.AlreadyExists
	case 500:
		return codes.Internal
	case 503:
		return codes.Unavailable
	}
	return codes.InvalidArgument
}

// Info is what the HTTP edge needs to render an error from a gRPC status.
type Info struct {
	Code       codes.Code
	Message    string
	OAuthCode  string // ErrorInfo reason, when the service gave one
	Field      string // the invalid field, for INVALID_ARGUMENT
	HTTPStatus int    // the status the service asked for, or 0
	// RetryAfter is when a retry may pass (the status's google.rpc.RetryInfo), or 0. The HTTP edge sends it as
	// Retry-After (RetryAfterSeconds).
	RetryAfter time.Duration
}

// FromStatus extracts Info from a gRPC error.
func FromStatus(err error) Info {
	st, _ := status.FromError(err)
	info := Info{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			info.RetryAfter = max(ri.GetRetryDelay().AsDuration(), 0)
		}
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetDomain() == Domain {
			info.OAuthCode = ei.GetReason()
			info.Field = ei.GetMetadata()[metaField]
			if s, err := strconv.Atoi(ei.GetMetadata()[metaHTTPStatus]); err == nil {
				info.HTTPStatus = s
			}
		}
	}
	return info
}

// UnaryServerInterceptor maps handler errors with ToStatus and logs internal errors once, without request
// contents.
func UnaryServerInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, mapAndLog(log, info.FullMethod, err)
		}
		return resp, nil
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams.
func StreamServerInterceptor(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := handler(srv, ss); err != nil {
			return mapAndLog(log, info.FullMethod, err)
		}
		return nil
	}
}

func mapAndLog(log *slog.Logger, method string, err error) error {
	mapped := ToStatus(err)
	if status.Code(mapped) == codes.Internal && log != nil {
		log.Error("internal error", "method", method, "err", err)
	}
	return mapped
}

// codeNames holds the snake_case names of the gRPC codes, indexed by code ("not_found", "ok").
var codeNames = func() []string {
	names := make([]string, codes.Unauthenticated+1)
	for c := range names {
		var b strings.Builder
		name := codes.Code(c).String()
		for i, r := range name {
			if unicode.IsUpper(r) {
				if i > 0 && !unicode.IsUpper(rune(name[i-1])) {
					b.WriteByte('_')
				}
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
		}
		names[c] = b.String()
	}
	return names
}()

// CodeName is the snake_case name of a gRPC code ("NotFound" → "not_found", "OK" → "ok"); codes outside
// the gRPC set are "unknown". It is what the REST errors and the metrics call a code without an OAuth name.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "unknown"
}
