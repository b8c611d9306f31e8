package server

import (
	"crypto/rand"
	"strings"
	"time"
)

// User codes (RFC 8628 §6.1): 8 characters of a 20-letter alphabet without vowels (no words can form) and
// without letters easily mistaken for one another, shown as XXXX-XXXX. 20^8 ≈ 2.56·10^10 codes, i.e. about
// 34 bits of entropy; with guesses throttled per address (userCodePolicy) and codes living 10 minutes
// (§5.1), a brute-force attempt has a negligible chance.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
	// maxUserCodeInput bounds what a person may type (with dashes and spaces) before normalization.
	maxUserCodeInput = 64
	// userCodePurpose is the keyring purpose of the user code digests (the store's lookup key).
	userCodePurpose = "device-user-code"
)

// userCodePolicy throttles user-code guesses per remote address (§5.1 "the authorization server should
// ... rate-limit"): 5 free guesses, then a doubling wait from 2 s up to 60 s; a guess made before its wait
// is over counts too (a burst only makes the waits longer). Addresses are not locked: many people can share
// one (a NAT); a person who waits as told can enter their code.
var userCodePolicy = throttlePolicy{Free: 5, Base: 2 * time.Second, MaxDelay: time.Minute, Window: 15 * time.Minute, CountEarly: true}

// newUserCode draws a user code uniformly from the alphabet (crypto/rand, rejection sampling so that every
// letter is equally likely). It is returned normalized (8 letters, no dash).
func newUserCode() string {
	var out [userCodeLen]byte
	var buf [32]byte
	n := 0
	for n < userCodeLen {
		rand.Read(buf[:]) // never fails (crypto/rand)
		for _, b := range buf {
			if b >= 240 { // 240 = 12·20: the largest multiple of 20 below 256
				continue
			}
			out[n] = userCodeAlphabet[b%20]
			if n++; n == userCodeLen {
				break
			}
		}
	}
	return string(out[:])
}

// normalizeUserCode is the user code a person typed, as stored: upper case, without dashes and white
// space (§6.1: case-insensitive, punctuation ignored). ok is false unless the result is exactly 8 letters
// of the alphabet; nothing longer than maxUserCodeInput is looked at.
func normalizeUserCode(typed string) (string, bool) {
	if len(typed) > maxUserCodeInput {
		return "", false
	}
	var b strings.Builder
	for _, r := range typed {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\u00a0' || r == '\u2010' || r == '\u2011' || r == '\u2013' || r == '\u2212':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if r > 127 || !strings.ContainsRune(userCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

// formatUserCode shows a normalized user code as XXXX-XXXX (§6.1).
func formatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// userCodeDigest is the store key of a normalized user code under the keyring key keyID: the key id and
// the HMAC-SHA-256 of the code (a keyed digest: the store alone cannot be searched for codes). nil for an
// unknown key.
func (s *Server) userCodeDigest(keyID, code string) []byte {
	m := s.kr.MAC(userCodePurpose, keyID, []byte(code))
	if m == nil {
		return nil
	}
	return append([]byte(keyID+":"), m...)
}

// userCodeKey is the throttling key of the user-code guesses of a remote address; "" when unknown.
func userCodeKey(addr string) string {
	if addr == "" {
		return ""
	}
	return throttleKey(kindUserCode, addr)
}
