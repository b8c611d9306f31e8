package token

// Snapshot is every durable record of a token service at one point in time, as one backend exports it and
// another imports it (moving an install from one backend to another): the signing keys (sealed, ids kept, so
// tokens issued before still verify), the revocations and the sign-in state. The client snapshot is not part
// of it: it is a cache of the registry that a replica rebuilds from the registry's feed.
type Snapshot struct {
	Keys          []SigningKey
	Revocations   []Revocation
	Interactions  []Interaction
	Sessions      []Session
	Codes         []AuthCode
	RefreshTokens []RefreshToken
	Consents      []Consent
	LoginFailures []LoginFailures
	// DeviceCodes are the device authorizations (RFC 8628), with their Status.
	DeviceCodes []DeviceCode
}
