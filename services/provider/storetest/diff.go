package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/provider"
)

// DifferentialSeeds are operation sequences worth running on every pair of backends.
var DifferentialSeeds = [][]byte{
	{0, 3, 4, 0, 0, 1, 4, 1, 0, 0, 7, 0, 1, 10, 0, 2, 3, 0},
	{0, 7, 4, 0, 2, 0, 4, 1, 1, 1, 12, 0, 0, 9, 2, 3, 0, 13, 1, 8, 0},
	{0, 1, 4, 2, 0, 0, 11, 2, 1, 2, 0, 5, 3, 2, 6, 3, 1, 8, 2, 12, 2, 1},
	// Boundaries: a sweep at exactly a pending connector's creation time, and at exactly a state's expiry.
	{0, 0, 1, 0, 1, 4, 0, 0, 0, 0, 9, 0, 5, 0},
	{0, 0, 1, 0, 1, 4, 0, 0, 16, 0, 0, 0, 13, 0, 12, 0, 0},
	// A refused load (a time out of range in the second provider) stores neither provider.
	{0, 0, 1, 0, 0, 1, 255, 0, 1, 0, 1, 1, 2},
	// Refresh leases: claim, a second holder refused then winning after expiry, release by each.
	{0, 0, 1, 0, 1, 4, 0, 0, 2, 0, 14, 0, 0, 0, 2, 14, 0, 1, 1, 2, 14, 0, 1, 3, 1, 15, 0, 0, 15, 0, 1, 5, 0},
}

// Differential runs one sequence of operations, decoded from ops, on stores a and b (empty, of two
// backends) and fails at the first call whose result or error differs; with revisions set, also at the
// first step after which their Revision differs (for two backends that count revisions alike). The
// domain is small (three providers, four connectors, two owners, two state hashes per connector) so that
// sequences collide on keys. At most 200 bytes of ops are used.
func Differential(t *testing.T, ops []byte, a, b provider.Store, revisions bool) {
	t.Helper()
	if len(ops) > 200 {
		ops = ops[:200]
	}
	r := &reader{b: ops}
	for step := 0; r.more(); step++ {
		op := r.next() % 16
		call := describeOp(op, r)
		ares, aerr := call.run(a)
		bres, berr := call.run(b)
		if !sameErr(aerr, berr) || !reflect.DeepEqual(ares, bres) || (revisions && a.Revision() != b.Revision()) {
			t.Fatalf("step %d %s:\na %#v, %v (revision %d)\nb %#v, %v (revision %d)", step, call.name, ares, aerr, a.Revision(), bres, berr, b.Revision())
		}
	}
}

type reader struct {
	b []byte
	i int
}

func (r *reader) more() bool { return r.i < len(r.b) }

