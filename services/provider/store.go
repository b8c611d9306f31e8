package provider

import (
	"context"
	"time"
)

// Store persists providers, connectors and pending authorizations. Implementations must be safe for
// concurrent use, make every write atomic and durable before returning, return copies (callers may keep and
// change results), report a missing record with an error wrapping apierror.ErrNotFound, and pass
// storetest.Run unchanged.
type Store interface {
	// PutProviders creates or replaces every provider of ps in one transaction. When any of them already
	// exists and has connectors, nothing is written and the error is an *InUseError naming every such
	// provider. UpdateTime is stored as given; Connectors is ignored.
	PutProviders(ctx context.Context, ps []Provider) error
	// GetProvider returns one provider with its connector count (pending connectors do not count).
	GetProvider(ctx context.Context, k ProviderKey) (Provider, error)
	// ListProviders returns every provider with its connector count, ordered by type then name.
	ListProviders(ctx context.Context) ([]Provider, error)
	// DeleteProvider deletes a provider and, in the same transaction, its pending connectors (with their
	// pending authorizations); an error wrapping apierror.ErrFailedPrecondition while any other connector
	// uses it. PutProviders likewise ignores pending connectors: they never block a change.
	DeleteProvider(ctx context.Context, k ProviderKey) error

	// CreateConnector stores a new connector and, when st.Hash is not empty, its pending authorization, in
	// one transaction. It fails with apierror.ErrNotFound when c's provider does not exist (so no connector
	// ever refers to a missing provider) and apierror.ErrAlreadyExists for a taken id.
	CreateConnector(ctx context.Context, c Connector, st AuthState) error
	// GetConnector returns one connector.
	GetConnector(ctx context.Context, id string) (Connector, error)
	// ListConnectors returns the connectors matching f, ordered by id.
	ListConnectors(ctx context.Context, f ConnectorFilter) ([]Connector, error)
	// UpdateConnector runs fn on the stored connector inside one transaction and stores what it returns
	// (ID, Provider, TenantID, Owner and CreateTime cannot change). An error from fn aborts and is returned.
	UpdateConnector(ctx context.Context, id string, fn func(Connector) (Connector, error)) (Connector, error)
	// DeleteConnector deletes a connector, its pending authorizations, and returns what was deleted.
	DeleteConnector(ctx context.Context, id string) (Connector, error)
	// SweepPendingConnectors deletes, in one transaction, every pending connector created before
	// createdBefore, with its pending authorizations, and returns what it deleted.
	SweepPendingConnectors(ctx context.Context, createdBefore time.Time) ([]Connector, error)
	// DropGrants clears the grant of every connector matching f (which must name a provider Name) and marks
	// it StatusRevoked, in one transaction; it returns the ids of the changed connectors.
	DropGrants(ctx context.Context, f ConnectorFilter, now time.Time) ([]string, error)

	// PutAuthState stores a pending authorization for the existing connector st.ConnectorID (an error
	// wrapping apierror.ErrNotFound when it does not exist), atomically and durably.
	PutAuthState(ctx context.Context, st AuthState) error
	// TakeAuthState removes and returns the pending authorization stored under hash: a second call for the
	// same hash fails with apierror.ErrNotFound, so a state is used at most once even under concurrent
	// callers. Expiry is the caller's to check.
	TakeAuthState(ctx context.Context, hash []byte) (AuthState, error)
	// SweepAuthStates deletes pending authorizations that expired before now and returns how many.
	SweepAuthStates(ctx context.Context, now time.Time) (int, error)

	// Close releases the store.
	Close() error
}
