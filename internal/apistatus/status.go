// Package apistatus is the one mapping between authsuite's domain errors (internal/apierror) and gRPC
// statuses: ToStatus at the server edge (the interceptors of this package run it on every handler error),
// FromStatus wherever a status is read back (the REST gateway, the CLI, metrics), and the one table of gRPC
// code names. The domain vocabulary stays in apierror, which imports no gRPC.
package apistatus

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/authsuite/authsuite/internal/apierror"
)

// Domain is the ErrorInfo domain of every authsuite error detail.
const Domain = "authsuite"

// Metadata keys of the ErrorInfo detail.
const (
	metaField      = "field"
	metaHTTPStatus = "http_status"
)

// ToStatus maps err to a gRPC status error. It is the only place that does so:
//   - *apierror.OAuthError → the code its HTTP status implies, with ErrorInfo{Reason: OAuth code,
//     http_status} (+ RetryInfo when it has a RetryAfter); the message is the description alone
//   - *apierror.OverloadedError → UNAVAILABLE with RetryInfo
//   - *apierror.Violations → INVALID_ARGUMENT (FAILED_PRECONDITION when its Kind says so) with
//     ErrorInfo{field} and one BadRequest field violation per problem
//   - *apierror.FieldError → INVALID_ARGUMENT with ErrorInfo{Reason: "invalid_argument", field} and BadRequest
//   - the sentinels → their codes, the message without the sentinel's suffix (apierror.Text)
//   - context errors → CANCELED / DEADLINE_EXCEEDED
//   - an error that already is a status passes through
//   - a storage backend's transient error (storageUnavailable) → UNAVAILABLE with RetryInfo
//   - anything else → INTERNAL with a generic message (the caller should log the cause once).
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	var oe *apierror.OAuthError
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
	var ov *apierror.OverloadedError
	if errors.As(err, &ov) {
		st := status.New(codes.Unavailable, ov.Message)
		if ri := retryInfo(ov.After); ri != nil {
			return withDetails(st, ri)
		}
		return st.Err()
	}
	var vs *apierror.Violations
	if errors.As(err, &vs) {
		return violationsStatus(vs)
	}
	var fe *apierror.FieldError
	if errors.As(err, &fe) {
		st := status.New(codes.InvalidArgument, fe.Error())
		return withDetails(st,
			&errdetails.ErrorInfo{Reason: "invalid_argument", Domain: Domain, Metadata: map[string]string{metaField: fe.Field}},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.Field, Description: fe.Reason}}},
		)
	}
	for _, m := range sentinelCodes {
		if errors.Is(err, m.err) {
			return status.Error(m.code, apierror.Text(err))
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if storageUnavailable(err) {
		return withDetails(status.New(codes.Unavailable, "storage temporarily unavailable; retry"), retryInfo(time.Second))
	}
	return status.Error(codes.Internal, "internal error")
}

// storageUnavailable reports whether err is a storage backend's way of saying "not now" rather than "no":
// an error carrying the gRPC code UNAVAILABLE or DEADLINE_EXCEEDED of a backend spoken to over gRPC, such as
// etcd's "leader changed", "no leader" or "request timed out" while the cluster elects a leader. The request
// may or may not have taken effect, and the caller should retry (an idempotent retry, or a read first).
func storageUnavailable(err error) bool {
	var coded interface{ Code() codes.Code }
	if !errors.As(err, &coded) {
		return false
	}
	switch coded.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// sentinelCodes maps the domain sentinels, in the order they are tested.
var sentinelCodes = []struct {
	err  error
	code codes.Code
}{
	{apierror.ErrNotFound, codes.NotFound},
	{apierror.ErrAlreadyExists, codes.AlreadyExists},
	{apierror.ErrFailedPrecondition, codes.FailedPrecondition},
	{apierror.ErrUnauthenticated, codes.Unauthenticated},
	{apierror.ErrPermissionDenied, codes.PermissionDenied},
	{apierror.ErrUnavailable, codes.Unavailable},
}

func violationsStatus(vs *apierror.Violations) error {
	code := codes.InvalidArgument
	if errors.Is(vs.Kind, apierror.ErrFailedPrecondition) {
		code = codes.FailedPrecondition
	}
	br := &errdetails.BadRequest{}
	for _, f := range vs.Fields {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Reason})
	}
	meta := map[string]string{}
	if f := vs.MainField(); f != "" {
		meta[metaField] = f
	}
	st := status.New(code, vs.Error())
	return withDetails(st, &errdetails.ErrorInfo{Reason: CodeName(code), Domain: Domain, Metadata: meta}, br)
}

func withDetails(st *status.Status, details ...protoadapt.MessageV1) error {
	if ds, err := st.WithDetails(details...); err == nil {
		return ds.Err()
	}
	return st.Err()
}

// retryInfo is the RetryInfo detail of a retry hint, or nil when there is none.
func retryInfo(after time.Duration) *errdetails.RetryInfo {
	if after <= 0 {
		return nil
	}
	return &errdetails.RetryInfo{RetryDelay: durationpb.New(after)}
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

// Violation is one problem of a refused request: the field (REST path) and what is wrong with it.
type Violation struct {
	Field       string
	Description string
}

// Info is what an edge (the REST gateway, the CLI) needs to render an error from a gRPC status.
type Info struct {
	Code       codes.Code
	Message    string
	OAuthCode  string // ErrorInfo reason, when the service gave one
	Field      string // the invalid field, for INVALID_ARGUMENT
	HTTPStatus int    // the status the service asked for, or 0
	// RetryAfter is when a retry may pass (the status's google.rpc.RetryInfo), or 0. The HTTP edge sends it as
	// Retry-After (apierror.RetryAfterSeconds).
	RetryAfter time.Duration
	// Violations are the status's google.rpc.BadRequest field violations: every problem of a refused request.
	Violations []Violation
}

// FromStatus extracts Info from a gRPC error. An error that is not a status reads as UNKNOWN.
func FromStatus(err error) Info {
	st, _ := status.FromError(err)
	info := Info{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			if d.GetRetryDelay().IsValid() {
				info.RetryAfter = max(d.GetRetryDelay().AsDuration(), 0)
			}
		case *errdetails.ErrorInfo:
			if d.GetDomain() != Domain {
				continue
			}
			info.OAuthCode = d.GetReason()
			info.Field = d.GetMetadata()[metaField]
			if s, err := strconv.Atoi(d.GetMetadata()[metaHTTPStatus]); err == nil {
				info.HTTPStatus = s
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				info.Violations = append(info.Violations, Violation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return info
}

// Of is FromStatus(ToStatus(err)): how err reads at an edge, whether it is a domain error or a status.
func Of(err error) Info {
	return FromStatus(ToStatus(err))
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
