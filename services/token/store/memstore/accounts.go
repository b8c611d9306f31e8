package memstore

import (
	"context"

	"github.com/authsuite/authsuite/services/token/store"
)

// accountSet is a batch of accounts for membership tests.
type accountSet map[store.Account]struct{}

func newAccountSet(accounts []store.Account) accountSet {
	m := make(accountSet, len(accounts))
	for _, a := range accounts {
		m[a] = struct{}{}
	}
	return m
}

func (m accountSet) has(tenantID, userID, incarnation string) bool {
	_, ok := m[store.Account{TenantID: tenantID, UserID: userID, Incarnation: incarnation}]
	return ok
}

// DeleteAccountSessions implements store.AccountStore, atomically. Their SID index entries go with them.
func (s *Store) DeleteAccountSessions(ctx context.Context, accounts []store.Account) ([]store.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := newAccountSet(accounts)
	var out []store.Session
	err := s.write(ctx, func(d *data) error {
		for id, r := range d.sessions {
			if set.has(r.tenantID, r.userID, r.incarnation) {
				out = append(out, r.domain(id))
				d.dropSID(id)
				delete(d.sessions, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAccountRefreshTokens implements store.AccountStore, atomically.
func (s *Store) DeleteAccountRefreshTokens(ctx context.Context, accounts []store.Account) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := newAccountSet(accounts)
	var families []string
	err := s.write(ctx, func(d *data) error {
		seen := map[string]bool{}
		for hash, r := range d.refresh {
			if set.has(r.tenantID, r.userID, r.incarnation) {
				if !seen[r.familyID] {
					seen[r.familyID] = true
					families = append(families, r.familyID)
				}
				delete(d.refresh, hash)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return families, nil
}
