package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/services/registry"
)

// DifferentialSeeds are operation sequences for Differential that reach every operation and the collisions
// the stores must answer alike; fuzz targets start from them.
var DifferentialSeeds = [][]byte{
	{0, 0, 0, 3, 0, 0, 3, 0, 1, 7, 0, 0, 0, 1, 2, 7, 0, 1, 1, 1, 2, 11, 1, 1, 0, 2, 0},
	{0, 0, 0, 0, 1, 1, 3, 0, 0, 3, 1, 1, 7, 1, 0, 0, 0, 0, 7, 1, 1, 0, 1, 1, 2, 1, 11, 2, 0, 1, 0},
	{12, 2, 12, 1, 0, 1, 1, 1, 4, 0, 2, 6, 0, 1, 13, 0, 1, 8, 0, 0, 2, 1, 2, 10, 0, 2, 1},
	{7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 1, 1, 0, 9, 0, 0, 8, 0, 1, 0, 1, 1, 2, 10, 0, 1, 0},
	// Emails differing only in case collide; finding by email ignores case.
	{0, 0, 0, 7, 0, 0, 0, 2, 0, 7, 0, 1, 2, 1, 0, 10, 0, 2, 6},
	// Sign-in settings and factors: a tenant's settings set and cleared, federated links taken twice, moved,
	// looked up and dropped with their tenant.
	{0, 0, 0, 15, 0, 1, 7, 0, 0, 0, 0, 0, 7, 0, 1, 2, 1, 0, 16, 0, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 16, 1, 0, 0, 0,
		16, 0, 0, 0, 1, 1, 16, 2, 0, 1, 1, 15, 0, 0, 2, 0, 16, 1, 0, 0, 0},
	// API resources: create in both tenants, update, list, a tenant delete and a recreated tenant.
	{0, 0, 0, 0, 1, 1, 14, 0, 0, 0, 1, 1, 1, 1, 14, 1, 0, 0, 0, 2, 0, 14, 1, 0, 1, 1, 14, 3, 0, 0, 0, 14, 0, 0, 4,
		2, 0, 0, 0, 0, 14, 0, 0, 4, 14, 0, 0, 0, 0, 0, 0, 14, 2, 0, 1},
}

// MaxProgram is the longest operation sequence Differential runs (longer inputs are cut).
const MaxProgram = 400

// Differential runs one sequence of operations, decoded from prog, against every store side by side and
// fails at the first operation whose answer differs from the first store's: the error's kind (nil,
// ErrNotFound, ErrAlreadyExists, the update callback's own error) or the values returned, every field
// compared except the random incarnation. The names are drawn from small sets so that collisions (duplicate
// IDs, codes, login names differing only in case, shared emails and mobiles) are frequent. The stores must
// start empty.
func Differential(t *testing.T, prog []byte, stores ...registry.Store) {
	t.Helper()
	if len(prog) > MaxProgram {
		prog = prog[:MaxProgram]
	}
	r := &reader{prog: prog}
	for step := 0; !r.done(); step++ {
		op, call := decodeOp(r)
		want, wantErr := call(stores[0])
		for i, s := range stores[1:] {
			got, err := call(s)
			if kind(err) != kind(wantErr) {
				t.Fatalf("step %d %s: store 0 error %v, store %d error %v", step, op, wantErr, i+1, err)
			}
			if err == nil && !reflect.DeepEqual(want, got) {
				t.Fatalf("step %d %s:\nstore 0 %#v\nstore %d %#v", step, op, want, i+1, got)
			}
		}
	}
}

type reader struct {
	prog []byte
	i    int
}

func (r *reader) done() bool { return r.i >= len(r.prog) }

// next returns the next byte modulo n (0 when the input has run out).
func (r *reader) next(n int) int {
	if r.done() {
		return 0
	}
	r.i++
	return int(r.prog[r.i-1]) % n
}

func pick(r *reader, from ...string) string { return from[r.next(len(from))] }

