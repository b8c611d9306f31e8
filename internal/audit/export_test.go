package audit

// Exported for the tests of package audit_test.
var (
	EncodePageToken = encodePageToken
	DecodePageToken = decodePageToken
)
