package bboltstore

import (
	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
)

// The schema of registry.db: every bucket, declared once. Keys joined from parts use sep, which no tenant id,
// client id, user id, login name, email or mobile may contain (the validators reject control characters).
//
// Version 2 (version 1 had no revision bucket; upgrading adds it with revision 0):
//
//	meta           "schema_version" → "2"
//	revision       "revision" → the last commit's revision (8 bytes, big endian), written by every commit
//	tenants        tenantID → storedTenant (JSON)
//	tenant_codes   code → tenantID
//	clients        clientID → storedClient (JSON, secrets inside)
//	tenant_clients tenantID sep clientID → ""
//	users          tenantID sep userID → storedUser (JSON)
//	user_logins    tenantID sep lower(loginName) → userID
//	user_emails    tenantID sep lower(email) → userID
//	user_mobiles   tenantID sep mobile → userID
var (
	bucketTenants       = []byte("tenants")
	bucketTenantCodes   = []byte("tenant_codes")
	bucketClients       = []byte("clients")
	bucketTenantClients = []byte("tenant_clients")
	bucketUsers         = []byte("users")
	bucketUserLogins    = []byte("user_logins")
	bucketUserEmails    = []byte("user_emails")
	bucketUserMobiles   = []byte("user_mobiles")
	bucketRevision      = []byte("revision")

	keyRevision = []byte("revision")

	allBuckets = [][]byte{
		bucketTenants, bucketTenantCodes, bucketClients, bucketTenantClients,
		bucketUsers, bucketUserLogins, bucketUserEmails, bucketUserMobiles, bucketRevision,
	}
)

// SchemaVersion is the layout this package reads and writes. Open refuses files of any other version.
const SchemaVersion = "2"

var joinKey = boltdb.JoinKey

const sep = boltdb.KeySep

var schema = boltdb.Schema{Version: SchemaVersion, Buckets: allBuckets, Migrate: map[string]func(*bolt.Tx) error{
	// Open creates the revision bucket; no revision stored reads as 0.
	"1": func(*bolt.Tx) error { return nil },
}}
