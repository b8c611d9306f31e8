package provider

import (
	"context"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
)

// Store persists providers, connectors and pending authorizations. Implementations must be safe for
// concurrent use, make every write atomic and durable before returning (except where a method says its
// atomicity is per connector), return copies (callers may keep and change results), report a missing record
// with an error wrapping apierror.ErrNotFound, and pass storetest.Run unchanged.
//
// Functions passed to a Store (UpdateConnector's fn) may run more than once per call: a backend on a
// replicated database runs them again after losing a compare-and-swap to a concurrent writer. They must be
// free of side effects and decide from the value they are given alone; only the result of the last run is
// stored.
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
	// UpdateConnector runs fn on the stored connector and stores what it returns, atomically: what is
	// stored is fn applied to the connector as it was when the write took effect (ID, Provider, TenantID,
	// Owner and CreateTime cannot change). fn may run more than once (see Store). An error from fn aborts
	// and is returned.
	UpdateConnector(ctx context.Context, id string, fn func(Connector) (Connector, error)) (Connector, error)
	// DeleteConnector deletes a connector, its pending authorizations, and returns what was deleted.
	DeleteConnector(ctx context.Context, id string) (Connector, error)
	// SweepPendingConnectors deletes every pending connector created before createdBefore, with its pending
	// authorizations, and returns what it deleted. Each connector's deletion is atomic; the sweep as a whole
	// may not be (a concurrent reader can see part of it, and a failure part way leaves the rest for the
	// next sweep), and the answer lists exactly the connectors it deleted.
	SweepPendingConnectors(ctx context.Context, createdBefore time.Time) ([]Connector, error)
	// DropGrants clears the grant of every connector matching f (which must name a provider Name) and marks
	// it StatusRevoked, and returns the ids of the changed connectors, ordered by id. Each connector's
	// change is atomic; the call as a whole may not be (a concurrent reader can see part of it; after a
	// failure part way, calling again finishes the job).
	DropGrants(ctx context.Context, f ConnectorFilter, now time.Time) ([]string, error)

	// ClaimRefresh takes connector id's refresh lease for holder until until, when nobody holds it, its
	// holder is holder already, or the lease expired (now is not before its RefreshUntil), and reports
	// whether it did. current is the connector after the call: with holder's lease when claimed, else with
	// the other holder's. Taking it changes neither UpdateTime nor anything but the lease. Guarantee: at
	// most one holder at a time per connector (judged by the callers' clocks); a holder that crashes loses
	// the lease at until. holder must not be empty and until must be after now (else an *apierror.FieldError).
	ClaimRefresh(ctx context.Context, id, holder string, now, until time.Time) (claimed bool, current Connector, err error)
	// ReleaseRefresh clears connector id's refresh lease when holder holds it (expired or not), and does
	// nothing when someone else does or nobody does.
	ReleaseRefresh(ctx context.Context, id, holder string) error

	// PutAuthState stores a pending authorization for the existing connector st.ConnectorID (an error
	// wrapping apierror.ErrNotFound when it does not exist), atomically and durably.
	PutAuthState(ctx context.Context, st AuthState) error
	// TakeAuthState removes and returns the pending authorization stored under hash: a second call for the
	// same hash fails with apierror.ErrNotFound, so a state is used at most once even under concurrent
	// callers. Expiry is the caller's to check.
	TakeAuthState(ctx context.Context, hash []byte) (AuthState, error)
	// SweepAuthStates deletes pending authorizations that expired before now and returns how many.
	SweepAuthStates(ctx context.Context, now time.Time) (int, error)

	// Revision returns a revision at or after every write this store value has acknowledged (no I/O).
	// Revisions grow with every commit that changes a provider or a connector.
	Revision() int64
	// Watch calls fn with every commit after revision from, in revision order, then every later commit as
	// it happens, until ctx ends (ctx.Err() is returned) or fn fails (its error is returned). It returns an
	// error wrapping changelog.ErrCompacted when the history after from is no longer kept: the caller
	// re-reads a snapshot and watches from the Revision noted before reading. A Batch with no Changes is a
	// progress report (every commit up to its Revision delivered). Every write of a provider or a
	// connector is reported: PutProviders and DeleteProvider report Provider per key (a backend may leave
	// out a key put again with the value it had; DeleteProvider also reports DeletedConnector per pending
	// connector deleted with it); CreateConnector, UpdateConnector, ClaimRefresh and
	// ReleaseRefresh report Connector; DeleteConnector and SweepPendingConnectors report DeletedConnector;
	// DropGrants reports Connector per changed one. Pending authorizations are not reported. Batches are
	// fn's to keep.
	Watch(ctx context.Context, from int64, fn func(changelog.Batch[Change]) error) error

	// Close releases the store.
	Close() error
}
