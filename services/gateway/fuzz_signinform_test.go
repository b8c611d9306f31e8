package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// FuzzParseForm checks the form parsing the login, consent, logout-confirmation, token, introspection,
// revocation and userinfo endpoints share (RFC 6749 §3.2, §3.1) against net/url as the reference, on any
// method, Content-Type and body:
//   - it accepts exactly a POST of application/x-www-form-urlencoded (any parameters) whose body is at most
//     64 KiB, valid form encoding of UTF-8, with no parameter repeated;
//   - what it returns is the reference parse without the parameters sent empty (treated as omitted), one
//     value each, so the login form's username/password/interaction are exactly what the browser sent;
//   - a refusal is an *apierror.OAuthError with code invalid_request.
func FuzzParseForm(f *testing.F) {
	for _, s := range []struct {
		post  bool
		ctype string
		body  string
	}{
		{true, "application/x-www-form-urlencoded", "interaction=abc&csrf_token=t&username=alice&password=correct+horse"},
		{true, "application/x-www-form-urlencoded; charset=UTF-8", "interaction=abc&decision=allow&remember=on"},
		{true, "application/x-www-form-urlencoded", "username=%E5%BC%A0%E4%B8%89&password=%FF"},
		{true, "application/x-www-form-urlencoded", "username=a&username=b"},
		{true, "application/x-www-form-urlencoded", "username=&username=b"},
		{true, "application/x-www-form-urlencoded", "username=a;password=b"},
		{true, "application/x-www-form-urlencoded", "%zz=1"},
		{true, "application/x-www-form-urlencoded", "password=&remember"},
		{true, "multipart/form-data; boundary=x", "--x--"},
		{true, "Application/X-WWW-Form-Urlencoded", "a=1"},
		{true, "application/x-www-form-urlencoded;", "a=1"},
		{false, "application/x-www-form-urlencoded", "a=1"},
		{true, "", ""},
	} {
		f.Add(s.post, s.ctype, s.body)
	}
	f.Fuzz(func(t *testing.T, post bool, ctype, body string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/connect/login?username=from-query", strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		form, err := ParseForm(r)

		want, ok := refParseForm(post, ctype, body)
		if err != nil {
			var fe *apierror.OAuthError
			if !errors.As(err, &fe) || fe.Code != "invalid_request" {
				t.Fatalf("ParseForm: error %v is not invalid_request", err)
			}
			if ok {
				t.Fatalf("ParseForm(%s %q %q) refused a valid form: %v", method, ctype, body, err)
			}
			return
		}
		if !ok {
			t.Fatalf("ParseForm(%s %q %q) accepted %v", method, ctype, body, form)
		}
		if !maps.EqualFunc(form, want, slices.Equal) {
			t.Fatalf("ParseForm(%q) = %v, want %v", body, form, want)
		}
	})
}

// refParseForm is the reference for ParseForm: net/url's parse of the body of a POST of
// application/x-www-form-urlencoded (RFC 6749 §3.2) of at most 64 KiB, refused when a parameter repeats
// (§3.1) or is not UTF-8, without the parameters sent empty.
func refParseForm(post bool, ctype, body string) (url.Values, bool) {
	mt, _, merr := mime.ParseMediaType(ctype)
	ref, perr := url.ParseQuery(body)
	if !post || merr != nil || mt != "application/x-www-form-urlencoded" || len(body) > maxFormBytes || perr != nil {
		return nil, false
	}
	want := url.Values{}
	for k, vs := range ref {
		if len(vs) > 1 || !utf8.ValidString(k) || !utf8.ValidString(vs[0]) {
			return nil, false
		}
		if vs[0] != "" {
			want[k] = vs
		}
	}
	return want, true
}

// printableASCII reports whether s is %x20-7E only (what gRPC metadata carries).
func printableASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
}

// callRecorder is a grpc.ClientConnInterface that records the request of every unary call and answers
// with err.
type callRecorder struct {
	mu    sync.Mutex
	calls []proto.Message
	err   error
}

func (c *callRecorder) Invoke(_ context.Context, _ string, args, _ any, _ ...grpc.CallOption) error {
	// Marshal as the real channel does: a request gRPC cannot encode never reaches a service.
	if _, err := proto.Marshal(args.(proto.Message)); err != nil {
		return status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	c.mu.Lock()
	c.calls = append(c.calls, proto.Clone(args.(proto.Message)))
	err := c.err
	c.mu.Unlock()
	return err
}

func (c *callRecorder) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "no streams")
}

func (c *callRecorder) take() []proto.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	return calls
}