var (
	errAbort = errors.New("update aborted by its callback")
	tDiff    = time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
)

// kind names the class of err the two stores must agree on.
func kind(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, apierror.ErrNotFound):
		return "not found"
	case errors.Is(err, apierror.ErrAlreadyExists):
		return "already exists"
	case errors.Is(err, errAbort):
		return "abort"
	}
	return "other: " + err.Error()
}

func tenantID(r *reader) string { return pick(r, "a", "b", "c") }
func clientID(r *reader) string { return pick(r, "c1", "c2", "c3", "c10") }
func userID(r *reader) string   { return pick(r, "u1", "u2", "u3") }

func diffClient(r *reader) registry.Client {
	c := registry.DefaultClient()
	c.TenantID, c.ID = tenantID(r), clientID(r)
	c.AllowedGrantTypes = []string{registry.GrantClientCredentials}
	c.RedirectURIs = []string{"https://app.example/" + c.ID}
	c.CreateTime, c.UpdateTime = tDiff, tDiff
	c.Secrets = []registry.Secret{{ID: "s1", KeyID: "k", Digest: []byte{1, 2}, StartTime: tDiff, Expiration: tDiff.Add(time.Hour)}}
	return c
}

func diffUser(r *reader) registry.User {
	return registry.User{
		TenantID: tenantID(r), ID: userID(r),
		LoginName: pick(r, "alice", "Alice", "bob"),
		Email:     pick(r, "", "x@example.com", "X@Example.COM", "y@example.com"),
		Mobile:    pick(r, "", "+1", "+2"),
		Roles:     []string{access.RoleTenantAdmin}, CreateTime: tDiff, UpdateTime: tDiff,
	}
}

// noInc clears the incarnation, which differs between stores by design, after checking it is set.
func noInc(u registry.User, err error) (any, error) {
	if err == nil && u.Incarnation == "" {
		return nil, fmt.Errorf("user %s/%s without an incarnation", u.TenantID, u.ID)
	}
	u.Incarnation = ""
	return u, err
}

func noIncs(us []registry.User, next string, err error) (any, error) {
	for i := range us {
		us[i].Incarnation = ""
	}
	return []any{us, next}, err
}

func listOptions(r *reader) registry.ListOptions {
	return registry.ListOptions{Limit: r.next(4), After: pick(r, "", "a", "b", "c1", "c2", "u1", "u2", "zz")}
}

