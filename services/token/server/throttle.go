package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authsuite/authsuite/services/token/store"
)

// throttlePolicy slows down and then locks repeated failed sign-ins for one key: after Free failures each
// further attempt must wait 1 s, 2 s, 4 s … (at most MaxDelay) after the last failure; at LockAt failures the
// key is locked for Lock. Failures older than Window are forgotten.
type throttlePolicy struct {
	Free, LockAt int
	MaxDelay     time.Duration
	Lock, Window time.Duration
}

// Login throttling (SPEC §2, OWASP Authentication Cheat Sheet): per account, and per address (looser,
// since many users can share one address).
var (
	accountPolicy = throttlePolicy{Free: 3, LockAt: 10, MaxDelay: 30 * time.Second, Lock: 15 * time.Minute, Window: 15 * time.Minute}
	addressPolicy = throttlePolicy{Free: 10, LockAt: 50, MaxDelay: 30 * time.Second, Lock: 15 * time.Minute, Window: 15 * time.Minute}
)

// accountKey is the throttling key of a login name in a tenant (hashed: keys have a fixed size and the
// store holds no login names).
func accountKey(tenantID, login string) string {
	h := sha256.Sum256([]byte(tenantID + "\x00" + strings.ToLower(login)))
	return "acct:" + hex.EncodeToString(h[:16])
}

// addressKey is the throttling key of a remote address; "" when unknown.
func addressKey(addr string) string {
	if addr == "" {
		return ""
	}
	h := sha256.Sum256([]byte(addr))
	return "addr:" + hex.EncodeToString(h[:16])
}

func policyOf(key string) throttlePolicy {
	if strings.HasPrefix(key, "addr:") {
		return addressPolicy
	}
	return accountPolicy
}

// throttled returns a message for the user when any key must wait or is locked, else "".
func (s *Server) throttled(ctx context.Context, keys []string) (string, error) {
	now := s.now()
	msg := ""
	for _, k := range keys {
		if k == "" {
			continue
		}
		f, err := s.st.LoginFailures(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		p := policyOf(k)
		switch {
		case now.Before(f.LockedUntil):
			return fmt.Sprintf("Too many failed sign-in attempts: sign-in is locked for %s. Try again later.", roundUp(f.LockedUntil.Sub(now))), nil
		case !f.LockedUntil.IsZero() || now.Sub(f.Last) > p.Window:
			continue // the lock or the window has passed
		case f.Count >= p.Free:
			wait := min(time.Second<<min(f.Count-p.Free, 10), p.MaxDelay)
			if left := f.Last.Add(wait).Sub(now); left > 0 && msg == "" {
				msg = fmt.Sprintf("Too many failed sign-in attempts. Wait %s before trying again.", roundUp(left))
			}
		}
	}
	return msg, nil
}

// recordFailure counts a failed sign-in for every key, durably and atomically per key (one store
// transaction reads, counts and writes), so concurrent failures each count and reach the lock.
func (s *Server) recordFailure(ctx context.Context, keys []string) error {
	now := s.now()
	for _, k := range keys {
		if k == "" {
			continue
		}
		p := policyOf(k)
		locked := false
		f, err := s.st.UpdateLoginFailures(ctx, k, func(f store.LoginFailures) (store.LoginFailures, error) {
			locked = false // the update may run again if the transaction retries
			if f.Count == 0 || (!f.LockedUntil.IsZero() && !now.Before(f.LockedUntil)) || now.Sub(f.Last) > p.Window {
				f = store.LoginFailures{Key: k}
			}
			f.Count++
			f.Last = now
			if f.Count >= p.LockAt {
				f.LockedUntil = now.Add(p.Lock)
				locked = true
			}
			f.Expiry = now.Add(p.Window + p.Lock)
			return f, nil
		})
		if err != nil {
			return err
		}
		if locked {
			s.log.Warn("audit", "event", "login_lock", "key_kind", k[:strings.IndexByte(k, ':')], "until", f.LockedUntil)
		}
	}
	return nil
}

func roundUp(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
	}
	return fmt.Sprintf("%d seconds", int((d+time.Second-1)/time.Second))
}
