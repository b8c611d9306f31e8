package clients

import "bytes"

// SnapshotAD is the additional data the persisted client snapshot is sealed with, for a rekey that reseals it
// offline (internal/rekey).
func SnapshotAD() []byte { return bytes.Clone(snapshotAD) }
