// Package oauth1 signs requests the way OAuth 1.0 (RFC 5849) requires: the percent-encoding of §3.6, the
// signature base string of §3.4.1, the HMAC-SHA1 signature of §3.4.2 and the Authorization header of §3.5.1.
// It is the client side only (authsuite is a client of OAuth 1.0a providers such as Trello); every function
// is pure except Client.Sign, which reads the clock and the nonce source it is given.
package oauth1

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SignatureMethod is the only signature method this package implements (RFC 5849 §3.4.2).
const SignatureMethod = "HMAC-SHA1"

// Param is one name/value pair, decoded. Parameters are a list, not a map: a name may repeat (§3.4.1.3.1).
type Param struct {
	Name, Value string
}

// Encode percent-encodes s as RFC 5849 §3.6 requires: every byte of s (taken as UTF-8, not normalized) is
// kept when it is an unreserved character (ALPHA, DIGIT, "-", ".", "_", "~") and otherwise written as "%"
// and two uppercase hexadecimal digits. Space is "%20", never "+". The result contains only unreserved
// characters and "%XX" triplets, and url.PathUnescape of it is s.
func Encode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// Normalize renders parameters as RFC 5849 §3.4.1.3.2 requires: each name and value encoded (§3.6), the
// pairs sorted by encoded name and then encoded value in ascending byte order, joined as name=value (the
// "=" kept for empty values) with "&". It does not change ps.
func Normalize(ps []Param) string {
	enc := make([]Param, len(ps))
	for i, p := range ps {
		enc[i] = Param{Encode(p.Name), Encode(p.Value)}
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].Name != enc[j].Name {
			return enc[i].Name < enc[j].Name
		}
		return enc[i].Value < enc[j].Value
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String()
}

// BaseStringURI is the base string URI of RFC 5849 §3.4.1.2: scheme and host in lowercase, the port only when
// it is not the scheme's default (80 for http, 443 for https), the path as sent ("/" when empty), no query
// and no fragment.
func BaseStringURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port := u.Port(); port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// Collect gathers the request parameters of RFC 5849 §3.4.1.3.1: the query of u (decoded as
// application/x-www-form-urlencoded, so "+" is a space), the protocol parameters without "realm" and
// "oauth_signature", and form, the decoded form-encoded entity-body (nil when the body is not
// application/x-www-form-urlencoded). It fails when the query cannot be decoded.
func Collect(u *url.URL, oauth []Param, form url.Values) ([]Param, error) {
	var ps []Param
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("oauth1: the request query is not form-encoded")
	}
	for name, vals := range q {
		for _, v := range vals {
			ps = append(ps, Param{name, v})
		}
	}
	for _, p := range oauth {
		if p.Name != "realm" && p.Name != "oauth_signature" {
			ps = append(ps, p)
		}
	}
	for name, vals := range form {
		for _, v := range vals {
			ps = append(ps, Param{name, v})
		}
	}
	return ps, nil
}

// BaseString is the signature base string of RFC 5849 §3.4.1.1: the uppercase method, the encoded base
// string URI of u and the encoded normalized params, joined with "&". params are every request parameter
// (see Collect).
func BaseString(method string, u *url.URL, params []Param) string {
	return Encode(strings.ToUpper(method)) + "&" + Encode(BaseStringURI(u)) + "&" + Encode(Normalize(params))
}

// HMACSHA1 signs a base string as RFC 5849 §3.4.2 requires: HMAC-SHA1 keyed with the encoded client
// (consumer) secret and the encoded token secret joined by "&" (the "&" kept when the token secret is
// empty), base64-encoded (RFC 2045 §6.8, with padding).
func HMACSHA1(base, consumerSecret, tokenSecret string) string {
	m := hmac.New(sha1.New, []byte(Encode(consumerSecret)+"&"+Encode(tokenSecret)))
	m.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// AuthorizationHeader renders protocol parameters as the Authorization header value of RFC 5849 §3.5.1:
// "OAuth " and name="value" pairs, both encoded (§3.6), separated by ", ", in the order given.
func AuthorizationHeader(oauth []Param) string {
	var b strings.Builder
	b.WriteString("OAuth ")
	for i, p := range oauth {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(Encode(p.Name))
		b.WriteString(`="`)
		b.WriteString(Encode(p.Value))
		b.WriteByte('"')
	}
	return b.String()
}

// Client holds client credentials (RFC 5849 §1.1, "consumer key and secret") and signs requests with them.
// Now defaults to time.Now, Nonce to 128 random bits in hex.
type Client struct {
	ConsumerKey    string
	ConsumerSecret string
	Now            func() time.Time
	Nonce          func() string
}

// Sign authenticates req (RFC 5849 §3.1) with HMAC-SHA1: it adds oauth_consumer_key, oauth_token (when
// token is not empty), oauth_signature_method, oauth_timestamp, oauth_nonce, oauth_version="1.0" and
// extra (e.g. oauth_callback §2.1, oauth_verifier §2.3), signs them together with the query of req.URL
// and form (the form-encoded body req carries, or nil) using tokenSecret (empty for temporary credential
// requests, §2.1), and sets the Authorization header (§3.5.1). It fails only when req.URL's query cannot
// be decoded.
func (c Client) Sign(req *http.Request, form url.Values, token, tokenSecret string, extra ...Param) error {
	now, nonce := c.Now, c.Nonce
	if now == nil {
		now = time.Now
	}
	if nonce == nil {
		nonce = randomNonce
	}
	oauth := []Param{{"oauth_consumer_key", c.ConsumerKey}}
	if token != "" {
		oauth = append(oauth, Param{"oauth_token", token})
	}
	oauth = append(oauth,
		Param{"oauth_signature_method", SignatureMethod},
		Param{"oauth_timestamp", strconv.FormatInt(now().Unix(), 10)},
		Param{"oauth_nonce", nonce()},
		Param{"oauth_version", "1.0"})
	oauth = append(oauth, extra...)
	params, err := Collect(req.URL, oauth, form)
	if err != nil {
		return err
	}
	sig := HMACSHA1(BaseString(req.Method, req.URL, params), c.ConsumerSecret, tokenSecret)
	req.Header.Set("Authorization", AuthorizationHeader(append(oauth, Param{"oauth_signature", sig})))
	return nil
}

func randomNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
