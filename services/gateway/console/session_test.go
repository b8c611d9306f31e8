package console

import (
	"strings"
	"testing"
	"time"
)

func testSealers(t testing.TB) (sessions, logins *sealer) {
	t.Helper()
	s, err := newSealer([]byte("gateway secret"), sessionKeyLabel, sessionCookieName)
	if err != nil {
		t.Fatal(err)
	}
	l, err := newSealer([]byte("gateway secret"), loginKeyLabel, loginCookieName)
	if err != nil {
		t.Fatal(err)
	}
	return s, l
}

func TestSessionSealing(t *testing.T) {
	sessions, logins := testSealers(t)
	in := Session{AccessToken: "at", IDToken: "idt", Expiry: time.Now().Add(time.Hour).UTC().Truncate(time.Second), Subject: "u", TenantID: "t", CSRF: "c"}
	v, err := sessions.seal(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "at") && strings.Contains(v, "idt") && strings.Contains(v, "\"") {
		t.Fatalf("sealed value shows its content: %s", v)
	}
	var out Session
	if err := sessions.open(v, &out); err != nil || out != in {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	// Every changed character is refused.
	for i := range v {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if sessions.open(string(b), &out) == nil {
			t.Fatalf("tampered at %d: opened", i)
		}
	}
	for _, bad := range []string{"", v[:len(v)-1], v + "A", v[1:], strings.Repeat("A", maxCookieBytes+1)} {
		if sessions.open(bad, &out) == nil {
			t.Fatalf("%q opened", bad)
		}
	}
	// A login cookie does not open as a session, nor a session under another gateway secret.
	lv, _ := logins.seal(pendingLogin{State: "s"})
	if sessions.open(lv, &out) == nil {
		t.Fatal("a login cookie opened as a session")
	}
	other, _ := newSealer([]byte("another secret"), sessionKeyLabel, sessionCookieName)
	if other.open(v, &out) == nil {
		t.Fatal("opened under another secret")
	}
	// Two seals of one value differ (random nonces).
	v2, _ := sessions.seal(in)
	if v2 == v {
		t.Fatal("nonce reused")
	}
}

func TestSessionTooLarge(t *testing.T) {
	sessions, _ := testSealers(t)
	if _, err := sessions.seal(Session{AccessToken: strings.Repeat("x", 4000)}); err == nil {
		t.Fatal("an oversized session was sealed")
	}
}

// FuzzOpenCookie: whatever a browser sends as the session cookie, open never panics, and only a value
// sealed by the console opens.
func FuzzOpenCookie(f *testing.F) {
	sessions, logins := testSealers(f)
	good, _ := sessions.seal(Session{AccessToken: "a", CSRF: "c", Expiry: time.Unix(2e9, 0)})
	login, _ := logins.seal(pendingLogin{State: "s"})
	for _, s := range []string{good, login, "", "AAAA", good[:20], strings.Repeat("_", 100), "%%%", good + good} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		// Only a value the console sealed opens (GCM authenticates every byte): here, the seed session (sealed
		// anew, with another nonce, in each fuzzing process), never anything else.
		var s Session
		if sessions.open(v, &s) == nil && (s.AccessToken != "a" || s.CSRF != "c") {
			t.Fatalf("a forged cookie opened: %q as %+v", v, s)
		}
	})
}

// FuzzDecodeClaims: the JWT payload reader never panics and reads only three-part tokens.
func FuzzDecodeClaims(f *testing.F) {
	f.Add(unsignedJWT(map[string]any{"iss": "x", "aud": []string{"a", "b"}, "nonce": "n"}))
	f.Add(unsignedJWT(map[string]any{"aud": 7}))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJ9.eyJ9.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := decodeClaims(tok)
		if err == nil && strings.Count(tok, ".") != 2 {
			t.Fatalf("%q decoded without three parts: %+v", tok, c)
		}
	})
}

// FuzzLocalReturn: a return address is a console path or nothing (no open redirect).
func FuzzLocalReturn(f *testing.F) {
	for _, s := range []string{"/console/x", "//evil", "/console//evil", "https://e/", "/console/\\x", "/console/a?b=//c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := localReturn(s)
		if r != "" && (!strings.HasPrefix(r, "/console/") || strings.HasPrefix(r, "/console//") || strings.ContainsAny(r, "\\\r\n")) {
			t.Fatalf("localReturn(%q) = %q", s, r)
		}
	})
}
