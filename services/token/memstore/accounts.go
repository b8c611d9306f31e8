package memstore

import (
	"context"

	"github.com/authsuite/authsuite/services/token"
)

// DeleteAccountSessions implements token.AccountStore, atomically. Their SID index entries go with them.
func (s *Store) DeleteAccountSessions(ctx context.Context, accounts []token.Account) ([]token.Session, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := token.NewAccountSet(accounts)
	var out []token.Session
	err := s.write(ctx, func(d *data) error {
		for id, r := range d.sessions {
			if set.Has(r.tenantID, r.userID, r.incarnation) {
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

// DeleteAccountRefreshTokens implements token.AccountStore, atomically.
func (s *Store) DeleteAccountRefreshTokens(ctx context.Context, accounts []token.Account) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	set := token.NewAccountSet(accounts)
	var families []string
	err := s.write(ctx, func(d *data) error {
		seen := map[string]bool{}
		for hash, r := range d.refresh {
			if set.Has(r.tenantID, r.userID, r.incarnation) {
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