// FuzzUserInfoRequest drives GET and POST /connect/userinfo through the gateway (OIDC Core §5.3) with any
// Authorization header, query and body, against a token service that refuses every token, and checks
// RFC 6750:
//   - the token service is asked about exactly one token: the Bearer header's credential (§2.1, scheme in
//     any case, trimmed), else on POST the access_token form parameter (§2.2), else ?access_token= (§2.3);
//   - it is asked nothing, and the answer is a 400/401 OAuth error, when the request carries no usable token
//     (401 for a token that is not UTF-8: none of ours, and gRPC could not marshal it);
//   - every answer is a typed OAuth error body with a Bearer WWW-Authenticate challenge on 401 (§3), and
//     never quotes the token.
func FuzzUserInfoRequest(f *testing.F) {
	for _, s := range []struct {
		post              bool
		auth, query, body string
	}{
		{false, "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "", ""},
		{false, "bearer   tok-123  ", "", ""},
		{false, "Basic YTpi", "", ""},
		{false, "", "access_token=q-token-123", ""},
		{true, "", "", "access_token=f-token-123"},
		{true, "Bearer h-token-123", "", "access_token=f-token-123"},
		{true, "", "access_token=q-token-123", "access_token=f-token-123"},
		{true, "", "", "access_token=a&access_token=b"},
		{true, "", "", "%zz"},
		{false, "Bearer", "", ""},
		{false, "", "access_token=%FF", ""},
		{false, "Bearer tok\xffen", "", ""},
	} {
		f.Add(s.post, s.auth, s.query, s.body)
	}
	rec := &callRecorder{err: status.Error(codes.Unauthenticated, "refused")}
	g, err := New(context.Background(), Backends{Registry: rec, Token: rec}, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, post bool, auth, query, body string) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "/connect/userinfo", strings.NewReader(body))
		r.URL.RawQuery = query
		r.RequestURI = ""
		if post {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		rec.take()
		g.ServeHTTP(w, r)
		calls := rec.take()

		// The reference: which token RFC 6750 says the request carries.
		q, qerr := url.ParseQuery(query)
		queryOK := query == "" || (qerr == nil && validUTF8(q) &&
			(q.Get("sudo") == "" || printableASCII(q.Get("sudo")+q.Get("tenantId")+q.Get("tenantCode"))))
		want, usable := "", true
		switch {
		case !queryOK:
			usable = false
		case auth != "":
			scheme, cred, _ := strings.Cut(auth, " ")
			want, usable = strings.TrimSpace(cred), strings.EqualFold(scheme, "Bearer")
		case q.Get("access_token") != "":
			// ?access_token= becomes the Bearer header (RFC 6750 §2.3, docs/reference.md#bearer-tokens).
			want = strings.TrimSpace(q.Get("access_token"))
		case post:
			form, ok := refParseForm(true, "application/x-www-form-urlencoded", body)
			want, usable = form.Get("access_token"), ok
		}
		if want == "" {
			usable = false
		}
		// A token that is not UTF-8 is none of ours, and gRPC could not carry it: 401 unasked.
		notUTF8 := usable && !utf8.ValidString(want)
		if notUTF8 {
			usable = false
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("non-UTF-8 token %q answered %d %s", want, w.Code, w.Body)
			}
		}

		var eb struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error == "" {
			t.Fatalf("answer %d %q is not an OAuth error body", w.Code, w.Body)
		}
		if w.Code != http.StatusBadRequest && w.Code != http.StatusUnauthorized {
			t.Fatalf("answer %d %s", w.Code, w.Body)
		}
		if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("401 without a Bearer challenge: %q", w.Header().Get("WWW-Authenticate"))
		}
		// The gateway's and the recorder's messages hold no digit, so a token with one cannot appear by chance.
		if len(want) >= 6 && strings.ContainsAny(want, "0123456789") && strings.Contains(w.Body.String(), want) {
			t.Fatalf("answer quotes the token: %s", w.Body)
		}
		switch {
		case !usable && len(calls) != 0:
			t.Fatalf("no usable token (auth %q query %q body %q), yet the token service was asked %v", auth, query, body, calls)
		case usable && (len(calls) != 1 || calls[0].(*tokenv1.UserInfoRequest).GetAccessToken() != want):
			t.Fatalf("auth %q query %q body %q: token service asked %v, want one call for %q", auth, query, body, calls, want)
		}
	})
}

// TestSignInSurvivesNonUTF8UserAgent: the User-Agent the gateway states to the token service went into a
// protobuf string unchecked, so over a real gRPC connection (split roles) a browser sending bytes that are not
// UTF-8 got 500 on every sign-in page (found with the marshalling recorder of FuzzUserInfoRequest). The
// User-Agent is informational: it is passed on with invalid bytes replaced.
func TestSignInSurvivesNonUTF8UserAgent(t *testing.T) {
	rec := &callRecorder{err: status.Error(codes.InvalidArgument, "unknown client_id")}
	g, err := New(context.Background(), Backends{Registry: rec, Token: rec}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/connect/authorize?client_id=x", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 \xff\xfe")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	calls := rec.take()
	if w.Code >= 500 || len(calls) != 1 {
		t.Fatalf("authorize with a non-UTF-8 User-Agent: %d, %d calls", w.Code, len(calls))
	}
	if ua := calls[0].(*tokenv1.AuthorizeRequest).GetBrowser().GetUserAgent(); !utf8.ValidString(ua) || !strings.HasPrefix(ua, "Mozilla/5.0 ") {
		t.Fatalf("User-Agent passed on as %q", ua)
	}
}
