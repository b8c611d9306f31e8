package oauth1_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/provider/oauth1"
)

// The request of RFC 5849 §3.4.1.1 (and §3.4.1.3.1): its parameters come from the query, the
// Authorization header (realm and oauth_signature excluded) and the form-encoded body "c2&a3=2+q".
func TestBaseStringRFC5849Section3411(t *testing.T) {
	u, err := url.Parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
	if err != nil {
		t.Fatal(err)
	}
	header := []oauth1.Param{
		{"realm", "Example"},
		{"oauth_consumer_key", "9djdj82h48djs9d2"},
		{"oauth_token", "kkk9d7dh3k39sjv7"},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", "137131201"},
		{"oauth_nonce", "7d8f3e4a"},
		{"oauth_signature", "bYT5CMsGcbgUdFHObYMEfcx6bsw="},
	}
	body, err := url.ParseQuery("c2&a3=2+q")
	if err != nil {
		t.Fatal(err)
	}
	params, err := oauth1.Collect(u, header, body)
	if err != nil {
		t.Fatal(err)
	}
	// §3.4.1.3.2, "Concatenated Pairs".
	const normalized = "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"
	if got := oauth1.Normalize(params); got != normalized {
		t.Errorf("normalized =\n%s\nwant\n%s", got, normalized)
	}
	// §3.4.1.1, the base string (the RFC's line breaks removed).
	const base = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
		"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_" +
		"key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m" +
		"ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk" +
		"9d7dh3k39sjv7"
	if got := oauth1.BaseString("post", u, params); got != base {
		t.Errorf("base string =\n%s\nwant\n%s", got, base)
	}
	// The RFC gives no client or token secret for this request, so its oauth_signature
	// ("bYT5CMsGcbgUdFHObYMEfcx6bsw=") cannot be reproduced; TestSignaturesRFC5849Section12 checks
	// HMAC-SHA1 against the §1.2 example, whose secrets are given.
}

// §3.4.1.2's two examples.
func TestBaseStringURI(t *testing.T) {
	for in, want := range map[string]string{
		"http://EXAMPLE.COM:80/r%20v/X?id=123":     "http://example.com/r%20v/X",
		"https://www.example.net:8080/?q=1":        "https://www.example.net:8080/",
		"HTTPS://Example.com:443":                  "https://example.com/",
		"http://[::1]:8080/a#frag":                 "http://[::1]:8080/a",
		"https://trello.com/1/OAuthGetAccessToken": "https://trello.com/1/OAuthGetAccessToken",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := oauth1.BaseStringURI(u); got != want {
			t.Errorf("BaseStringURI(%s) = %s, want %s", in, got, want)
		}
	}
}

