package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authsuite/authsuite/services/provider"
)

// cannedProvider is an http.RoundTripper answering every request with one fixed response, so the
// outbound parsers run on exactly the bytes a provider could send, without a network.
type cannedProvider struct {
	status int
	ctype  string
	body   []byte
}

func (c cannedProvider) RoundTrip(r *http.Request) (*http.Response, error) {
	h := http.Header{}
	if c.ctype != "" {
		h.Set("Content-Type", c.ctype)
	}
	return &http.Response{StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), Request: r}, nil
}

var fuzzNow = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func cannedServer(c cannedProvider) *Server {
	return &Server{http: &http.Client{Transport: c}, now: func() time.Time { return fuzzNow }}
}

// vschar reports whether s is 1*VSCHAR (RFC 6749 Appendix A: %x20-7E), the syntax of access_token
// (A.12) and refresh_token (A.17).
func vschar(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// refExpiresIn is the reference for expires_in (RFC 6749 §5.1: the lifetime in seconds): a number, or a
// string holding one, of at least 1 and at most 10 years, whole seconds taken; anything else means "not
// given".
func refExpiresIn(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 1 || f >= 10*365*24*3600+1 {
		return 0
	}
	return time.Duration(math.Trunc(f)) * time.Second
}

// checkProviderError: a refusal is errUnreachable, or a *providerError whose code and description are
// printable and bounded (they reach API callers and logs).
func checkProviderError(t *testing.T, err error) *providerError {
	t.Helper()
	if errors.Is(err, errUnreachable) {
		return nil
	}
	var pe *providerError
	if !errors.As(err, &pe) {
		t.Fatalf("untyped error %v", err)
	}
	for _, s := range []struct {
		v   string
		max int
	}{{pe.Code, 64}, {pe.Description, 200}} {
		if !utf8.ValidString(s.v) || strings.ContainsFunc(s.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) || len(s.v) > s.max+len("…") {
			t.Fatalf("provider error text %q is not printable and bounded", s.v)
		}
	}
	if pe.Code == "" {
		t.Fatal("provider error without a code")
	}
	return pe
}

// FuzzTokenResponse checks the token-endpoint response parser (RFC 6749 §5.1, §5.2) on what a provider
// can answer. Structured mode builds the answer from fuzzed fields as JSON or as a form, so the reference
// knows what was sent:
//   - a non-200 status or an error field is a *providerError with that code (made printable), or
//     http_<status> when the code has nothing printable;
//   - otherwise an access_token and a refresh_token that are not 1*VSCHAR (Appendix A.12, A.17) are refused;
//   - otherwise the grant carries exactly the sent tokens, token_type (default Bearer) and an expiry of
//     exactly refExpiresIn seconds from now (none when expires_in is absent, invalid or out of range).
//
// Raw mode sends arbitrary bytes with a chosen status and content type: any success is a 200 with a
// 1*VSCHAR access token and an expiry within 10 years, and any refusal is typed, printable and bounded.
func FuzzTokenResponse(f *testing.F) {
	f.Add(uint8(0), uint16(200), "ya29.a0Af", "1//0g-refresh", "Bearer", "3599", "", []byte(nil))
	f.Add(uint8(1), uint16(200), "gho_16C7e42F292c6912E7710c838347Ae178B4a", "", "bearer", "", "", []byte(nil))
	f.Add(uint8(0), uint16(200), "tok", "", "", `"7200"`, "", []byte(nil))
	f.Add(uint8(0), uint16(200), "tok", "", "", "3600.9", "", []byte(nil))
	f.Add(uint8(0), uint16(200), "tok", "", "", "-5", "", []byte(nil))
	f.Add(uint8(0), uint16(200), "tok", "", "", "1e400", "", []byte(nil))
	f.Add(uint8(0), uint16(400), "", "", "", "", "invalid_grant", []byte(nil))
	f.Add(uint8(0), uint16(200), "", "", "", "", "invalid_grant", []byte(nil))
	f.Add(uint8(0), uint16(200), "to\r\nken", "", "", "", "", []byte(nil))
	f.Add(uint8(1), uint16(200), "tok", "re fresh\x00", "", "NaN", "", []byte(nil))
	f.Add(uint8(2), uint16(200), "", "", "", "", "", []byte(`{"access_token":"a","expires_in":3600,"instance_url":"https://x.my.salesforce.com"}`))
	f.Add(uint8(3), uint16(200), "", "", "", "", "", []byte("access_token=a&token_type=bearer&scope=repo"))
	f.Add(uint8(4), uint16(200), "", "", "", "", "", []byte(`{"ok":false,"error":"invalid_code"}`))
	f.Add(uint8(2), uint16(502), "", "", "", "", "", []byte("<html>bad gateway</html>"))
	f.Add(uint8(2), uint16(401), "", "", "", "", "", []byte(`{"error":"\u0007bell","error_description":"`+strings.Repeat("é", 300)+`"}`))
	entries := []provider.Entry{{ClientAuth: provider.AuthPost}, {ClientAuth: provider.AuthBasic, SlackOK: true, InstanceURL: true}}

	f.Fuzz(func(t *testing.T, mode uint8, status uint16, at, rt, tt, exp, errc string, raw []byte) {
		st := int(status)
		if st < 100 || st > 599 {
			st = 200
		}
		e := entries[int(mode>>4)%len(entries)]
		c := cannedProvider{status: st}
		structured := mode%8 < 2
		if structured {
			if mode%8 == 0 {
				for _, s := range []string{at, rt, tt, exp, errc} {
					if !utf8.ValidString(s) {
						return // JSON cannot carry it unchanged
					}
				}
				m := map[string]any{}
				for k, v := range map[string]string{"access_token": at, "refresh_token": rt, "token_type": tt, "error": errc} {
					if v != "" {
						m[k] = v
					}
				}
				if exp != "" {
					if sentAsNumber(exp) {
						m["expires_in"] = json.RawMessage(exp)
					} else {
						m["expires_in"] = exp
					}
				}
				c.ctype, c.body = "application/json; charset=utf-8", must(json.Marshal(m))
			} else {
				v := url.Values{}
				for k, s := range map[string]string{"access_token": at, "refresh_token": rt, "token_type": tt, "expires_in": exp, "error": errc} {
					if s != "" {
						v.Set(k, s)
					}
				}
				c.ctype, c.body = "application/x-www-form-urlencoded", []byte(v.Encode())
			}
		} else {
			c.ctype = []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "", "text/html; charset=utf-8", "application/json; charset=\"", "text/plain; charset=utf-8"}[int(mode)%7]
			c.body = raw
		}

		g, err := cannedServer(c).tokenRequest(context.Background(), e, "https://provider.example/token", "id", "secret", url.Values{"grant_type": {"authorization_code"}, "code": {"c"}})
		if err != nil {
			pe := checkProviderError(t, err)
			if structured && (st != 200 || errc != "") {
				want := safeText(errc, 64)
				if want == "" {
					want = "http_" + strconv.Itoa(st)
				}
				if pe == nil || pe.Code != want {
					t.Fatalf("status %d error %q: got %v", st, errc, err)
				}
			}
			if structured && st == 200 && errc == "" && at != "" && vschar(at) && (rt == "" || vschar(rt)) {
				t.Fatalf("valid answer refused: %v (body %q)", err, c.body)
			}
			return
		}
		if st != 200 || !vschar(g.AccessToken) || (g.RefreshToken != "" && !vschar(g.RefreshToken)) || g.TokenType == "" {
			t.Fatalf("accepted status %d, access token %q, refresh token %q, type %q", st, g.AccessToken, g.RefreshToken, g.TokenType)
		}
		if !g.Expiry.IsZero() && (!g.Expiry.After(fuzzNow) || g.Expiry.Sub(fuzzNow) > 10*365*24*time.Hour) {
			t.Fatalf("expiry %v out of range", g.Expiry)
		}
		if !e.InstanceURL && g.InstanceURL != "" {
			t.Fatal("instance_url kept for a provider without it")
		}
		if !structured {
			return
		}
		if errc != "" {
			t.Fatalf("answer with error %q accepted", errc)
		}
		wantType := tt
		if wantType == "" {
			wantType = "Bearer"
		}
		if g.AccessToken != at || g.RefreshToken != rt || g.TokenType != wantType {
			t.Fatalf("grant %q/%q/%q, sent %q/%q/%q", g.AccessToken, g.RefreshToken, g.TokenType, at, rt, tt)
		}
		ref := exp
		if mode%8 == 0 && sentAsNumber(exp) {
			ref = strings.TrimSpace(exp) // json.Marshal compacts the raw number
		}
		var want time.Time
		if d := refExpiresIn(ref); d > 0 {
			want = fuzzNow.Add(d)
		}
		if !g.Expiry.Equal(want) {
			t.Fatalf("expires_in %q (mode %d): expiry %v, want %v", exp, mode%8, g.Expiry, want)
		}
	})
}

