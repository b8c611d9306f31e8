package bboltstore

import (
	bolt "go.etcd.io/bbolt"
)

// The buckets of token.db, declared once (internal/boltdb keeps the schema version in its meta bucket).
// Changing what a bucket holds means bumping schemaVersion and adding a step to migrations.
var (
	// bucketKeys maps key id → JSON storedKey.
	bucketKeys = []byte("signing_keys")
	// bucketRevocations maps jti (or "family:" + family id) → 8-byte big-endian expiry (Unix seconds).
	bucketRevocations = []byte("revocations")
	// bucketClients holds keyClientSnapshot → the sealed client snapshot.
	bucketClients = []byte("clients")

	// The sign-in buckets (schema 2). Each value is an 8-byte big-endian expiry (Unix seconds) followed by
	// the record's JSON, so the sweep reads expiries without decoding.

	// bucketInteractions maps SHA-256(interaction id) → interactionRecord.
	bucketInteractions = []byte("interactions")
	// bucketSessions maps SHA-256(session cookie) → sessionRecord.
	bucketSessions = []byte("sessions")
	// bucketCodes maps SHA-256(authorization code) → codeRecord.
	bucketCodes = []byte("auth_codes")
	// bucketRefresh maps SHA-256(refresh token) → refreshRecord.
	bucketRefresh = []byte("refresh_tokens")
	// bucketConsents maps tenant id "\x00" user id "\x00" client id → consentRecord.
	bucketConsents = []byte("consents")
	// bucketLoginFailures maps a throttling key → failuresRecord.
	bucketLoginFailures = []byte("login_failures")
	// bucketSessionSIDs (schema 3) maps a session's SID → 8-byte big-endian expiry (the session's) followed
	// by the session's key in bucketSessions. It is written in the transaction that writes the session, so
	// the sweep drops both together.
	bucketSessionSIDs = []byte("session_sids")
	// bucketSessionList (schema 4) maps tenant id NUL token.SessionListKey (user id NUL SID) → 8-byte
	// big-endian expiry (the session's) followed by the session's key: the session list of the admin API
	// (sessionlist.go), written in the transactions that write and delete sessions.
	bucketSessionList = []byte("session_list")

	// bucketAssertions maps token.AssertionKey(client id, jti) → 8-byte big-endian expiry (Unix seconds): the
	// client assertion ids used (RFC 7523 §3). Added without a schema step, as boltdb.Open creates it.
	bucketAssertions = []byte("assertion_ids")

	// bucketWatch holds keyRevision → the 8-byte big-endian revision of the last commit Watch reports. It is
	// created in files written before it existed (which then start at revision 0); it changes no other
	// bucket, so it needs no schema step.
	bucketWatch = []byte("watch")

	allBuckets = [][]byte{bucketKeys, bucketRevocations, bucketClients,
		bucketInteractions, bucketSessions, bucketCodes, bucketRefresh, bucketConsents, bucketLoginFailures,
		bucketSessionSIDs, bucketWatch, bucketAssertions, bucketSessionList, bucketDeviceCodes, bucketDeviceUsers}
	// expiringBuckets are the buckets SweepExpired sweeps.
	expiringBuckets = [][]byte{bucketInteractions, bucketSessions, bucketCodes, bucketRefresh, bucketConsents, bucketLoginFailures,
		bucketSessionSIDs, bucketAssertions, bucketSessionList, bucketDeviceCodes, bucketDeviceUsers}
)

// keyClientSnapshot is the one key of bucketClients; keyRevision the one key of bucketWatch.
var (
	keyClientSnapshot = []byte("snapshot")
	keyRevision       = []byte("revision")
)

// schemaVersion is the layout this code reads and writes.
const schemaVersion = "4"

// migrations are the upgrade steps of older files (boltdb.Schema.Migrate: from-version → step to the next).
// Each step keeps existing data; boltdb.Open creates missing buckets before the steps run.
var migrations = map[string]func(*bolt.Tx) error{
	"1": func(*bolt.Tx) error { return nil }, // 1 → 2 adds the sign-in buckets only
	"2": indexSessionSIDs,                    // 2 → 3 indexes the stored sessions by SID
	"3": indexSessionList,                    // 3 → 4 lists the stored sessions by tenant and user
}

// indexSessionSIDs fills bucketSessionSIDs from the sessions already stored.
func indexSessionSIDs(tx *bolt.Tx) error {
	return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var se sessionRecord
		exp, err := decodeRecord(v, &se)
		if err != nil {
			return err
		}
		return putSIDIndex(tx, se.SID, k, exp)
	})
}
