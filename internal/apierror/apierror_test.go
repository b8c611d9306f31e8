package apierror

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
		{name: "oauth invalid_client", err: OAuth(InvalidClient, "client authentication failed"), code: codes.Unauthenticated, oauth: InvalidClient, http: 401, message: "client authentication failed"},
		{name: "oauth invalid_scope", err: OAuth(InvalidScope, "scope x is not allowed"), code: codes.InvalidArgument, oauth: InvalidScope, http: 400, message: "scope x is not allowed"},
		{name: "oauth with status", err: OAuthWithStatus(400, InvalidToken, "expired"), code: codes.InvalidArgument, oauth: InvalidToken, http: 400, message: "expired"},
		{name: "oauth wrapped", err: fmt.Errorf("issuing: %w", OAuth(AccessDenied, "no")), code: codes.PermissionDenied, oauth: AccessDenied, http: 403},
		{name: "field", err: Invalid("redirectUris[1]", "must be absolute"), code: codes.InvalidArgument, oauth: "invalid_argument", field: "redirectUris[1]", message: "redirectUris[1]: must be absolute"},
		{name: "not found", err: NotFound("client %q", "x"), code: codes.NotFound},
		{name: "already exists", err: AlreadyExists("client %q", "x"), code: codes.AlreadyExists},
		{name: "precondition", err: FailedPrecondition("in use"), code: codes.FailedPrecondition},
		{name: "unauthenticated", err: Unauthenticated("no token"), code: codes.Unauthenticated},
		{name: "denied", err: PermissionDenied("other tenant"), code: codes.PermissionDenied},
		{name: "unavailable", err: fmt.Errorf("registry: %w", ErrUnavailable), code: codes.Unavailable},
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
}

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"longer than ten", 10, "longer tha…"},
		{"日本語テキスト", 7, "日本…"}, // never splits a character
		{"a\nb\x00c", 10, "a?b?c"},
		{"bad\xffutf8", 10, "bad?utf8"},
		{"", 5, ""},
	} {
		got := Clip(tt.in, tt.max)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
