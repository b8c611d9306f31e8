package provider

// Snapshot is every record of a provider service at one point in time, as one backend exports it and another
// imports it (moving an install from one backend to another): providers with their sealed secrets, connectors
// with their sealed grants as they are (and their refresh leases), and pending authorizations.
type Snapshot struct {
	Providers  []Provider
	Connectors []Connector
	AuthStates []AuthState
}
