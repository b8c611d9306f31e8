package bboltstore

import "github.com/authsuite/authsuite/internal/boltdb"

// The schema of registry.db: every bucket, declared once. Keys joined from parts use sep, which no tenant id,
// client id, user id, login name, email or mobile may contain (the validators reject control characters).
//
// Version 1:
//
//	meta           "schema_version" → "1"
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

	allBuckets = [][]byte{
		bucketTenants, bucketTenantCodes, bucketClients, bucketTenantClients,
		bucketUsers, bucketUserLogins, bucketUserEmails, bucketUserMobiles,
	}
)

// SchemaVersion is the layout this package reads and writes. Open refuses files of any other version.
const SchemaVersion = "1"

var joinKey = boltdb.JoinKey

const sep = boltdb.KeySep

var schema = boltdb.Schema{Version: SchemaVersion, Buckets: allBuckets}
