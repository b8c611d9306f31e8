// Package token is the token service's domain: what it persists (signing keys, the revocation list, the last
// client snapshot received from the registry, and the records of browser sign-in: interactions, SSO
// sessions, authorization codes, refresh tokens, remembered consents, login failure counts) and the Store
// contract every backend implements. Backends must pass storetest.Run.
package token

import (
	"context"
	"errors"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
)

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("token store: closed")

// SigningKey is a stored signing key. Private is the PKCS #8 private key sealed by the caller with the suite
// keyring (the store never sees it in clear).
type SigningKey struct {
	// ID is the key id ("kid"); unique.
	ID string
	// Alg is the JWS algorithm (ES256, EdDSA, RS256).
	Alg string
	// Private is the sealed private key.
	Private []byte
	// CreateTime is when the key was generated.
	CreateTime time.Time
	// RetireTime is when the key stopped signing; zero for the current key.
	RetireTime time.Time
}

// Revocation says that the access token with this jti is revoked until Expiry, when it would have expired
// anyway and the record may be swept.
type Revocation struct {
	JTI    string
	Expiry time.Time
}

// Change is one change that Watch reports: what replicas cache from the store. Exactly one field is set:
// Revocation for a revocation recorded (Revoke), KeysChanged for a change of the signing key set
// (UpdateKeys; the watcher re-reads Keys). Sweeping expired revocations is not reported: a revocation
// past its Expiry no longer matters to anyone. Everything else is read from the store per request.
type Change struct {
	Revocation  *Revocation
	KeysChanged bool
}

