package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/authsuite/authsuite/services/token"
)

// ListConsents implements token.Store: the consents whose key has the user's tenant and user id as prefix
// (checked against the record too, so an id containing the separator cannot reach another user's).
func (s *Store) ListConsents(ctx context.Context, tenantID, userID string) ([]token.Consent, error) {
	prefix := consentKey(tenantID, userID, "")
	var out []token.Consent
	err := s.read(ctx, func(d *data) error {
		for key, r := range d.consents {
			if strings.HasPrefix(key, prefix) && r.tenantID == tenantID && r.userID == userID {
				out = append(out, r.domain())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b token.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	if len(out) > token.MaxListConsents {
		out = out[:token.MaxListConsents]
	}
	return out, nil
}

// DeleteConsent implements token.Store.
func (s *Store) DeleteConsent(ctx context.Context, tenantID, userID, clientID string) error {
	key := consentKey(tenantID, userID, clientID)
	return s.write(ctx, func(d *data) error {
		if _, ok := d.consents[key]; !ok {
			return token.ErrNotFound
		}
		delete(d.consents, key)
		return nil
	})
}

// ClientRefreshFamilies implements token.Store.
func (s *Store) ClientRefreshFamilies(ctx context.Context, tenantID, userID, clientID string) ([]string, error) {
	var out []string
	err := s.read(ctx, func(d *data) error {
		seen := map[string]bool{}
		for _, r := range d.refresh {
			if r.tenantID == tenantID && r.userID == userID && r.clientID == clientID && !seen[r.familyID] {
				seen[r.familyID] = true
				out = append(out, r.familyID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}