// sentAsNumber: in JSON mode an expires_in that is a JSON number is sent as one, anything else as a string.
func sentAsNumber(exp string) bool {
	return exp != "" && json.Valid([]byte(exp)) && (exp[0] == '-' || exp[0] >= '0' && exp[0] <= '9')
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzOAuth1Response checks the OAuth 1.0a credential response parser (RFC 5849 §2.1, §2.3: a 200 answer,
// form-encoded, with oauth_token and oauth_token_secret) on arbitrary answers: a success is a 200 whose
// body, parsed by net/url as the reference, carries non-empty oauth_token and oauth_token_secret equal to
// what is returned; a refusal is typed, printable and bounded, and never quotes the consumer secret.
func FuzzOAuth1Response(f *testing.F) {
	f.Add(uint16(200), []byte("oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true"))
	f.Add(uint16(200), []byte("oauth_token=a&oauth_token_secret=\n"))
	f.Add(uint16(200), []byte(" oauth_token=a&oauth_token_secret=b \r\n"))
	f.Add(uint16(200), []byte("oauth_token=a;oauth_token_secret=b"))
	f.Add(uint16(401), []byte("invalid signature"))
	f.Add(uint16(401), []byte("token not found\x00\x1b[31m"))
	f.Add(uint16(200), []byte("%zz"))
	f.Add(uint16(200), []byte(`{"oauth_token":"a","oauth_token_secret":"b"}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		st := int(status)
		if st < 100 || st > 599 {
			st = 200
		}
		c := cannedProvider{status: st, ctype: "application/x-www-form-urlencoded", body: body}
		q, err := cannedServer(c).oauth1Request(context.Background(), "https://trello.example/1/OAuthGetRequestToken", "consumer-key", "consumer-secret-0123456789", "", "")
		if err != nil {
			checkProviderError(t, err)
			if strings.Contains(err.Error(), "consumer-secret-0123456789") && !bytes.Contains(body, []byte("consumer-secret-0123456789")) {
				t.Fatalf("error %q quotes the consumer secret", err)
			}
			return
		}
		ref, rerr := url.ParseQuery(strings.TrimSpace(string(body)))
		if st != 200 || rerr != nil || ref.Get("oauth_token") == "" || ref.Get("oauth_token_secret") == "" {
			t.Fatalf("accepted status %d body %q", st, body)
		}
		if q.Get("oauth_token") != ref.Get("oauth_token") || q.Get("oauth_token_secret") != ref.Get("oauth_token_secret") {
			t.Fatalf("returned %v, body says %v", q, ref)
		}
	})
}
