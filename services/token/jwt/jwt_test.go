package jwt

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var allAlgs = []Alg{ES256, EdDSA, RS256}

func testClaims() *Claims {
	return &Claims{
		Issuer: "http://127.0.0.1:8080", Subject: "svc", Audience: Audience{"http://127.0.0.1:8080"},
		ClientID: "svc", Scope: "adminapi sudo", Tenant: "default", Expiry: 2000000000, IssuedAt: 1700000000,
		ID: "00112233445566778899aabbccddeeff",
	}
}

func lookupOf(keys ...*PrivateKey) KeyLookup {
	return func(kid string) (*PublicKey, bool) {
		for _, k := range keys {
			if k.KeyID() == kid {
				return k.Public(), true
			}
		}
		return nil, false
	}
}

// joseKey turns our JWK into a go-jose key by way of its JSON form, as a relying party would read JWKS.
func joseKey(t testing.TB, j JWK) jose.JSONWebKey {
	t.Helper()
	m := map[string]string{"kty": j.Kty, "kid": j.Kid, "use": j.Use, "alg": j.Alg}
	for k, v := range map[string]string{"crv": j.Crv, "x": j.X, "y": j.Y, "n": j.N, "e": j.E} {
		if v != "" {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	var jk jose.JSONWebKey
	if err := jk.UnmarshalJSON(b); err != nil {
		t.Fatalf("go-jose rejects our JWK %s: %v", b, err)
	}
	return jk
}

func TestSignVerifyRoundTripAndGoJose(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			k, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := k.Sign(testClaims())
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(tok, lookupOf(k))
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != "svc" || got.Scope != "adminapi sudo" || !got.Audience.Contains("http://127.0.0.1:8080") {
				t.Fatalf("claims = %+v", got)
			}
			// Independent verification.
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			jk := joseKey(t, k.Public().JWK())
			if tp, _ := jk.Thumbprint(crypto.SHA256); base64.RawURLEncoding.EncodeToString(tp) != k.KeyID() {
				t.Errorf("kid is not the RFC 7638 thumbprint")
			}
			payload, err := jws.Verify(jk)
			if err != nil {
				t.Fatalf("go-jose verify: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil || m["aud"] != "http://127.0.0.1:8080" {
				t.Fatalf("payload %s", payload)
			}
			hdr := jws.Signatures[0].Protected
			if hdr.KeyID != k.KeyID() || hdr.ExtraHeaders["typ"] != "at+jwt" {
				t.Fatalf("header %+v", hdr)
			}
			// Persist and reload.
			der, err := k.MarshalPKCS8()
			if err != nil {
				t.Fatal(err)
			}
			k2, err := ParsePrivateKey(alg, der)
			if err != nil || k2.KeyID() != k.KeyID() {
				t.Fatalf("reload: %v", err)
			}
			if _, err := Verify(tok, lookupOf(k2)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	k, _ := Generate(ES256)
	other, _ := Generate(ES256)
	ed, _ := Generate(EdDSA)
	tok, _ := k.Sign(testClaims())
	parts := strings.Split(tok, ".")
	enc := base64.RawURLEncoding.EncodeToString
	hdr := func(s string) string { return enc([]byte(s)) + "." + parts[1] + "." + parts[2] }
	cases := map[string]struct {
		tok  string
		want error
	}{
		"empty":          {"", ErrMalformed},
		"two parts":      {parts[0] + "." + parts[1], ErrMalformed},
		"four parts":     {tok + ".x", ErrMalformed},
		"bad base64":     {"!!." + parts[1] + "." + parts[2], ErrMalformed},
		"alg none":       {hdr(`{"alg":"none","kid":"` + k.KeyID() + `","typ":"at+jwt"}`), ErrUnknownKey},
		"alg swap":       {hdr(`{"alg":"RS256","kid":"` + k.KeyID() + `","typ":"at+jwt"}`), ErrUnknownKey},
		"no typ":         {hdr(`{"alg":"ES256","kid":"` + k.KeyID() + `"}`), ErrMalformed},
		"id token typ":   {hdr(`{"alg":"ES256","kid":"` + k.KeyID() + `","typ":"JWT"}`), ErrMalformed},
		"crit":           {hdr(`{"alg":"ES256","kid":"` + k.KeyID() + `","typ":"at+jwt","crit":["x"]}`), ErrMalformed},
		"unknown kid":    {tok, ErrUnknownKey},
		"tampered claim": {parts[0] + "." + enc([]byte(`{"iss":"x"}`)) + "." + parts[2], ErrSignature},
		"short sig":      {parts[0] + "." + parts[1] + "." + enc([]byte("abc")), ErrSignature},
		"too long":       {strings.Repeat("a", MaxTokenSize+1), ErrMalformed},
		"LF in sig":      {parts[0] + "." + parts[1] + "." + parts[2][:8] + "\n" + parts[2][8:], ErrMalformed},
		"CRLF in claims": {parts[0] + "." + parts[1][:4] + "\r\n" + parts[1][4:] + "." + parts[2], ErrMalformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			lookup := lookupOf(k, ed)
			if name == "unknown kid" {
				lookup = lookupOf(other)
			}
			_, err := Verify(c.tok, lookup)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), parts[2]) {
				t.Fatal("error leaks the token")
			}
		})
	}
}

func TestVerifyRequiresClaims(t *testing.T) {
	k, _ := Generate(EdDSA)
	c := testClaims()
	c.ID = ""
	tok, _ := k.Sign(c)
	if _, err := Verify(tok, lookupOf(k)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseAlg(t *testing.T) {
	for _, a := range allAlgs {
		if got, err := ParseAlg(string(a)); err != nil || got != a {
			t.Fatal(a, err)
		}
	}
	for _, s := range []string{"", "es256", "none", "HS256"} {
		if _, err := ParseAlg(s); err == nil {
			t.Fatalf("ParseAlg(%q) accepted", s)
		}
	}
}

func TestJWKMembersPerType(t *testing.T) {
	for _, alg := range allAlgs {
		k, _ := Generate(alg)
		j := k.Public().JWK()
		if j.Use != "sig" || j.Alg != string(alg) || j.Kid == "" {
			t.Fatalf("%s: %+v", alg, j)
		}
		switch j.Kty {
		case "EC":
			if j.N != "" || j.E != "" || j.Y == "" {
				t.Fatalf("%+v", j)
			}
		case "OKP":
			if j.Y != "" || j.N != "" || j.Crv != "Ed25519" {
				t.Fatalf("%+v", j)
			}
		case "RSA":
			if j.Crv != "" || j.X != "" || j.Y != "" {
				t.Fatalf("%+v", j)
			}
		}
	}
}

var fuzzKeys = func() []*PrivateKey {
	var ks []*PrivateKey
	for _, a := range allAlgs {
		k, err := Generate(a)
		if err != nil {
			panic(err)
		}
		ks = append(ks, k)
	}
	return ks
}()

// FuzzVerify feeds arbitrary strings to the parser: it must never panic, and whatever it accepts must have
// been signed by a trusted key (the fuzzer cannot forge one), so anything accepted is a seed token.
func FuzzVerify(f *testing.F) {
	for _, k := range fuzzKeys {
		tok, _ := k.Sign(testClaims())
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	lookup := lookupOf(fuzzKeys...)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(tok, lookup)
		if err == nil {
			if c == nil || c.ID == "" {
				t.Fatal("accepted without claims")
			}
			// Only the signed seed claims can verify (an ECDSA signature is malleable, so the token string
			// itself may differ, but never the signed content).
			if !reflect.DeepEqual(c, testClaims()) {
				t.Fatalf("accepted claims that were never signed: %+v", c)
			}
		}
	})
}

// FuzzSignVerify round-trips arbitrary claim values through Sign and Verify.
func FuzzSignVerify(f *testing.F) {
	f.Add("svc", "a b", "default", int64(1), "\u2028\x00\"")
	f.Fuzz(func(t *testing.T, sub, scope, tenant string, exp int64, jti string) {
		if sub == "" || jti == "" || exp == 0 {
			return
		}
		k := fuzzKeys[1]
		c := &Claims{Issuer: "https://iss", Subject: sub, Audience: Audience{"https://iss"}, ClientID: sub,
			Scope: scope, Tenant: tenant, Expiry: exp, IssuedAt: 1, ID: jti}
		tok, err := k.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Verify(tok, lookupOf(k))
		if len(tok) > MaxTokenSize {
			if err == nil {
				t.Fatal("oversized token accepted")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json replaces invalid UTF-8; that is the only permitted change.
		var want string
		b, _ := json.Marshal(sub)
		_ = json.Unmarshal(b, &want)
		if got.Subject != want || got.Expiry != exp {
			t.Fatalf("sub %q -> %q", sub, got.Subject)
		}
	})
}

func benchSign(b *testing.B, alg Alg) {
	k, err := Generate(alg)
	if err != nil {
		b.Fatal(err)
	}
	c := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignES256(b *testing.B) { benchSign(b, ES256) }
func BenchmarkSignEdDSA(b *testing.B) { benchSign(b, EdDSA) }
func BenchmarkSignRS256(b *testing.B) { benchSign(b, RS256) }

func benchVerify(b *testing.B, alg Alg) {
	k, _ := Generate(alg)
	tok, _ := k.Sign(testClaims())
	lookup := lookupOf(k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(tok, lookup); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, ES256) }
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, EdDSA) }
func BenchmarkVerifyRS256(b *testing.B) { benchVerify(b, RS256) }

// TestSignTyped checks ID/logout tokens: they verify as their own typ only, so an ID token is never accepted
// as an access token and the other way round.
func TestSignTyped(t *testing.T) {
	k, _ := Generate(ES256)
	tok, err := k.SignTyped("JWT", map[string]any{"iss": "https://i", "sub": "u", "nonce": "n"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := VerifyTyped(tok, "jwt", lookupOf(k), &got); err != nil || got["nonce"] != "n" {
		t.Fatalf("VerifyTyped = %v, %v", got, err)
	}
	if _, err := Verify(tok, lookupOf(k)); err == nil {
		t.Fatal("an ID token verified as an access token")
	}
	at, _ := k.Sign(&Claims{Issuer: "i", Subject: "s", ClientID: "c", ID: "j", Expiry: 2, IssuedAt: 1})
	if err := VerifyTyped(at, "jwt", lookupOf(k), &got); err == nil {
		t.Fatal("an access token verified as an ID token")
	}
	other, _ := Generate(ES256)
	if err := VerifyTyped(tok, "jwt", lookupOf(other), &got); err == nil {
		t.Fatal("a token of an unknown key verified")
	}
}
