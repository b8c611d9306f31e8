package token

import "context"

// Account names one incarnation of a user account: a registry user (tenant and user id) as it was created.
// A user deleted and created again with the same id is another account (another Incarnation); Incarnation
// is "" for accounts, and records, that predate incarnations.
type Account struct {
	TenantID    string
	UserID      string
	Incarnation string
}

// AccountStore ends what a user account holds in the token store when the account is disabled or deleted. Each
// method takes a batch (every user of a deleted tenant, say). A backend with transactions of any size
// (bbolt, memory) handles it in one: it either ends everything of every account listed or changes nothing.
// A backend with bounded transactions (etcd) deletes record by record, each record atomically with its
// indexes: a call that fails part-way has ended some records, never half of one, and calling it again ends
// the rest (the methods are idempotent; the second call reports only what it deleted). A record belongs to an account when its
// TenantID, UserID and Incarnation all equal the account's; records of other incarnations of the same user
// id are left alone. Both methods scan their records, so they cost O(records) per call: they run once per
// account change, never per request.
type AccountStore interface {
	// DeleteAccountSessions deletes every SSO session of accounts and returns the sessions it deleted (for
	// back-channel logout), in no particular order.
	DeleteAccountSessions(ctx context.Context, accounts []Account) ([]Session, error)
	// DeleteAccountRefreshTokens deletes every refresh token of accounts, used or not, so that their
	// families can never be refreshed again (a later presentation finds nothing: ErrNotFound), and returns
	// the distinct family ids it ended, in no particular order.
	DeleteAccountRefreshTokens(ctx context.Context, accounts []Account) (families []string, err error)
}

// AccountSet is a batch of accounts for membership tests, as the AccountStore methods of every backend use it.
type AccountSet map[Account]struct{}

// NewAccountSet returns the set of accounts.
func NewAccountSet(accounts []Account) AccountSet {
	m := make(AccountSet, len(accounts))
	for _, a := range accounts {
		m[a] = struct{}{}
	}
	return m
}

// Has reports whether the account (tenant, user id, incarnation) is in the set.
func (m AccountSet) Has(tenantID, userID, incarnation string) bool {
	_, ok := m[Account{TenantID: tenantID, UserID: userID, Incarnation: incarnation}]
	return ok
}
