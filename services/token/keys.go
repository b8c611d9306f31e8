package token

import (
	"errors"
	"fmt"
	"slices"
)

// MaxKeyBytes bounds the key of every sign-in record (interaction and session ids, code and refresh-token
// hashes, SIDs, login-failure keys), whatever the backend.
const MaxKeyBytes = 512

// ValidKey reports whether k may key a record: 1 to MaxKeyBytes bytes. Every backend refuses other keys with
// this error, so all of them answer a bad key alike.
func ValidKey(k []byte) error {
	if len(k) == 0 || len(k) > MaxKeyBytes {
		return errors.New("token store: empty or oversized key")
	}
	return nil
}

// ValidLoginFailureKeys checks the keys of UpdateLoginFailureSet: each a valid key, none given twice.
func ValidLoginFailureKeys(keys []string) error {
	for i, k := range keys {
		if err := ValidKey([]byte(k)); err != nil {
			return err
		}
		if slices.Contains(keys[:i], k) {
			return fmt.Errorf("token store: login failure key %q given twice", k)
		}
	}
	return nil
}
