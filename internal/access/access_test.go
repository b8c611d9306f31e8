package access

import (
	"errors"
	"testing"

	"github.com/authsuite/authsuite/internal/apierror"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in   string
		want Selector
		bad  bool
	}{
		{in: "uid:42", want: Selector{ByUID, "42"}},
		{in: "loginName:alice", want: Selector{ByLoginName, "alice"}},
		{in: "username:alice", want: Selector{ByLoginName, "alice"}},
		{in: "email:a@example.com", want: Selector{ByEmail, "a@example.com"}},
		{in: "mobile:+8613800000000", want: Selector{ByMobile, "+8613800000000"}},
		{in: "uid:a:b", want: Selector{ByUID, "a:b"}},
		{in: "uid:", bad: true},
		{in: "42", bad: true},
		{in: "name:alice", bad: true},
		{in: "", bad: true},
		{in: "uid:a\nb", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseSelector(tt.in)
		if tt.bad {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || fe.Field != "sudo" {
				t.Errorf("ParseSelector(%q) = %v, %v; want a sudo field error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSelector(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"uid:1", "loginName:x", "email:", ":", "username:é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err == nil && (sel.Value == "" || sel.Kind == "") {
			t.Fatalf("accepted empty selector from %q", s)
		}
	})
}