// decodeOp reads one operation and returns its description and a function that runs it on a store.
func decodeOp(r *reader) (string, func(registry.Store) (any, error)) {
	ctx := context.Background()
	switch r.next(17) {
	case 0:
		tn := registry.Tenant{ID: tenantID(r), Code: pick(r, "x", "y", "z"), Name: "T", CreateTime: tDiff}
		return fmt.Sprintf("CreateTenant(%+v)", tn), func(s registry.Store) (any, error) { return s.CreateTenant(ctx, tn) }
	case 1:
		id, code, abort := tenantID(r), pick(r, "x", "y", "z", "w"), r.next(4) == 0
		return fmt.Sprintf("UpdateTenant(%s, code %s, abort %v)", id, code, abort), func(s registry.Store) (any, error) {
			return s.UpdateTenant(ctx, id, func(tn registry.Tenant) (registry.Tenant, error) {
				tn.Code, tn.Name, tn.ID = code, tn.Name+"!", "ignored"
				if abort {
					return tn, errAbort
				}
				return tn, nil
			})
		}
	case 2:
		id := tenantID(r)
		return "DeleteTenant(" + id + ")", func(s registry.Store) (any, error) { return s.DeleteTenant(ctx, id) }
	case 3:
		c := diffClient(r)
		return fmt.Sprintf("CreateClient(%s/%s)", c.TenantID, c.ID), func(s registry.Store) (any, error) { return s.CreateClient(ctx, c) }
	case 4:
		id, how := clientID(r), r.next(4)
		return fmt.Sprintf("UpdateClient(%s, %d)", id, how), func(s registry.Store) (any, error) {
			return s.UpdateClient(ctx, id, func(c registry.Client) (registry.Client, error) {
				c.TenantID, c.Name = "elsewhere", c.Name+"!"
				switch how {
				case 0:
					return c, errAbort
				case 1:
					c.AccessTokenLifetime += time.Minute
				case 2:
					c.Secrets = append(c.Secrets, registry.Secret{ID: fmt.Sprintf("s%d", len(c.Secrets)+1), Digest: []byte{9}, StartTime: tDiff, Expiration: tDiff.Add(time.Hour)})
				case 3:
					c.Secrets, c.RedirectURIs = nil, nil
				}
				return c, nil
			})
		}
	case 5:
		id := clientID(r)
		return "DeleteClient(" + id + ")", func(s registry.Store) (any, error) { return nil, s.DeleteClient(ctx, id) }
	case 6:
		var uses []registry.SecretUse
		for range r.next(3) {
			uses = append(uses, registry.SecretUse{ClientID: clientID(r), SecretID: pick(r, "s1", "s2", "s9"), Time: tDiff.Add(time.Duration(r.next(5)) * time.Minute)})
		}
		return fmt.Sprintf("RecordSecretUse(%v)", uses), func(s registry.Store) (any, error) {
			if err := s.RecordSecretUse(ctx, uses); err != nil {
				return nil, err
			}
			items, _, err := s.ListClients(ctx, "", registry.ListOptions{})
			return items, err
		}
	case 7:
		u := diffUser(r)
		return fmt.Sprintf("CreateUser(%+v)", u), func(s registry.Store) (any, error) { return noInc(s.CreateUser(ctx, u)) }
	case 8:
		n := diffUser(r)
		abort := r.next(5) == 0
		return fmt.Sprintf("UpdateUser(%+v, abort %v)", n, abort), func(s registry.Store) (any, error) {
			return noInc(s.UpdateUser(ctx, n.TenantID, n.ID, func(u registry.User) (registry.User, error) {
				u.LoginName, u.Email, u.Mobile, u.Incarnation, u.ID = n.LoginName, n.Email, n.Mobile, "x", "ignored"
				if abort {
					return u, errAbort
				}
				return u, nil
			}))
		}
	case 9:
		tid, id := tenantID(r), userID(r)
		return "DeleteUser(" + tid + "/" + id + ")", func(s registry.Store) (any, error) { return nil, s.DeleteUser(ctx, tid, id) }
	case 10:
		tid := tenantID(r)
		sel := access.Selector{Kind: []access.SelectorKind{access.ByUID, access.ByLoginName, access.ByEmail, access.ByMobile}[r.next(4)],
			Value: pick(r, "u1", "u2", "alice", "ALICE", "Bob", "x@example.com", "X@EXAMPLE.com", "+1", "+2", "")}
		return fmt.Sprintf("FindUser(%s, %s)", tid, sel), func(s registry.Store) (any, error) { return noInc(s.FindUser(ctx, tid, sel)) }
	case 11:
		what, tid, o := r.next(3), pick(r, "", "a", "b"), listOptions(r)
		return fmt.Sprintf("List(%d, %q, %+v)", what, tid, o), func(s registry.Store) (any, error) {
			switch what {
			case 0:
				items, next, err := s.ListTenants(ctx, o)
				return []any{items, next}, err
			case 1:
				items, next, err := s.ListClients(ctx, tid, o)
				return []any{items, next}, err
			}
			return noIncs(s.ListUsers(ctx, tid, o))
		}
	case 12:
		n := r.next(3)
		tenants := []registry.Tenant{{ID: "a", Code: "x", CreateTime: tDiff}, {ID: "b", Code: pick(r, "x", "y"), CreateTime: tDiff}}[:n]
		var clients []registry.Client
		var users []registry.User
		for range r.next(3) {
			clients = append(clients, diffClient(r))
		}
		for range r.next(3) {
			users = append(users, diffUser(r))
		}
		return fmt.Sprintf("Seed(%d tenants, %d clients, %d users)", len(tenants), len(clients), len(users)), func(s registry.Store) (any, error) {
			done, err := s.Seed(ctx, tenants, clients, users)
			if err != nil {
				return nil, err
			}
			items, _, err := s.ListTenants(ctx, registry.ListOptions{})
			return []any{done, items}, err
		}
	case 14:
		return resourceOp(r)
	case 15:
		return tenantSignInOp(r)
	case 16:
		return factorsOp(r)
	default:
		tid, code, cid, uid := tenantID(r), pick(r, "x", "y", "z"), clientID(r), userID(r)
		return fmt.Sprintf("Get(%s, %s, %s, %s)", tid, code, cid, uid), func(s registry.Store) (any, error) {
			var out []any
			for _, get := range []func() (any, error){
				func() (any, error) { return s.GetTenant(ctx, tid) },
				func() (any, error) { return s.GetTenantByCode(ctx, code) },
				func() (any, error) { return s.GetClient(ctx, cid) },
				func() (any, error) { return noInc(s.GetUser(ctx, tid, uid)) },
			} {
				v, err := get()
				out = append(out, v, kind(err))
			}
			return out, nil
		}
	}
}

