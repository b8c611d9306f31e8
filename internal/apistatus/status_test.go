package apistatus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authsuite/authsuite/internal/apierror"
)

func TestToStatusAndBack(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      codes.Code
		oauth     string
		field     string
		http      int
		message   string
		genericed bool
	}{
		{name: "oauth invalid_client", err: apierror.OAuth(apierror.InvalidClient, "client authentication failed"), code: codes.Unauthenticated, oauth: apierror.InvalidClient, http: 401, message: "client authentication failed"},
		{name: "oauth invalid_scope", err: apierror.OAuth(apierror.InvalidScope, "scope x is not allowed"), code: codes.InvalidArgument, oauth: apierror.InvalidScope, http: 400, message: "scope x is not allowed"},
		{name: "oauth with status", err: apierror.OAuthWithStatus(400, apierror.InvalidToken, "expired"), code: codes.InvalidArgument, oauth: apierror.InvalidToken, http: 400, message: "expired"},
		{name: "oauth wrapped", err: fmt.Errorf("issuing: %w", apierror.OAuth(apierror.AccessDenied, "no")), code: codes.PermissionDenied, oauth: apierror.AccessDenied, http: 403},
		{name: "field", err: apierror.Invalid("redirectUris[1]", "must be absolute"), code: codes.InvalidArgument, oauth: "invalid_argument", field: "redirectUris[1]", message: "redirectUris[1]: must be absolute"},
		{name: "not found", err: apierror.NotFound("client %q", "x"), code: codes.NotFound, message: `client "x"`},
		{name: "not found wrapped", err: fmt.Errorf("loading: %w", apierror.NotFound("client %q", "x")), code: codes.NotFound, message: `loading: client "x"`},
		{name: "already exists", err: apierror.AlreadyExists("client %q", "x"), code: codes.AlreadyExists, message: `client "x"`},
		{name: "precondition", err: apierror.FailedPrecondition("in use"), code: codes.FailedPrecondition, message: "in use"},
		{name: "unauthenticated", err: apierror.Unauthenticated("no token"), code: codes.Unauthenticated, message: "no token"},
		{name: "denied", err: apierror.PermissionDenied("other tenant"), code: codes.PermissionDenied, message: "other tenant"},
		{name: "unavailable", err: fmt.Errorf("registry: %w", apierror.ErrUnavailable), code: codes.Unavailable, message: "registry"},
		{name: "bare sentinel", err: apierror.ErrNotFound, code: codes.NotFound, message: "not found"},
		{name: "sentinel mid-message", err: fmt.Errorf("%w: client x", apierror.ErrNotFound), code: codes.NotFound, message: "not found: client x"},
		{name: "canceled", err: context.Canceled, code: codes.Canceled},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), code: codes.DeadlineExceeded},
		{name: "status passes", err: status.Error(codes.ResourceExhausted, "slow down"), code: codes.ResourceExhausted, message: "slow down"},
		{name: "anything else", err: errors.New("disk on fire at /var/secret"), code: codes.Internal, message: "internal error", genericed: true},
	}
	for _, tt := range tests {
		got := FromStatus(ToStatus(tt.err))
		if got.Code != tt.code || got.OAuthCode != tt.oauth || got.Field != tt.field || got.HTTPStatus != tt.http {
			t.Errorf("%s: got %+v", tt.name, got)
		}
		if tt.message != "" && got.Message != tt.message {
			t.Errorf("%s: message %q, want %q", tt.name, got.Message, tt.message)
		}
	}
	if ToStatus(nil) != nil {
		t.Error("ToStatus(nil) is not nil")
	}
}

// TestViolations: every problem of a multi-problem refusal travels as a BadRequest field violation, the
// message lists them all, and the kind picks the code.
func TestViolations(t *testing.T) {
	v := &apierror.Violations{Summary: "invalid configuration", Field: "oauthConfigurations", Fields: []apierror.FieldError{
		{Field: "oauthConfigurations.slack.a.CLIENT_ID", Reason: "is required"},
		{Field: "oauthConfigurations.nope", Reason: "is not a known connector type"},
	}}
	info := Of(fmt.Errorf("load: %w", v))
	want := []Violation{{"oauthConfigurations.slack.a.CLIENT_ID", "is required"}, {"oauthConfigurations.nope", "is not a known connector type"}}
	if info.Code != codes.InvalidArgument || info.Field != "oauthConfigurations" || len(info.Violations) != 2 || info.Violations[0] != want[0] || info.Violations[1] != want[1] {
		t.Fatalf("violations: %+v", info)
	}
	if info.Message != "invalid configuration (2 problems): oauthConfigurations.slack.a.CLIENT_ID: is required; oauthConfigurations.nope: is not a known connector type" {
		t.Fatalf("message %q", info.Message)
	}
	v.Kind, v.Field, v.Fields = apierror.ErrFailedPrecondition, "", v.Fields[:1]
	if info := Of(v); info.Code != codes.FailedPrecondition || info.Field != "oauthConfigurations.slack.a.CLIENT_ID" || len(info.Violations) != 1 {
		t.Fatalf("in-use violations: %+v", info)
	}
	v.Message = "configuration not loaded: slack/a: CLIENT_ID is required"
	if info := Of(v); info.Message != v.Message || len(info.Violations) != 1 {
		t.Fatalf("violations in the domain's words: %+v", info)
	}
	if !errors.Is(v, apierror.ErrFailedPrecondition) {
		t.Fatal("a precondition violation is not ErrFailedPrecondition")
	}
}

func TestCodeName(t *testing.T) {
	for c, want := range map[codes.Code]string{
		codes.OK: "ok", codes.NotFound: "not_found", codes.DeadlineExceeded: "deadline_exceeded",
		codes.Canceled: "canceled", codes.Unauthenticated: "unauthenticated", codes.DataLoss: "data_loss",
		codes.Code(99): "unknown",
	} {
		if got := CodeName(c); got != want {
			t.Errorf("CodeName(%v) = %q, want %q", c, got, want)
		}
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if CodeName(c) == "" || CodeLabel(c) == "" || HTTPStatus(c) < 200 {
			t.Errorf("code %v has no complete entry", c)
		}
	}
	if HTTPStatus(codes.Code(99)) != 500 || HTTPStatus(codes.ResourceExhausted) != 503 || CodeLabel(codes.AlreadyExists) != "already exists" {
		t.Error("code table")
	}
}

// TestStorageUnavailable: etcd's answers while it elects a leader (as its client returns them, wrapped by a
// store) become UNAVAILABLE with a retry hint, never INTERNAL; an unrelated coded error stays INTERNAL.
func TestStorageUnavailable(t *testing.T) {
	for _, err := range []error{rpctypes.ErrLeaderChanged, rpctypes.ErrNoLeader, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail} {
		wrapped := fmt.Errorf("registry store: create client: %w", err)
		st := status.Convert(ToStatus(wrapped))
		if st.Code() != codes.Unavailable {
			t.Errorf("%v: %v, want UNAVAILABLE", err, st.Code())
		}
		if strings.Contains(st.Message(), "etcdserver") {
			t.Errorf("%v: message %q shows the backend's own words", err, st.Message())
		}
		hasRetry := false
		for _, d := range st.Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				hasRetry = true
			}
		}
		if !hasRetry {
			t.Errorf("%v: no RetryInfo", err)
		}
	}
	if got := status.Code(ToStatus(fmt.Errorf("store: %w", rpctypes.ErrKeyNotFound))); got != codes.Internal {
		t.Errorf("an etcd error that is not transient: %v, want INTERNAL", got)
	}
}
