package boltstore

// The buckets of token.db, declared once. Changing what a bucket holds means bumping schemaVersion.
var (
	// bucketMeta holds keySchemaVersion.
	bucketMeta = []byte("meta")
	// bucketKeys maps key id → JSON storedKey.
	bucketKeys = []byte("signing_keys")
	// bucketRevocations maps jti → 8-byte big-endian expiry (Unix seconds).
	bucketRevocations = []byte("revocations")
	// bucketClients holds keyClientSnapshot → the sealed client snapshot.
	bucketClients = []byte("clients")

	allBuckets = [][]byte{bucketMeta, bucketKeys, bucketRevocations, bucketClients}
)

var (
	keySchemaVersion  = []byte("schema_version")
	keyClientSnapshot = []byte("snapshot")
)

// schemaVersion is the layout this code reads and writes.
const schemaVersion = "1"
