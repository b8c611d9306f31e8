package apierror

import (
	"fmt"
	"strings"
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

// FuzzText: for any message wrapped around any sentinel, Text gives back the message without the
// sentinel's suffix, and never an empty string or text the error did not contain.
func FuzzText(f *testing.F) {
	f.Add("client \"x\"", uint8(0), false)
	f.Add("", uint8(2), true)
	f.Add("a: not found", uint8(1), false)
	f.Fuzz(func(t *testing.T, msg string, which uint8, bare bool) {
		s := sentinels[int(which)%len(sentinels)]
		var err error = fmt.Errorf("%s: %w", msg, s)
		if bare {
			err = fmt.Errorf("%w", s)
		}
		got := Text(err)
		if got == "" || !strings.HasPrefix(err.Error(), got) {
			t.Fatalf("Text(%q) = %q", err.Error(), got)
		}
		if !bare && msg != "" && got != msg {
			t.Fatalf("Text(%q) = %q, want %q", err.Error(), got, msg)
		}
		if bare && got != s.Error() {
			t.Fatalf("Text(bare %q) = %q", s.Error(), got)
		}
	})
}
