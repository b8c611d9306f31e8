package etcdstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/authsuite/authsuite/services/provider"
)

// Stored forms: private, so the domain types can change without changing what is in etcd. They are the
// JSON records bboltstore writes, so a migration copies values without converting them.

// storedProviders is the value of the providers key: every provider, in one record so that a load of any
// size is one compare-and-swap.
type storedProviders struct {
	Providers []storedProvider `json:"providers"`
}

type storedProvider struct {
	Type         string            `json:"type"`
	Name         string            `json:"name"`
	Settings     provider.Settings `json:"settings"`
	SealedSecret []byte            `json:"sealed_secret"`
	UpdateTime   time.Time         `json:"update_time"`
}

func fromProvider(p provider.Provider) storedProvider {
	return storedProvider{Type: p.Type, Name: p.Name, Settings: p.Settings, SealedSecret: p.SealedSecret, UpdateTime: p.UpdateTime.UTC()}
}

func (s storedProvider) key() provider.ProviderKey {
	return provider.ProviderKey{Type: s.Type, Name: s.Name}
}

func (s storedProvider) domain(connectors int) provider.Provider {
	return provider.Provider{ProviderKey: s.key(), Settings: s.Settings, SealedSecret: s.SealedSecret,
		UpdateTime: s.UpdateTime, Connectors: connectors}
}

// decodeProviders decodes the providers record; a missing one (nil) is no provider.
func decodeProviders(v []byte) (map[provider.ProviderKey]json.RawMessage, error) {
	out := map[provider.ProviderKey]json.RawMessage{}
	if v == nil {
		return out, nil
	}
	var rec struct {
		Providers []json.RawMessage `json:"providers"`
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode providers record: %w", err)
	}
	for _, raw := range rec.Providers {
		var k struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("decode provider record: %w", err)
		}
		out[provider.ProviderKey{Type: k.Type, Name: k.Name}] = raw
	}
	return out, nil
}

type storedConnector struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	TenantID    string    `json:"tenant_id"`
	Owner       string    `json:"owner"`
	Status      string    `json:"status"`
	ReturnTo    string    `json:"return_to,omitempty"`
	Subdomain   string    `json:"subdomain,omitempty"`
	ResourceURL string    `json:"resource_url,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
	Failure     string    `json:"failure,omitempty"`
	SealedGrant []byte    `json:"sealed_grant,omitempty"`
	CreateTime  time.Time `json:"create_time"`
	UpdateTime  time.Time `json:"update_time"`
	// The refresh lease (see provider.Store.ClaimRefresh); absent when nobody holds it.
	RefreshHolder string    `json:"refresh_holder,omitempty"`
	RefreshUntil  time.Time `json:"refresh_until,omitzero"`
}

func fromConnector(c provider.Connector) storedConnector {
	return storedConnector{ID: c.ID, Type: c.Provider.Type, Name: c.Provider.Name, Kind: string(c.Kind),
		TenantID: c.TenantID, Owner: c.Owner, Status: string(c.Status), ReturnTo: c.ReturnTo,
		Subdomain: c.Subdomain, ResourceURL: c.ResourceURL, Scopes: c.Scopes, Failure: c.Failure,
		SealedGrant: c.SealedGrant, CreateTime: c.CreateTime.UTC(), UpdateTime: c.UpdateTime.UTC(),
		RefreshHolder: c.RefreshHolder, RefreshUntil: c.RefreshUntil.UTC()}
}

func (s storedConnector) key() provider.ProviderKey {
	return provider.ProviderKey{Type: s.Type, Name: s.Name}
}

func (s storedConnector) pending() bool { return s.Status == string(provider.StatusPending) }

func (s storedConnector) domain() provider.Connector {
	return provider.Connector{ID: s.ID, Provider: s.key(), Kind: provider.Kind(s.Kind), TenantID: s.TenantID,
		Owner: s.Owner, Status: provider.Status(s.Status), ReturnTo: s.ReturnTo, Subdomain: s.Subdomain,
		ResourceURL: s.ResourceURL, Scopes: s.Scopes, Failure: s.Failure, SealedGrant: s.SealedGrant,
		CreateTime: s.CreateTime, UpdateTime: s.UpdateTime, RefreshHolder: s.RefreshHolder, RefreshUntil: s.RefreshUntil}
}

func decodeConnector(v []byte) (storedConnector, error) {
	var sc storedConnector
	if err := json.Unmarshal(v, &sc); err != nil {
		return sc, fmt.Errorf("decode connector record: %w", err)
	}
	return sc, nil
}

type storedState struct {
	ConnectorID    string    `json:"connector_id"`
	SealedVerifier []byte    `json:"sealed_verifier,omitempty"`
	Expiry         time.Time `json:"expiry"`
}
