package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/token"
)

// Login throttling (OWASP Authentication Cheat Sheet, "Login Throttling"; RFC 6749 §10.10 asks for it on the
// password grant). Every sign-in attempt is reserved before its password is checked and settled after:
//
//  1. reserve: one store transaction reads the counts of every key of the attempt (the account, and the
//     remote address when known), refuses the attempt when a key must wait or is locked, and otherwise counts
//     it on every key. Concurrent attempts are serialized by the transaction, so no more attempts are checked
//     than the policies allow, however many arrive at once.
//  2. the password is checked (by the registry);
//  3. settle: a wrong password keeps its count (and restarts the delay from the answer); a right one clears the
//     account and refunds the address; an attempt that was not answered (the registry shed it or failed)
//     is refunded.

// throttlePolicy is how one kind of key throttles: Free failures pass at once; after that an attempt must
// wait Base, then twice as long per further failure (at most MaxDelay), after the last one; with LockAt > 0,
// LockAt failures lock the key for Lock. CountEarly counts an attempt made before its wait is over as a failure
// (it guessed too early: Keycloak's "quick login check"), so a burst reaches the lock instead of being
// answered for free. Failures older than Window are forgotten.
type throttlePolicy struct {
	Free       int
	Base       time.Duration
	MaxDelay   time.Duration
	LockAt     int
	Lock       time.Duration
	Window     time.Duration
	CountEarly bool
}

// The policies. An account locks: at most LockAt passwords are ever checked for it per window. An address
// only slows down, and attempts refused for it are not counted: many users can share one address (a NAT,
// or a proxy that is not configured as trusted), and a lock would shut all of them out; a user who waits
// as told and gives the right password signs in.
var (
	accountPolicy = throttlePolicy{Free: 3, Base: time.Second, MaxDelay: 30 * time.Second, LockAt: 10,
		Lock: 15 * time.Minute, Window: 15 * time.Minute, CountEarly: true}
	addressPolicy = throttlePolicy{Free: 10, Base: 2 * time.Second, MaxDelay: 30 * time.Second, Window: 15 * time.Minute}
)

// Key kinds. Account keys name an account or, for a name that matches none, the typed name; both use the
// account policy, so an unknown name is throttled exactly like a known one.
const (
	kindAccount = "acct"
	kindAddress = "addr"
	// kindUserCode keys the device user-code guesses of a remote address (userCodeKey, device_usercode.go).
	kindUserCode = "ucode"
)

// throttleKey is a fixed-size key of kind for the given parts (hashed: the store holds no login names or
// addresses).
func throttleKey(kind string, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return kind + ":" + hex.EncodeToString(h[:16])
}

// accountKey is the key of an account (by user id) in a tenant.
func accountKey(tenantID, userID string) string {
	return throttleKey(kindAccount, tenantID, "id", userID)
}

// nameKey is the key of a typed login name that matches no account (case-insensitive, as logins match).
func nameKey(tenantID, login string) string {
	return throttleKey(kindAccount, tenantID, "name", strings.ToLower(login))
}

// addressKey is the key of a remote address; "" when unknown.
func addressKey(addr string) string {
	if addr == "" {
		return ""
	}
	return throttleKey(kindAddress, addr)
}

func policyOf(key string) throttlePolicy {
	if p, ok := selfServicePolicy(key); ok {
		return p
	}
	if strings.HasPrefix(key, kindUserCode+":") {
		return userCodePolicy
	}
	if strings.HasPrefix(key, kindAddress+":") {
		return addressPolicy
	}
	return accountPolicy
}

// live is f as the policy sees it at now: the zero record (with f's key) once its window or lock has passed.
func (p throttlePolicy) live(f token.LoginFailures, now time.Time) token.LoginFailures {
	if f.Count == 0 || (!f.LockedUntil.IsZero() && !now.Before(f.LockedUntil)) || now.Sub(f.Last) > p.Window {
		return token.LoginFailures{Key: f.Key}
	}
	return f
}

// wait is how long an attempt under the live record f must still wait at now (0: it may go ahead), and
// whether f is locked.
func (p throttlePolicy) wait(f token.LoginFailures, now time.Time) (time.Duration, bool) {
	if now.Before(f.LockedUntil) {
		return f.LockedUntil.Sub(now), true
	}
	if f.Count < p.Free {
		return 0, false
	}
	delay := min(p.Base<<min(f.Count-p.Free, 16), p.MaxDelay)
	return max(f.Last.Add(delay).Sub(now), 0), false
}

// count counts one attempt on the live record f at now, locking it when it reaches LockAt.
func (p throttlePolicy) count(f token.LoginFailures, now time.Time) token.LoginFailures {
	f.Count++
	f.Last = now
	if p.LockAt > 0 && f.Count >= p.LockAt && f.LockedUntil.IsZero() {
		f.LockedUntil = now.Add(p.Lock)
	}
	f.Expiry = now.Add(p.Window + p.Lock)
	return f
}

