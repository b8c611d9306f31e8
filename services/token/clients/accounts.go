package clients

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/services/token"
)

// Account is the status of a user account as the registry's change feed reports it (registry UserRecord):
// which incarnation of the user id is live, whether it is disabled, and when it was last disabled; and the
// user's addresses with their verification, which ID tokens release by scope (OIDC Core §5.4), and the
// profile, roles, groups and attributes that tokens and userinfo release by scope and claim mapping. An *Account
// handed out by the Cache is never modified afterwards; changes replace it.
type Account struct {
	TenantID    string    `json:"tenant_id"`
	UserID      string    `json:"user_id"`
	Incarnation string    `json:"incarnation,omitempty"`
	Disabled    bool      `json:"disabled,omitempty"`
	DisableTime time.Time `json:"disable_time,omitzero"`

	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Mobile        string `json:"mobile,omitempty"`
	PhoneVerified bool   `json:"phone_verified,omitempty"`

	// LoginName and DisplayName are the profile claims preferred_username and name; Roles and Groups the
	// roles and groups claims (scopes roles and groups); Attributes the custom attributes that clients'
	// claim mappings release.
	LoginName   string            `json:"login_name,omitempty"`
	DisplayName string            `json:"display_name,omitempty"`
	Roles       []string          `json:"roles,omitempty"`
	Groups      []string          `json:"groups,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
}

// Why CheckAccount refuses. Messages name no user.
var (
	// ErrAccountGone: the user no longer exists, or was deleted and created again (another incarnation).
	ErrAccountGone = errors.New("the user no longer exists")
	// ErrAccountDisabled: the user is disabled, or was disabled after the thing checked was issued.
	ErrAccountDisabled = errors.New("the user is disabled")
)

type accountKey struct{ tenantID, userID string }

// Bounds on what one user record may carry (roles, groups, attributes and their values), so tokens and the
// persisted snapshot stay bounded; a record beyond them is skipped.
const (
	maxAccountList  = 256
	maxAccountValue = 1024
)

// nilIfEmpty returns nil for an empty list, so an account read back from the snapshot (omitempty) compares
// equal to the one the feed delivered.
func nilIfEmpty(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (a *Account) key() accountKey { return accountKey{a.TenantID, a.UserID} }

func (a *Account) ref() token.Account {
	return token.Account{TenantID: a.TenantID, UserID: a.UserID, Incarnation: a.Incarnation}
}

// same reports whether a and b say the same about the same account.
func (a *Account) same(b *Account) bool {
	return a.TenantID == b.TenantID && a.UserID == b.UserID && a.Incarnation == b.Incarnation &&
		a.Disabled == b.Disabled && a.DisableTime.Equal(b.DisableTime) &&
		a.Email == b.Email && a.EmailVerified == b.EmailVerified && a.Mobile == b.Mobile && a.PhoneVerified == b.PhoneVerified &&
		a.LoginName == b.LoginName && a.DisplayName == b.DisplayName && slices.Equal(a.Roles, b.Roles) &&
		slices.Equal(a.Groups, b.Groups) && maps.Equal(a.Attributes, b.Attributes)
}

// endedBy reports whether replacing a with next (nil: deleted) ends what was issued to a: the account is
// gone or another incarnation, or it was disabled (again) since.
func (a *Account) endedBy(next *Account) bool {
	return next == nil || next.Incarnation != a.Incarnation || (next.Disabled && !a.Disabled) ||
		!next.DisableTime.Equal(a.DisableTime)
}

// CheckAccount says whether what was issued at issued to the incarnation of tenantID/userID (an access
// token, an SSO session, a code, a refresh token family) is still good: the user exists with that
// incarnation, is not disabled, and was not disabled at or after issued. It returns nil, ErrAccountGone or
// ErrAccountDisabled. It is a map lookup under a read lock: no I/O.
//
// Until the cache holds a complete list of the accounts (AccountsReady: from a registry snapshot that
// carried users_synced, or a persisted one made from such a snapshot) it cannot tell a deleted user from an
// unknown one and answers nil: only a token service upgraded from a version without user events, whose
// registry has not answered yet, or whose registry predates user events, is in that state.
func (c *Cache) CheckAccount(tenantID, userID, incarnation string, issued time.Time) error {
	c.mu.RLock()
	a, ok := c.accounts[accountKey{tenantID, userID}]
	ready := c.accountsReady
	c.mu.RUnlock()
	switch {
	case !ready:
		return nil
	case !ok || a.Incarnation != incarnation:
		return ErrAccountGone
	case a.Disabled || !issued.After(a.DisableTime):
		return ErrAccountDisabled
	}
	return nil
}

// AccountsReady reports whether the cache holds the complete list of user accounts (see CheckAccount).
func (c *Cache) AccountsReady() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.accountsReady
}

// AccountChanges counts the user account changes applied so far (events and resyncs), for tests and
// metrics.
func (c *Cache) AccountChanges() uint64 { return c.accountChanges.Load() }

func accountFromRecord(r *registryv1.UserRecord) (*Account, error) {
	if r.GetTenantId() == "" || r.GetUserId() == "" {
		return nil, errors.New("user record without tenant_id or user_id")
	}
	// Protobuf strings are UTF-8 on the wire; the persisted snapshot (JSON) could not keep anything else
	// byte for byte, and an incarnation that changed on reload would end the account.
	if !utf8.ValidString(r.GetTenantId()) || !utf8.ValidString(r.GetUserId()) || !utf8.ValidString(r.GetIncarnation()) ||
		!utf8.ValidString(r.GetEmail()) || !utf8.ValidString(r.GetMobile()) ||
		!utf8.ValidString(r.GetLoginName()) || !utf8.ValidString(r.GetDisplayName()) {
		return nil, errors.New("user record with invalid UTF-8")
	}
	if len(r.GetRoles()) > maxAccountList || len(r.GetGroups()) > maxAccountList || len(r.GetAttributes()) > maxAccountList {
		return nil, errors.New("user record with too many roles, groups or attributes")
	}
	for _, l := range [][]string{r.GetRoles(), r.GetGroups()} {
		for _, v := range l {
			if !utf8.ValidString(v) || len(v) > maxAccountValue {
				return nil, errors.New("user record with an invalid role or group")
			}
		}
	}
	for k, v := range r.GetAttributes() {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || len(k) > maxAccountValue || len(v) > maxAccountValue {
			return nil, errors.New("user record with an invalid attribute")
		}
	}
	a := &Account{
		TenantID: r.GetTenantId(), UserID: r.GetUserId(), Incarnation: r.GetIncarnation(), Disabled: r.GetDisabled(),
		Email: r.GetEmail(), EmailVerified: r.GetEmailVerified() && r.GetEmail() != "",
		Mobile: r.GetMobile(), PhoneVerified: r.GetPhoneVerified() && r.GetMobile() != "",
		LoginName: r.GetLoginName(), DisplayName: r.GetDisplayName(),
		Roles: nilIfEmpty(slices.Clone(r.GetRoles())), Groups: nilIfEmpty(slices.Clone(r.GetGroups())),
	}
	if len(r.GetAttributes()) > 0 {
		a.Attributes = maps.Clone(r.GetAttributes())
	}
	if r.DisableTime != nil {
		a.DisableTime = r.GetDisableTime().AsTime()
	}
	return a, nil
}

// putAccountLocked sets (a != nil) or deletes the account under k. It reports whether that changed the
// view and returns the account it ended, if any. Call with mu held.
func (c *Cache) putAccountLocked(k accountKey, a *Account) (changed bool, ended *token.Account) {
	old, ok := c.accounts[k]
	switch {
	case a == nil && !ok, a != nil && ok && a.same(old):
		return false, nil // most user updates (a new display name, say) change nothing here
	case a == nil:
		delete(c.accounts, k)
	default:
		c.accounts[k] = a
	}
	c.notifyAccountsLocked()
	if ok && old.endedBy(a) {
		r := old.ref()
		return true, &r
	}
	return true, nil
}

// applyAccount applies one user event (a == nil deletes k) and returns what it ended. Only a change of the
// view marks the snapshot for writing.
func (c *Cache) applyAccount(k accountKey, a *Account) []token.Account {
	c.mu.Lock()
	changed, ended := c.putAccountLocked(k, a)
	c.mu.Unlock()
	if !changed {
		return nil
	}
	c.markAccountsChanged()
	if ended == nil {
		return nil
	}
	return []token.Account{*ended}
}

// deleteTenantAccounts drops every account of a deleted tenant and returns them, ended.
func (c *Cache) deleteTenantAccounts(tenantID string) []token.Account {
	var ended []token.Account
	c.mu.Lock()
	for k, a := range c.accounts {
		if k.tenantID == tenantID {
			ended = append(ended, a.ref())
			delete(c.accounts, k)
		}
	}
	c.notifyAccountsLocked()
	c.mu.Unlock()
	c.markAccountsChanged()
	return ended
}

// replaceAccountsLocked installs a complete account list and returns the accounts it ended (the previous
// list, when there was one, compared with the new). Call with mu held.
func (c *Cache) replaceAccountsLocked(m map[accountKey]*Account) []token.Account {
	var ended []token.Account
	if c.accountsReady {
		for k, old := range c.accounts {
			if old.endedBy(m[k]) {
				ended = append(ended, old.ref())
			}
		}
	}
	c.accounts, c.accountsReady = m, true
	c.notifyAccountsLocked()
	return ended
}

// markAccountsChanged counts an account change and schedules the snapshot write for AccountPersistDelay
// later, coalescing the changes in between (a client change or Persist writes them sooner).
func (c *Cache) markAccountsChanged() {
	c.accountChanges.Add(1)
	if c.accountsPending.CompareAndSwap(false, true) {
		time.AfterFunc(c.cfg.AccountPersistDelay, func() {
			c.accountsPending.Store(false)
			c.changed()
		})
	}
}

// notifyAccountsLocked wakes AwaitAccount callers after a change of the accounts. Call with mu held.
func (c *Cache) notifyAccountsLocked() {
	if c.accountsChanged != nil {
		close(c.accountsChanged)
	}
	c.accountsChanged = make(chan struct{})
}

// AwaitAccount returns once the view lists the account tenantID/userID with incarnation, or holds no
// complete account list (CheckAccount then refuses nobody for being unknown), or ctx ends (with its error).
// A sign-in of an account created a moment ago waits here for the change feed to deliver the account, so
// that the session and tokens it starts are not refused as unknown right after.
func (c *Cache) AwaitAccount(ctx context.Context, tenantID, userID, incarnation string) error {
	for {
		c.mu.Lock()
		a, ok := c.accounts[accountKey{tenantID, userID}]
		if !c.accountsReady || ok && a.Incarnation == incarnation {
			c.mu.Unlock()
			return nil
		}
		if c.accountsChanged == nil {
			c.accountsChanged = make(chan struct{})
		}
		ch := c.accountsChanged
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// endAccounts hands ended accounts to Config.AccountsEnded (in the watch goroutine, so in feed order).
func (c *Cache) endAccounts(ctx context.Context, ended []token.Account) {
	if len(ended) == 0 || c.cfg.AccountsEnded == nil {
		return
	}
	c.cfg.AccountsEnded(ctx, ended)
}

// Account returns the live account tenantID/userID of incarnation as the view holds it (never modified
// afterwards), if the view lists it. A map lookup under a read lock: no I/O.
func (c *Cache) Account(tenantID, userID, incarnation string) (*Account, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.accounts[accountKey{tenantID, userID}]
	if !ok || a.Incarnation != incarnation {
		return nil, false
	}
	return a, true
}

// Incarnation returns the incarnation of the live account tenantID/userID, if the account list is complete
// and holds it.
func (c *Cache) Incarnation(tenantID, userID string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.accounts[accountKey{tenantID, userID}]
	if !ok || !c.accountsReady {
		return "", false
	}
	return a.Incarnation, true
}
