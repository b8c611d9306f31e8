package registry

// Snapshot is every record of a registry at one point in time, as one backend exports it and another imports
// it (moving an install from one backend to another). Users keep their Incarnation and password hash, clients
// their secrets' digests: nothing is generated again, so every credential and every token bound to an
// incarnation stays valid.
type Snapshot struct {
	Tenants []Tenant
	Clients []Client
	Users   []User
}