// refusal is why an attempt may not be checked now.
type refusal struct {
	wait    time.Duration
	locked  bool // a key is locked
	address bool // only the address refused: the network must slow down
}

// message is what the user is told; it never says whether the account exists.
func (r *refusal) message() string {
	switch {
	case r.locked:
		return fmt.Sprintf("Too many failed sign-in attempts: sign-in is locked for %s. Try again later.", roundUp(r.wait))
	case r.address:
		return fmt.Sprintf("Too many sign-in attempts from your network. Wait %s before trying again.", roundUp(r.wait))
	}
	return fmt.Sprintf("Too many failed sign-in attempts. Wait %s before trying again.", roundUp(r.wait))
}

// slowDown is the error of an attempt refused for its address only: 429 with Retry-After (RFC 6585 §4), so
// that clients wait instead of retrying at once.
func (r *refusal) slowDown() error {
	return &apierror.OAuthError{Code: apierror.TemporarilyUnavailable, Description: r.message(), Status: http.StatusTooManyRequests, RetryAfter: r.wait}
}

// errNothingToStore aborts a reservation transaction that changes nothing (a refusal that counts nothing).
var errNothingToStore = errors.New("nothing to store")

// reserve counts one attempt on every key ("" keys are skipped) before its password is checked, in one store
// transaction, or refuses it (a non-nil refusal, with nothing counted except CountEarly penalties). A reserved
// attempt must be settled.
func (s *Server) reserve(ctx context.Context, keys []string) (*refusal, error) {
	keys = presentKeys(keys)
	now := s.now()
	var ref *refusal
	var penalized []string // keys the refusal locked
	_, err := s.st.UpdateLoginFailureSet(ctx, keys, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
		var next []token.LoginFailures
		next, ref, penalized = reserveRecords(keys, fs, now) // the update may run again: nothing is kept
		if next == nil {
			return nil, errNothingToStore
		}
		return next, nil
	})
	if err != nil && !errors.Is(err, errNothingToStore) {
		return nil, err
	}
	for _, k := range penalized {
		s.logLock(k)
	}
	return ref, nil
}

// reserveRecords is the decision of reserve over the stored records fs of keys at now: the records to store
// (nil when nothing changes), the refusal (nil: the attempt is counted on every key and may be checked) and
// the keys a refusal locked. fs is modified.
func reserveRecords(keys []string, fs []token.LoginFailures, now time.Time) ([]token.LoginFailures, *refusal, []string) {
	var ref *refusal
	waits := make([]time.Duration, len(fs))
	for i := range fs {
		p := policyOf(keys[i])
		fs[i] = p.live(fs[i], now)
		w, locked := p.wait(fs[i], now)
		waits[i] = w
		if w > 0 {
			ref = worse(ref, &refusal{wait: w, locked: locked, address: !strings.HasPrefix(keys[i], kindAccount+":")})
		}
	}
	if ref == nil {
		for i := range fs {
			fs[i] = policyOf(keys[i]).count(fs[i], now)
			fs[i].Pending++
		}
		return fs, nil, nil
	}
	changed := false
	var penalized []string
	for i := range fs {
		p := policyOf(keys[i])
		if waits[i] == 0 || !p.CountEarly || now.Before(fs[i].LockedUntil) {
			continue
		}
		fs[i] = p.count(fs[i], now)
		changed = true
		w, locked := p.wait(fs[i], now)
		if locked {
			penalized = append(penalized, keys[i])
		}
		ref = worse(ref, &refusal{wait: w, locked: locked})
	}
	if !changed {
		return nil, ref, nil
	}
	return fs, ref, penalized
}

// worse is the refusal to report of two: a lock before a wait, the longer wait, an account before an address.
func worse(a, b *refusal) *refusal {
	switch {
	case a == nil:
		return b
	case a.locked != b.locked:
		if b.locked {
			return b
		}
		return a
	case a.address != b.address:
		if a.address {
			return b
		}
		return a
	case b.wait > a.wait:
		return b
	}
	return a
}

// outcome is how a reserved attempt ended.
type outcome int

const (
	outcomeWrong      outcome = iota // the password was checked and is wrong (or the name matches no account)
	outcomeRight                     // the password was right (also for a disabled user)
	outcomeUnanswered                // the check did not answer (shed, failed): the attempt is refunded
)

// settle ends a reserved attempt (see the package comment on throttling). It runs even when ctx is cancelled,
// so that no reservation is left counted by a client that went away.
func (s *Server) settle(ctx context.Context, keys []string, o outcome) error {
	keys = presentKeys(keys)
	now := s.now()
	var locked []string
	_, err := s.st.UpdateLoginFailureSet(context.WithoutCancel(ctx), keys, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
		var next []token.LoginFailures
		next, locked = settleRecords(keys, fs, now, o)
		return next, nil
	})
	for _, k := range locked {
		s.logLock(k)
	}
	return err
}

// settleRecords is the decision of settle over the stored records fs of keys at now: the records to store
// and the keys that are locked after a wrong password. fs is modified.
func settleRecords(keys []string, fs []token.LoginFailures, now time.Time, o outcome) ([]token.LoginFailures, []string) {
	var locked []string
	for i := range fs {
		p := policyOf(keys[i])
		fs[i] = p.live(fs[i], now)
		if fs[i].Count == 0 {
			continue // the window or lock has passed: nothing of this attempt is left
		}
		fs[i].Pending = max(fs[i].Pending-1, 0)
		switch {
		case o == outcomeWrong:
			fs[i].Last = now // the delay runs from the answer
			if now.Before(fs[i].LockedUntil) {
				locked = append(locked, keys[i])
			}
			continue
		case o == outcomeRight && p.LockAt > 0:
			// The account's owner is back: forget its failures, but not the attempts still being checked
			// (they were counted before this one succeeded, and are passwords checked all the same).
			fs[i].Count = min(fs[i].Pending, fs[i].Count)
		default:
			fs[i].Count = max(fs[i].Count-1, 0)
		}
		if fs[i].Count < p.LockAt {
			fs[i].LockedUntil = time.Time{}
		}
	}
	return fs, locked
}

func (s *Server) logLock(key string) {
	s.log.Warn("audit", "event", "login_lock", "key_kind", key[:strings.IndexByte(key, ':')])
}

func presentKeys(keys []string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// signInAccount resolves a typed login to the account it names, matching as AuthenticateUser does (the
// login name, or the e-mail address when the login contains "@" and no login name matches), and returns the
// account's throttling key and user (a disabled account too: guesses at its password are guesses all the
// same). A login that matches no account gets the key of the typed name and a nil user: it is throttled like
// an account, so the answers do not tell the two apart.
func (s *Server) signInAccount(ctx context.Context, tenantID, login string) (string, *registryv1.User, error) {
	selectors := []string{"loginName:" + login}
	if strings.Contains(login, "@") {
		selectors = append(selectors, "email:"+login)
	}
	for _, sel := range selectors {
		resp, err := s.reg.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: sel, TenantId: tenantID, IncludeDisabled: true})
		switch status.Code(err) {
		case codes.OK:
			return accountKey(tenantID, resp.GetUser().GetUserId()), resp.GetUser(), nil
		case codes.NotFound, codes.InvalidArgument, codes.PermissionDenied:
			continue // unknown, or not a valid login
		case codes.Unavailable, codes.DeadlineExceeded:
			return "", nil, apierror.OAuth(apierror.TemporarilyUnavailable, "the user directory is unavailable; try again")
		}
		s.log.Error("registry ResolveUser", "err", err)
		return "", nil, errors.New("user directory error")
	}
	return nameKey(tenantID, login), nil, nil
}

// checkPassword runs one throttled password check for login in tenantID: it resolves the account, reserves
// the attempt on the account and on the remote address (addr, "" when unknown), checks the password and
// settles. It returns the refusal when the attempt may not be checked now; otherwise the user (with the
// error of authenticateUser: errUserCredentials, errUserDisabled, or a failure) and the resolved account
// (nil for a login that matches none), which is what may be logged.
func (s *Server) checkPassword(ctx context.Context, tenantID, login, password, addr string) (u, account *registryv1.User, ref *refusal, err error) {
	key, account, err := s.signInAccount(ctx, tenantID, login)
	if err != nil {
		return nil, nil, nil, err
	}
	keys := []string{key, addressKey(addr)}
	if ref, err := s.reserve(ctx, keys); err != nil || ref != nil {
		return nil, account, ref, err
	}
	u, err = s.authenticateUser(ctx, tenantID, login, password)
	if err == nil && account != nil && u.GetUserId() != account.GetUserId() {
		u, err = nil, errUserCredentials // renamed in between: the budget reserved was another account's
	}
	o := outcomeUnanswered
	switch {
	case err == nil, errors.Is(err, errUserDisabled):
		o = outcomeRight
	case errors.Is(err, errUserCredentials):
		o = outcomeWrong
	}
	if serr := s.settle(ctx, keys, o); serr != nil && err == nil {
		return nil, account, nil, serr
	}
	return u, account, nil, err
}

func roundUp(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
	}
	return fmt.Sprintf("%d seconds", max(int((d+time.Second-1)/time.Second), 1))
}
