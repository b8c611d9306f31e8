package memstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/provider"
)

// Stored forms: private and never handed out, so the domain types can change without changing them and no
// caller holds memory the store keeps. A stored record is never changed in place; a write replaces it.
//
// They keep what bboltstore's JSON records keep: times in UTC without a monotonic reading, empty optional
// slices as nil, and Settings as its JSON round trip (so Raw holds only JSON values: float64 numbers,
// map[string]any and []any), which is what a caller reads back from either store.

type record struct {
	key          provider.ProviderKey
	settings     provider.Settings
	sealedSecret []byte
	updateTime   time.Time
}

// fromProvider copies p. It fails, as bboltstore does, on a value JSON cannot encode.
func fromProvider(p provider.Provider) (*record, error) {
	raw, err := json.Marshal(p.Settings)
	if err != nil {
		return nil, fmt.Errorf("encode provider record: %w", err)
	}
	r := &record{key: p.ProviderKey, sealedSecret: bytes.Clone(p.SealedSecret), updateTime: p.UpdateTime.UTC()}
	if err := json.Unmarshal(raw, &r.settings); err != nil {
		return nil, fmt.Errorf("decode provider record: %w", err)
	}
	if err := checkTime("updateTime", r.updateTime); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *record) domain(connectors int) provider.Provider {
	return provider.Provider{ProviderKey: r.key, Settings: cloneSettings(r.settings),
		SealedSecret: bytes.Clone(r.sealedSecret), UpdateTime: r.updateTime, Connectors: connectors}
}

// cloneSettings deep-copies s, keeping nil slices and maps nil.
func cloneSettings(s provider.Settings) provider.Settings {
	s.ValidateHeaders = slices.Clone(s.ValidateHeaders)
	s.Scopes = slices.Clone(s.Scopes)
	s.Placeholders = slices.Clone(s.Placeholders)
	if s.Raw != nil {
		s.Raw = cloneJSON(s.Raw).(map[string]any)
	}
	return s
}

// cloneJSON deep-copies a decoded JSON value (what encoding/json produces into an any).
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = cloneJSON(e)
		}
		return a
	default: // nil, bool, float64, string: values, nothing shared
		return v
	}
}

type connRecord struct {
	ID          string
	Type        string
	Name        string
	Kind        string
	TenantID    string
	Owner       string
	Status      string
	ReturnTo    string
	Subdomain   string
	ResourceURL string
	Scopes      []string
	Failure     string
	SealedGrant []byte
	CreateTime  time.Time
	UpdateTime  time.Time
	// The refresh lease (see provider.Store.ClaimRefresh); zero when nobody holds it.
	RefreshHolder string
	RefreshUntil  time.Time
}

// fromConnector copies c.
func fromConnector(c provider.Connector) (*connRecord, error) {
	r := &connRecord{ID: c.ID, Type: c.Provider.Type, Name: c.Provider.Name, Kind: string(c.Kind),
		TenantID: c.TenantID, Owner: c.Owner, Status: string(c.Status), ReturnTo: c.ReturnTo,
		Subdomain: c.Subdomain, ResourceURL: c.ResourceURL, Scopes: cloneOptional(c.Scopes), Failure: c.Failure,
		SealedGrant: cloneOptional(c.SealedGrant), CreateTime: c.CreateTime.UTC(), UpdateTime: c.UpdateTime.UTC(),
		RefreshHolder: c.RefreshHolder, RefreshUntil: c.RefreshUntil.UTC()}
	if err := checkTime("createTime", r.CreateTime); err != nil {
		return nil, err
	}
	if err := checkTime("updateTime", r.UpdateTime); err != nil {
		return nil, err
	}
	if err := checkTime("refreshUntil", r.RefreshUntil); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *connRecord) key() provider.ProviderKey {
	return provider.ProviderKey{Type: r.Type, Name: r.Name}
}

func (r *connRecord) domain() provider.Connector {
	return provider.Connector{ID: r.ID, Provider: r.key(), Kind: provider.Kind(r.Kind), TenantID: r.TenantID,
		Owner: r.Owner, Status: provider.Status(r.Status), ReturnTo: r.ReturnTo, Subdomain: r.Subdomain,
		ResourceURL: r.ResourceURL, Scopes: slices.Clone(r.Scopes), Failure: r.Failure,
		SealedGrant: bytes.Clone(r.SealedGrant), CreateTime: r.CreateTime, UpdateTime: r.UpdateTime,
		RefreshHolder: r.RefreshHolder, RefreshUntil: r.RefreshUntil}
}

// match is provider.ConnectorFilter.Match on the record, without copying it.
func (r *connRecord) match(f provider.ConnectorFilter) bool {
	return (f.TenantID == "" || f.TenantID == r.TenantID) && (f.Owner == "" || f.Owner == r.Owner) &&
		(f.Type == "" || f.Type == r.Type) && (f.Name == "" || f.Name == r.Name)
}

type stateRecord struct {
	hash           string
	connectorID    string
	sealedVerifier []byte
	expiry         time.Time
}

// fromState copies st.
func fromState(st provider.AuthState) (*stateRecord, error) {
	r := &stateRecord{hash: string(st.Hash), connectorID: st.ConnectorID,
		sealedVerifier: cloneOptional(st.SealedVerifier), expiry: st.Expiry.UTC()}
	if err := checkTime("expiry", r.expiry); err != nil {
		return nil, err
	}
	return r, nil
}

// cloneOptional copies an optional slice: empty becomes nil (bboltstore omits empty optional fields, so
// they read back as nil).
func cloneOptional[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// checkTime refuses a time bboltstore cannot encode (RFC 3339 has four-digit years), so both stores accept
// the same values.
func checkTime(field string, t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 {
		return apierror.Invalid(field, "year %d is outside 0-9999", y)
	}
	return nil
}
