package server

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseUpstreamCallback checks that parsing a callback query never panics, that every refusal wraps
// errUpstreamParams, and that what is accepted keeps the guarantees the callback relies on: a well-formed
// state, exactly one of code and error, bounded UTF-8 values, and the same answer for the re-encoded query.
func FuzzParseUpstreamCallback(f *testing.F) {
	state := strings.Repeat("A", upstreamStateLen)
	for _, s := range []string{
		"code=abc&state=" + state + "&iss=https%3A%2F%2Fidp.example",
		"error=access_denied&state=" + state,
		"error=access_denied&error_description=no+thanks&state=" + state,
		"code=a&code=b&state=" + state,
		"code=a&error=x&state=" + state,
		"state=" + state,
		"code=x&state=short",
		"code=x&state=" + state + "&state=" + state,
		"%zz",
		"code=%ff&state=" + state,
		"error=a%22b&state=" + state,
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cb, err := parseUpstreamCallback(raw)
		if err != nil {
			if !errors.Is(err, errUpstreamParams) {
				t.Fatalf("refusal %v does not wrap errUpstreamParams", err)
			}
			if cb != (upstreamCallback{}) {
				t.Fatalf("refusal with a non-zero answer %+v", cb)
			}
			return
		}
		if !validUpstreamState(cb.State) {
			t.Fatalf("accepted state %q", cb.State)
		}
		if (cb.Code == "") == (cb.Error == "") {
			t.Fatalf("accepted code %q with error %q", cb.Code, cb.Error)
		}
		for _, v := range []string{cb.Code, cb.Error, cb.ErrorDescription, cb.Issuer} {
			if len(v) > maxUpstreamParamBytes || !utf8.ValidString(v) {
				t.Fatalf("accepted value %q", v)
			}
		}
		// The oracle: the accepted answer, re-encoded, parses to itself.
		q := url.Values{"state": {cb.State}}
		for k, v := range map[string]string{"code": cb.Code, "error": cb.Error, "error_description": cb.ErrorDescription, "iss": cb.Issuer} {
			if v != "" {
				q.Set(k, v)
			}
		}
		again, err := parseUpstreamCallback(q.Encode())
		if err != nil || again != cb {
			t.Fatalf("re-encoded %q parses to %+v, %v; want %+v", q.Encode(), again, err, cb)
		}
	})
}