// The three signed requests of RFC 5849 §1.2 (client credentials dpf43f3p2l4k3l03 / kd94hf93k423kf44), with
// the RFC's oauth_signature values. The requests carry no oauth_version, so Client.Sign (which sends
// oauth_version, as §3.1 allows) is checked against a request built the same way by hand below.
func TestSignaturesRFC5849Section12(t *testing.T) {
	const key, secret = "dpf43f3p2l4k3l03", "kd94hf93k423kf44"
	for _, tc := range []struct {
		name, method, url, tokenSecret string
		oauth                          []oauth1.Param
		want                           string
	}{
		{"temporary credentials", "POST", "https://photos.example.net/initiate", "", []oauth1.Param{
			{"realm", "Photos"}, {"oauth_consumer_key", key}, {"oauth_signature_method", "HMAC-SHA1"},
			{"oauth_timestamp", "137131200"}, {"oauth_nonce", "wIjqoS"}, {"oauth_callback", "http://printer.example.com/ready"},
		}, "74KNZJeDHnMBp0EMJ9ZHt/XKycU="},
		{"token credentials", "POST", "https://photos.example.net/token", "hdhd0244k9j7ao03", []oauth1.Param{
			{"realm", "Photos"}, {"oauth_consumer_key", key}, {"oauth_token", "hh5s93j4hdidpola"},
			{"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", "137131201"}, {"oauth_nonce", "walatlh"},
			{"oauth_verifier", "hfdp7dh39dks9884"},
		}, "gKgrFCywp7rO0OXSjdot/IHF7IU="},
		{"protected resource", "GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", "pfkkdhi9sl3r4s00", []oauth1.Param{
			{"realm", "Photos"}, {"oauth_consumer_key", key}, {"oauth_token", "nnch734d00sl2jdk"},
			{"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", "137131202"}, {"oauth_nonce", "chapoH"},
		}, "MdpQcU8iPSUjWoN/UDMsK2sui9I="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(tc.url)
			ps, err := oauth1.Collect(u, tc.oauth, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := oauth1.HMACSHA1(oauth1.BaseString(tc.method, u, ps), secret, tc.tokenSecret); got != tc.want {
				t.Errorf("signature = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestClientSign(t *testing.T) {
	c := oauth1.Client{ConsumerKey: "dpf43f3p2l4k3l03", ConsumerSecret: "kd94hf93k423kf44",
		Now: func() time.Time { return time.Unix(137131201, 0) }, Nonce: func() string { return "walatlh" }}
	req, _ := http.NewRequest("POST", "https://photos.example.net/token", nil)
	if err := c.Sign(req, nil, "hh5s93j4hdidpola", "hdhd0244k9j7ao03", oauth1.Param{"oauth_verifier", "hfdp7dh39dks9884"}); err != nil {
		t.Fatal(err)
	}
	// The same request with oauth_version="1.0" included, signed by hand.
	u, _ := url.Parse("https://photos.example.net/token")
	oauth := []oauth1.Param{{"oauth_consumer_key", "dpf43f3p2l4k3l03"}, {"oauth_token", "hh5s93j4hdidpola"},
		{"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", "137131201"}, {"oauth_nonce", "walatlh"},
		{"oauth_version", "1.0"}, {"oauth_verifier", "hfdp7dh39dks9884"}}
	ps, _ := oauth1.Collect(u, oauth, nil)
	sig := oauth1.HMACSHA1(oauth1.BaseString("POST", u, ps), "kd94hf93k423kf44", "hdhd0244k9j7ao03")
	want := oauth1.AuthorizationHeader(append(oauth, oauth1.Param{"oauth_signature", sig}))
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization =\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(want, `OAuth oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="hh5s93j4hdidpola", `) ||
		!strings.HasSuffix(want, `oauth_signature="`+oauth1.Encode(sig)+`"`) {
		t.Errorf("header layout: %s", want)
	}
}

func TestEncode(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"abcXYZ019-._~":        "abcXYZ019-._~",
		"a b+c":                "a%20b%2Bc",
		"=%3D":                 "%3D%253D",
		"c@":                   "c%40",
		"http://a/b?c=d&e":     "http%3A%2F%2Fa%2Fb%3Fc%3Dd%26e",
		"é":                    "%C3%A9",
		"\x00\xff":             "%00%FF",
		"*!'()":                "%2A%21%27%28%29",
		"read,write":           "read%2Cwrite",
		"74KNZJeDHnMBp0EMJ9Z/": "74KNZJeDHnMBp0EMJ9Z%2F",
	} {
		if got := oauth1.Encode(in); got != want {
			t.Errorf("Encode(%q) = %q, want %q", in, got, want)
		}
	}
}

// referenceEncode is §3.6 written differently: Go's query escaping (which keeps exactly the unreserved
// set) with "+" for space replaced by "%20".
func referenceEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// FuzzEncodeNormalize checks the §3.6 encoder against a reference implementation and its own guarantees
// (only unreserved characters and uppercase %XX; decoding gives the input back), and that Normalize is
// a sorted "&"-joined list of encoded pairs that decodes to the input pairs.
func FuzzEncodeNormalize(f *testing.F) {
	for _, s := range []string{"", "a b", "=%3D", "c@", "2 q", "r b", "~-._", "é€", "\x00\xff", "+&=", "%zz"} {
		f.Add(s, "a3")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []string{a, b} {
			e := oauth1.Encode(s)
			if e != referenceEncode(s) {
				t.Fatalf("Encode(%q) = %q, reference %q", s, e, referenceEncode(s))
			}
			for i := 0; i < len(e); i++ {
				c := e[i]
				if c == '%' {
					if i+2 >= len(e) || !isUpperHex(e[i+1]) || !isUpperHex(e[i+2]) {
						t.Fatalf("Encode(%q) = %q: bad triplet at %d", s, e, i)
					}
					i += 2
					continue
				}
				if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", rune(c)) {
					t.Fatalf("Encode(%q) = %q: %q not encoded", s, e, c)
				}
			}
			if d, err := url.PathUnescape(e); err != nil || d != s {
				t.Fatalf("PathUnescape(Encode(%q)) = %q, %v", s, d, err)
			}
		}
		in := []oauth1.Param{{a, b}, {b, a}, {a, ""}, {"oauth_nonce", b}}
		n := oauth1.Normalize(in)
		pairs := strings.Split(n, "&")
		if len(pairs) != len(in) {
			t.Fatalf("Normalize(%q) = %q: %d pairs", in, n, len(pairs))
		}
		seen := map[oauth1.Param]int{}
		for _, p := range in {
			seen[p]++
		}
		prev := ""
		for i, pair := range pairs {
			name, value, ok := strings.Cut(pair, "=")
			if !ok {
				t.Fatalf("Normalize: pair %q has no '='", pair)
			}
			if i > 0 && !(prev < name+"\x00"+value || prev == name+"\x00"+value) {
				t.Fatalf("Normalize(%q) = %q: not sorted", in, n)
			}
			prev = name + "\x00" + value
			dn, err1 := url.PathUnescape(name)
			dv, err2 := url.PathUnescape(value)
			if err1 != nil || err2 != nil {
				t.Fatalf("Normalize: %q does not decode", pair)
			}
			seen[oauth1.Param{dn, dv}]--
		}
		for p, c := range seen {
			if c != 0 {
				t.Fatalf("Normalize(%q) = %q: %q count off by %d", in, n, p, c)
			}
		}
		if base := oauth1.BaseString("GET", &url.URL{Scheme: "https", Host: "example.com", Path: "/"}, in); base != "GET&https%3A%2F%2Fexample.com%2F&"+oauth1.Encode(n) {
			t.Fatalf("BaseString = %q", base)
		}
	})
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }
