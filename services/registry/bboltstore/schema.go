package bboltstore

import (
	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/internal/boltdb"
)

// The schema of registry.db: every bucket, declared once. Keys joined from parts use sep, which no tenant id,
// client id, user id, login name, email or mobile may contain (the validators reject control characters).
//
// Version 4 (version 1 had no revision bucket, upgrading adds it with revision 0; version 2 had no API
// resources, upgrading adds their empty bucket — and a version 2 build refuses the file, so it cannot leave a
// deleted tenant's resources behind; version 3 had no federated identities, upgrading adds their empty index,
// and a version 3 build refuses the file, so it cannot leave a stale index entry behind):
//
//	meta           "schema_version" → "4"
//	revision       "revision" → the last commit's revision (8 bytes, big endian), written by every commit
//	tenants        tenantID → storedTenant (JSON)
//	tenant_codes   code → tenantID
//	clients        clientID → storedClient (JSON, secrets inside)
//	tenant_clients tenantID sep clientID → ""
//	users          tenantID sep userID → storedUser (JSON)
//	user_logins    tenantID sep lower(loginName) → userID
//	user_emails    tenantID sep lower(email) → userID
//	user_mobiles   tenantID sep mobile → userID
//	resources      tenantID sep resourceID → storedResource (JSON)
//	user_federated tenantID sep providerID sep hex(subject) → userID
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
	bucketResources     = []byte("resources")
	bucketUserFederated = []byte("user_federated")

	keyRevision = []byte("revision")

	allBuckets = [][]byte{
		bucketTenants, bucketTenantCodes, bucketClients, bucketTenantClients,
		bucketUsers, bucketUserLogins, bucketUserEmails, bucketUserMobiles, bucketRevision, bucketResources,
		bucketUserFederated,
	}
)

// SchemaVersion is the layout this package reads and writes. Open refuses files of any other version.
const SchemaVersion = "4"

var joinKey = boltdb.JoinKey

const sep = boltdb.KeySep

var schema = boltdb.Schema{Version: SchemaVersion, Buckets: allBuckets, Migrate: map[string]func(*bolt.Tx) error{
	// Open creates the revision bucket; no revision stored reads as 0.
	"1": func(*bolt.Tx) error { return nil },
	// Open creates the (empty) resources bucket.
	"2": func(*bolt.Tx) error { return nil },
	// Open creates the (empty) federated identity index: no user of a version 3 file has a federated identity.
	"3": func(*bolt.Tx) error { return nil },
}}