func (r *reader) next() byte {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

var (
	keys     = []provider.ProviderKey{{Type: "a", Name: "x"}, {Type: "a", Name: "y"}, {Type: "b", Name: "x"}}
	ids      = []string{"c0", "c1", "c2", "c3"}
	owners   = []string{"u0", "u1"}
	statuses = []provider.Status{provider.StatusPending, provider.StatusActive, provider.StatusFailed, provider.StatusRevoked}
)

func (r *reader) key() provider.ProviderKey { return keys[int(r.next())%len(keys)] }
func (r *reader) id() string                { return ids[int(r.next())%len(ids)] }
func (r *reader) at() time.Time             { return t0.Add(time.Duration(r.next()%8) * time.Minute) }

// hash is one of two state hashes of connector id, so a state never moves to another connector. When one
// does (a hash collision: they are SHA-256 of random values) the bbolt store keeps the old connector's index
// entry, so deleting that connector deletes the moved state; memstore moves the entry with the state.
func (r *reader) hash(id string) []byte {
	return provider.HashState(fmt.Sprint(id, "/", r.next()%2), "b")
}

func (r *reader) prov() provider.Provider {
	k, v := r.key(), r.next()
	p := provider.Provider{ProviderKey: k, UpdateTime: r.at(), SealedSecret: []byte{v},
		Settings: provider.Settings{ClientID: fmt.Sprint(v), Raw: map[string]any{"CLIENT_ID": fmt.Sprint(v), "n": int(v)}}}
	if v == 255 { // a time bboltstore cannot encode: both must refuse the whole call
		p.UpdateTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if v%3 == 0 {
		p.Settings.Scopes = []provider.ScopeOption{}
		p.SealedSecret = nil
	}
	return p
}

func (r *reader) filter() provider.ConnectorFilter {
	var f provider.ConnectorFilter
	m := r.next()
	if m&1 != 0 {
		f.Owner = owners[int(r.next())%len(owners)]
	}
	if m&2 != 0 {
		f.Type = r.key().Type
	}
	if m&4 != 0 {
		f.Name = r.key().Name
	}
	return f
}

type call struct {
	name string
	run  func(provider.Store) (any, error)
}

func describeOp(op byte, r *reader) call {
	ctx := context.Background()
	switch op {
	case 0:
		ps := []provider.Provider{r.prov()}
		if r.next()%2 == 0 {
			ps = append(ps, r.prov())
		}
		return call{fmt.Sprintf("PutProviders(%v)", ps), func(s provider.Store) (any, error) { return nil, s.PutProviders(ctx, ps) }}
	case 1:
		k := r.key()
		return call{fmt.Sprintf("GetProvider(%v)", k), func(s provider.Store) (any, error) { return s.GetProvider(ctx, k) }}
	case 2:
		return call{"ListProviders", func(s provider.Store) (any, error) { return s.ListProviders(ctx) }}
	case 3:
		k := r.key()
		return call{fmt.Sprintf("DeleteProvider(%v)", k), func(s provider.Store) (any, error) { return nil, s.DeleteProvider(ctx, k) }}
	case 4:
		id, k, m := r.id(), r.key(), r.next()
		c := provider.Connector{ID: id, Provider: k, Kind: provider.KindSession, Owner: owners[int(m)%2],
			Status: statuses[int(m>>1)%4], CreateTime: r.at(), UpdateTime: t0}
		if m&8 != 0 {
			c.SealedGrant, c.Scopes = []byte("g"), []string{"s"}
		}
		var st provider.AuthState
		if m&16 != 0 {
			st = provider.AuthState{Hash: r.hash(id), SealedVerifier: []byte("v"), Expiry: r.at()}
		}
		return call{fmt.Sprintf("CreateConnector(%+v, %x)", c, st.Hash), func(s provider.Store) (any, error) { return nil, s.CreateConnector(ctx, c, st) }}
	case 5:
		id := r.id()
		return call{"GetConnector " + id, func(s provider.Store) (any, error) { return s.GetConnector(ctx, id) }}
	case 6:
		f := r.filter()
		return call{fmt.Sprintf("ListConnectors(%+v)", f), func(s provider.Store) (any, error) { return s.ListConnectors(ctx, f) }}
	case 7:
		id, m, at := r.id(), r.next(), r.at()
		fail := errors.New("fn refused")
		return call{fmt.Sprintf("UpdateConnector(%s, %d)", id, m), func(s provider.Store) (any, error) {
			return s.UpdateConnector(ctx, id, func(c provider.Connector) (provider.Connector, error) {
				c.Status, c.UpdateTime, c.Owner = statuses[int(m)%4], at, "ignored"
				c.SealedGrant, c.Scopes = nil, []string{}
				if m&4 != 0 {
					c.SealedGrant, c.Scopes = []byte{m}, []string{"s", fmt.Sprint(m)}
				}
				if m&8 != 0 {
					return c, fail
				}
				return c, nil
			})
		}}
	case 8:
		id := r.id()
		return call{"DeleteConnector " + id, func(s provider.Store) (any, error) { return s.DeleteConnector(ctx, id) }}
	case 9:
		at := r.at()
		return call{fmt.Sprintf("SweepPendingConnectors(%v)", at), func(s provider.Store) (any, error) { return s.SweepPendingConnectors(ctx, at) }}
	case 10:
		f, at := r.filter(), r.at()
		return call{fmt.Sprintf("DropGrants(%+v)", f), func(s provider.Store) (any, error) { return s.DropGrants(ctx, f, at) }}
	case 11:
		id := r.id()
		st := provider.AuthState{Hash: r.hash(id), ConnectorID: id, Expiry: r.at()}
		if r.next()%2 == 0 {
			st.SealedVerifier = []byte("w")
		}
		return call{fmt.Sprintf("PutAuthState(%s, %x)", id, st.Hash), func(s provider.Store) (any, error) { return nil, s.PutAuthState(ctx, st) }}
	case 12:
		h := r.hash(r.id())
		return call{fmt.Sprintf("TakeAuthState(%x)", h), func(s provider.Store) (any, error) { return s.TakeAuthState(ctx, h) }}
	case 14:
		id, h, at, d := r.id(), owners[int(r.next())%2], r.at(), time.Duration(r.next()%4)*time.Minute
		return call{fmt.Sprintf("ClaimRefresh(%s, %s, %v, +%v)", id, h, at, d), func(s provider.Store) (any, error) {
			ok, c, err := s.ClaimRefresh(ctx, id, h, at, at.Add(d))
			return []any{ok, c}, err
		}}
	case 15:
		id, h := r.id(), owners[int(r.next())%2]
		return call{fmt.Sprintf("ReleaseRefresh(%s, %s)", id, h), func(s provider.Store) (any, error) { return nil, s.ReleaseRefresh(ctx, id, h) }}
	default:
		at := r.at()
		return call{fmt.Sprintf("SweepAuthStates(%v)", at), func(s provider.Store) (any, error) { return s.SweepAuthStates(ctx, at) }}
	}
}

// sameErr: both nil, or the same message (every error here names what failed, so equal messages are the
// same error) and the same InUseError providers.
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	var ia, ib *provider.InUseError
	if errors.As(a, &ia) != errors.As(b, &ib) || (ia != nil && !reflect.DeepEqual(ia.Providers, ib.Providers)) {
		return false
	}
	if strings.Contains(a.Error(), "year") && strings.Contains(b.Error(), "year") {
		return true // an unencodable time: the messages are each store's own
	}
	return a.Error() == b.Error()
}