// Store is the token service's persistence. All methods are safe for concurrent use, take ctx first and
// return data owned by the caller. A method that returns without error has made its change durable: it
// survives a crash of the process (and, on a replicated backend, the loss of a minority of its nodes).
// Update functions may run more than once (a backend may retry a compare-and-swap); they must not keep
// state between runs.
type Store interface {
	AccountStore

	// Keys returns every stored signing key, ordered by CreateTime.
	Keys(ctx context.Context) ([]SigningKey, error)
	// UpdateKeys replaces the key set with what update returns, atomically: update runs inside one
	// transaction with the current keys (ordered by CreateTime) and may be called again if the transaction
	// retries. If update fails, nothing changes and its error is returned.
	UpdateKeys(ctx context.Context, update func(old []SigningKey) ([]SigningKey, error)) error

	// Revision returns a revision at or after every write this store value has acknowledged, without I/O.
	// Revisions grow with every commit Watch reports (a backend with a global revision, such as etcd, also
	// moves it on other writes).
	Revision() int64
	// LatestRevision returns the newest revision of the store's whole history, written by this store value
	// or any other: Revision for a backend that is its data's only writer (bbolt, memory), one round trip
	// for a replicated one (etcd). It tells a revision another replica produced from one nobody did.
	LatestRevision(ctx context.Context) (int64, error)
	// Watch calls fn with every commit after revision from, in revision order, then with every later commit
	// as it happens, until ctx ends (ctx.Err() is returned), fn fails (its error is returned as is) or the
	// store value is closed (ErrClosed). It
	// returns changelog.ErrCompacted (wrapped or as is) when the history after from is no longer kept: the
	// caller then re-reads Revocations and Keys and watches from the Revision noted before reading. A Batch
	// with no Changes is a progress report: every commit up to its Revision was delivered. Batches may
	// be shared between watchers: fn must not change them.
	Watch(ctx context.Context, from int64, fn func(changelog.Batch[Change]) error) error

	// Revoke records a revocation (an existing one for the same jti is replaced). Concurrent calls may share
	// one commit.
	Revoke(ctx context.Context, r Revocation) error
	// Revocations returns every recorded revocation, swept or not, in no particular order.
	Revocations(ctx context.Context) ([]Revocation, error)
	// SweepRevocations deletes revocations whose Expiry is before t and says how many it deleted.
	SweepRevocations(ctx context.Context, t time.Time) (int, error)

	// PutClientSnapshot replaces the saved client snapshot (opaque to the store; sealed by the caller).
	PutClientSnapshot(ctx context.Context, data []byte) error
	// ClientSnapshot returns the saved client snapshot, or nil and no error when none was saved.
	ClientSnapshot(ctx context.Context) ([]byte, error)

	// PutInteraction stores (or replaces) an interaction under i.ID.
	PutInteraction(ctx context.Context, i Interaction) error
	// Interaction returns the interaction stored under id, or ErrNotFound.
	Interaction(ctx context.Context, id []byte) (Interaction, error)
	// DeleteInteraction deletes the interaction under id; deleting a missing one succeeds.
	DeleteInteraction(ctx context.Context, id []byte) error

	// PutSession stores (or replaces) a session under s.ID.
	PutSession(ctx context.Context, s Session) error
	// Session returns the session stored under id, or ErrNotFound.
	Session(ctx context.Context, id []byte) (Session, error)
	// UpdateSession runs update on the stored session inside one transaction and stores its result (the ID
	// cannot change); an error from update aborts with nothing changed and is returned as is. ErrNotFound
	// when there is no such session.
	UpdateSession(ctx context.Context, id []byte, update func(Session) (Session, error)) (Session, error)
	// DeleteSession deletes the session under id and returns what it was, or ErrNotFound.
	DeleteSession(ctx context.Context, id []byte) (Session, error)
	// SessionBySID returns the stored session whose SID is sid (with its ID), or ErrNotFound. It reads an
	// index, never a scan: RP-initiated logout with an id_token_hint names the session only by its sid.
	SessionBySID(ctx context.Context, sid string) (Session, error)
	// ListSessions returns a page of the sessions of q.TenantID (of q.UserID when set), ordered by user id
	// then SID, through an index kept in the transactions that write and delete sessions (never a scan of
	// every session; see SessionListKey for what is not indexed). Errors: ErrBadCursor for an After outside
	// the query; an error for a query CheckSessionQuery refuses.
	ListSessions(ctx context.Context, q SessionQuery) (SessionPage, error)

	// PutCode stores a new authorization code under c.Hash.
	PutCode(ctx context.Context, c AuthCode) error
	// ConsumeCode marks the code under hash used, atomically, after check accepted it (check runs inside
	// the transaction; its error aborts with nothing changed and is returned as is). ErrNotFound when there
	// is no such code; ErrUsed, with the code, when it was used before (check is not called then).
	ConsumeCode(ctx context.Context, hash []byte, check func(AuthCode) error) (AuthCode, error)

	// PutRefreshToken stores a new refresh token under t.Hash.
	PutRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshTokenGrace rotates the refresh token under hash (RFC 9700 §4.14.2), with a grace period
	// for the immediately previous token (the retry window of Keycloak and Okta). rotate runs inside the
	// transaction with the old token. In one transaction:
	//   - an unused token under hash is given to rotate; the token rotate returns (with a new, unused Hash)
	//     is stored with Predecessor=hash, and the old one is marked used with Successor, SealedSuccessor
	//     (g.Sealed) and GraceUntil (g.Now+g.Window). The old token's own predecessor loses its sealed
	//     successor, since it can no longer be replayed. The answer carries the new token and g.Sealed.
	//   - a used token whose GraceUntil is after g.Now and whose successor is stored and still unused is
	//     also given to rotate (to be checked; what it returns is not stored) and, if rotate accepts it,
	//     answered with that successor and its kept sealed value, Replayed set; nothing changes.
	//   - any other used token (its successor rotated on, or the window over) is ErrUsed with the old token
	//     (rotate is not called then).
	// An error from rotate aborts with nothing changed and is returned as is; ErrNotFound when there is no
	// token under hash. Concurrent calls for one token are serialized: exactly one rotates it.
	RotateRefreshTokenGrace(ctx context.Context, hash []byte, g RefreshGrace, rotate func(old RefreshToken) (RefreshToken, error)) (RefreshRotated, error)

	// RefreshToken returns the refresh token stored under hash (used or not), or ErrNotFound.
	RefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)

	// PutConsent stores (or replaces) the consent of c.TenantID/c.UserID for c.ClientID.
	PutConsent(ctx context.Context, c Consent) error
	// Consent returns the remembered consent of a user for a client, or ErrNotFound.
	Consent(ctx context.Context, tenantID, userID, clientID string) (Consent, error)

	// PutDeviceCode stores a new device authorization (RFC 8628 §3.2) under d.Hash with its user code index
	// entry under d.UserCode, in one transaction. When a device code whose Expiry is after now already holds
	// d.UserCode, nothing is stored and ErrUserCodeTaken is returned (the caller draws another user code);
	// an expired holder is replaced.
	PutDeviceCode(ctx context.Context, d DeviceCode, now time.Time) error
	// DeviceCode returns the device authorization stored under hash (whatever its Status), or ErrNotFound.
	DeviceCode(ctx context.Context, hash []byte) (DeviceCode, error)
	// DeviceCodeByUserCode returns the device authorization whose UserCode is userCode (read through the
	// index, never a scan), or ErrNotFound.
	DeviceCodeByUserCode(ctx context.Context, userCode []byte) (DeviceCode, error)
	// UpdateDeviceCode runs update on the device authorization under hash inside one transaction and stores
	// what it returns (Hash, UserCode and Expiry cannot change): the approval, the denial, and the single
	// redemption of the token endpoint (of concurrent updates that each move Status on, exactly one sees the
	// old Status). An error from update aborts with nothing changed and is returned as is, together with the
	// record update saw. ErrNotFound when there is none.
	UpdateDeviceCode(ctx context.Context, hash []byte, update func(DeviceCode) (DeviceCode, error)) (DeviceCode, error)
	// ListConsents returns the remembered consents of one user of one tenant, ordered by ClientID, read as
	// one snapshot and never by scanning other users' records; at most MaxListConsents of them. Expired ones
	// not swept yet are included: callers check Expiry. None is an empty list, not an error.
	ListConsents(ctx context.Context, tenantID, userID string) ([]Consent, error)
	// DeleteConsent forgets the remembered consent of a user for a client, or returns ErrNotFound when there
	// is none (of concurrent deletions, exactly one succeeds).
	DeleteConsent(ctx context.Context, tenantID, userID, clientID string) error
	// ClientRefreshFamilies returns the distinct family ids of the refresh tokens (used or not, expired or
	// not) of one user of one tenant issued to one client, sorted, read as one snapshot. It scans the refresh
	// tokens, O(records): it runs when a person revokes a consent, never per token request.
	ClientRefreshFamilies(ctx context.Context, tenantID, userID, clientID string) ([]string, error)

	// LoginFailures returns the failure count under key, or ErrNotFound.
	LoginFailures(ctx context.Context, key string) (LoginFailures, error)
	// UpdateLoginFailureSet runs update on the failure counts under keys and stores what it returns, in one
	// transaction, so concurrent updates never lose a count: update gets the records under keys, in order
	// (the zero value with Key set for an absent one), and returns one record per key, in the same order
	// (each stored under its key with the Expiry it carries); all are stored, or none. keys must be
	// distinct. A record returned with Count 0 and no LockedUntil is deleted. An error from update (or a
	// result of another length) aborts with nothing changed; update's own error is returned as is. update
	// may run more than once and must not keep state between runs.
	UpdateLoginFailureSet(ctx context.Context, keys []string, update func([]LoginFailures) ([]LoginFailures, error)) ([]LoginFailures, error)

	// UseAssertionID records that the client assertion (RFC 7523 §3 item 7) jti of clientID was used, and
	// reports whether it was fresh: atomically, so that of concurrent calls for one clientID and jti (on any
	// store value over the same data, on any replica) exactly one gets true. A recorded id stays used until
	// SweepExpired runs at a time after expiry; a call for a recorded id changes nothing. clientID NUL jti must
	// be a valid key (ValidKey).
	UseAssertionID(ctx context.Context, clientID, jti string, expiry time.Time) (fresh bool, err error)

	// SweepExpired deletes every interaction, session, code, refresh token, consent, failure count, used
	// assertion id and device authorization (counted with its user code index entry: two) whose Expiry is
	// before t, and says how many it deleted.
	SweepExpired(ctx context.Context, t time.Time) (int, error)

	// Close releases the store. Methods called afterwards return ErrClosed.
	Close() error
}
