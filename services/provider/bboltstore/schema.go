package bboltstore

import "github.com/authsuite/authsuite/internal/boltdb"

// The schema of provider.db: every bucket, declared once. Keys joined from parts use sep; the parser rejects
// control characters in connector types and provider names, and ids are server-generated.
//
// Version 1:
//
//	meta                "schema_version" → "1"
//	                    "revision" → the revision of the last commit that changed a provider or a connector
//	                    (8 bytes, big-endian; absent in a file no such commit has touched yet), written in
//	                    that commit's transaction
//	providers           type sep name → storedProvider (JSON; the secret sealed)
//	connectors          id → storedConnector (JSON; the grant sealed)
//	provider_connectors type sep name sep id → "" (which connectors use a provider)
//	auth_states         sha256(state) → storedState (JSON; the PKCE verifier sealed)
//	connector_states    id sep sha256(state) → "" (the pending authorizations of a connector)
var (
	bucketMeta               = []byte("meta") // created by boltdb.Open
	keyRevision              = []byte("revision")
	bucketProviders          = []byte("providers")
	bucketConnectors         = []byte("connectors")
	bucketProviderConnectors = []byte("provider_connectors")
	bucketAuthStates         = []byte("auth_states")
	bucketConnectorStates    = []byte("connector_states")

	allBuckets = [][]byte{bucketProviders, bucketConnectors, bucketProviderConnectors,
		bucketAuthStates, bucketConnectorStates}
)

// SchemaVersion is the layout this package reads and writes. Open refuses files of any other version.
const SchemaVersion = "1"

var joinKey = boltdb.JoinKey

const sep = boltdb.KeySep

var schema = boltdb.Schema{Version: SchemaVersion, Buckets: allBuckets}
