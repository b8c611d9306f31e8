package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// claims are the members of an ID token (OIDC Core §2) or access token (RFC 9068 §2.2) the console reads.
type claims struct {
	Issuer            string   `json:"iss"`
	Subject           string   `json:"sub"`
	Audience          audience `json:"aud"`
	Expiry            int64    `json:"exp"`
	Nonce             string   `json:"nonce"`
	Tenant            string   `json:"tenant"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
}

// audience is "aud": one string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// maxJWTBytes bounds a token the console decodes.
const maxJWTBytes = 16 << 10

var errMalformedJWT = errors.New("console: malformed JWT")

// decodeClaims reads the payload of a compact JWS (RFC 7515 §7.1: three base64url parts). It does not check
// the signature: the console reads only tokens the token service just handed it over its own channel.
func decodeClaims(token string) (claims, error) {
	var c claims
	if token == "" || len(token) > maxJWTBytes || strings.Count(token, ".") != 2 {
		return c, errMalformedJWT
	}
	parts := strings.SplitN(token, ".", 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return c, errMalformedJWT
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return claims{}, errMalformedJWT
	}
	return c, nil
}
