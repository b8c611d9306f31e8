package apierror

import (
	"fmt"
	"testing"
	"unicode/utf8"
)

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

func TestText(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{NotFound("client %q", "x"), `client "x"`},
		{fmt.Errorf("load: %w", FailedPrecondition("in use")), "load: in use"},
		{ErrUnavailable, "unavailable"},
		{Invalid("a", "b"), "a: b"},
		{&Violations{Fields: []FieldError{{"a", "b"}}, Kind: ErrFailedPrecondition}, "invalid request (1 problem): a: b"},
	} {
		if got := Text(tt.err); got != tt.want {
			t.Errorf("Text(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