// tenantSignInOp sets a tenant's sign-in settings to one of a few values (the zero value among them).
func tenantSignInOp(r *reader) (string, func(registry.Store) (any, error)) {
	ctx := context.Background()
	id, which := tenantID(r), r.next(3)
	return fmt.Sprintf("UpdateTenant(%s, sign-in settings %d)", id, which), func(s registry.Store) (any, error) {
		return s.UpdateTenant(ctx, id, func(tn registry.Tenant) (registry.Tenant, error) {
			switch which {
			case 0:
				tn.SignInSettings = registry.SignInSettings{}
			case 1:
				tn.SignInSettings = tenantSignIn()
			default:
				tn.DefaultLocale, tn.MFA.Roles = "zh-Hans", append(tn.MFA.Roles, "r")
				tn.IdentityProviders = append(tn.IdentityProviders, registry.IdentityProvider{ID: "p", Scopes: []string{}})
			}
			return tn, nil
		})
	}
}

// factorsOp links a user to a federated identity (or drops the links), changes their other factors, or
// looks a link up; links are drawn from a small set so that they collide.
func factorsOp(r *reader) (string, func(registry.Store) (any, error)) {
	ctx := context.Background()
	what, tid, uid := r.next(3), tenantID(r), userID(r)
	provider, subject := pick(r, "corp", "gh"), pick(r, "1", "2", "x\x00y")
	switch what {
	case 0:
		return fmt.Sprintf("UpdateUser(%s/%s, link %s %q)", tid, uid, provider, subject), func(s registry.Store) (any, error) {
			return noInc(s.UpdateUser(ctx, tid, uid, func(u registry.User) (registry.User, error) {
				u.FederatedIdentities = append(u.FederatedIdentities, registry.FederatedIdentity{ProviderID: provider, Subject: subject})
				return u, nil
			}))
		}
	case 1:
		return fmt.Sprintf("UpdateUser(%s/%s, factors)", tid, uid), func(s registry.Store) (any, error) {
			return noInc(s.UpdateUser(ctx, tid, uid, func(u registry.User) (registry.User, error) {
				if u.TOTP.Enrolled() {
					u.Factors = registry.Factors{}
				} else {
					u.Factors = userFactors(provider, subject)
				}
				return u, nil
			}))
		}
	}
	return fmt.Sprintf("FindUserByFederatedIdentity(%s, %s, %q)", tid, provider, subject), func(s registry.Store) (any, error) {
		return noInc(s.FindUserByFederatedIdentity(ctx, tid, provider, subject))
	}
}
