package clients

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
)

// FuzzAccountEvents applies fuzzed sequences of user events (upsert, user deletion, tenant deletion) and
// resyncs to the account view and checks it against a model of the registry (a plain map):
//   - CheckAccount answers, for every account, incarnation and issue time of a small universe, what the
//     model's account says (live with that incarnation, enabled, issued after the last disable);
//   - every account whose good things became bad (something issued to it checked nil before the change and
//     not after) is among the accounts the change reports ended, and nothing is reported ended whose
//     account did not change.
func FuzzAccountEvents(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 6, 1, 0})
	f.Add([]byte{0, 3, 0, 9, 3, 0, 2, 1, 0, 3})
	f.Add([]byte{0, 0, 0, 0x12, 3, 0, 0, 0x0f, 1, 3, 2, 0})
	tenants := []string{"t1", "t2"}
	users := []string{"u1", "u2"}
	incs := []string{"", "x", "y"}
	times := []time.Time{{}, t0.Add(time.Hour), t0.Add(2 * time.Hour)}
	issued := []time.Time{t0, t0.Add(time.Hour), t0.Add(time.Hour + time.Second), t0.Add(3 * time.Hour)}
	modelCheck := func(m map[accountKey]Account, k accountKey, inc string, at time.Time) error {
		a, ok := m[k]
		switch {
		case !ok || a.Incarnation != inc:
			return ErrAccountGone
		case a.Disabled || !at.After(a.DisableTime):
			return ErrAccountDisabled
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		c := NewCache(Config{})
		model := map[accountKey]Account{}
		c.replace(map[string]*Client{}, map[accountKey]*Account{})
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, ops[i+1]
			k := accountKey{tenants[arg&1], users[arg>>1&1]}
			next := maps.Clone(model)
			var ended []token.Account
			switch op {
			case 0: // upsert
				a := Account{TenantID: k.tenantID, UserID: k.userID, Incarnation: incs[int(arg>>2&3)%3],
					Disabled: arg>>4&1 == 1, DisableTime: times[int(arg>>5&3)%3]}
				next[k] = a
				ended = c.applyAccount(k, &a)
			case 1: // user deleted
				delete(next, k)
				ended = c.applyAccount(k, nil)
			case 2: // tenant deleted
				for kk := range next {
					if kk.tenantID == k.tenantID {
						delete(next, kk)
					}
				}
				ended = c.deleteTenantAccounts(k.tenantID)
			case 3: // resync with the model (after changing one account meanwhile, as a missed event would)
				a := Account{TenantID: k.tenantID, UserID: k.userID, Incarnation: incs[int(arg>>2&3)%3],
					Disabled: arg>>4&1 == 1, DisableTime: times[int(arg>>5&3)%3]}
				if arg>>7 == 1 {
					delete(next, k)
				} else {
					next[k] = a
				}
				snap := map[accountKey]*Account{}
				for kk, v := range next {
					snap[kk] = &v
				}
				ended = c.replace(map[string]*Client{}, snap)
			}
			for _, tn := range tenants {
				for _, u := range users {
					kk := accountKey{tn, u}
					for _, inc := range incs {
						ref := token.Account{TenantID: tn, UserID: u, Incarnation: inc}
						for _, at := range issued {
							got, want := c.CheckAccount(tn, u, inc, at), modelCheck(next, kk, inc, at)
							if !errors.Is(got, want) || (got == nil) != (want == nil) {
								t.Fatalf("op %d: CheckAccount(%v, %v) = %v, model says %v", i/2, ref, at, got, want)
							}
							if modelCheck(model, kk, inc, at) == nil && want != nil && !slices.Contains(ended, ref) {
								t.Fatalf("op %d: %v became bad for things issued at %v but was not reported ended (ended %v)", i/2, ref, at, ended)
							}
						}
					}
				}
			}
			for _, e := range ended {
				k := accountKey{e.TenantID, e.UserID}
				old, ok := model[k]
				if !ok || old.Incarnation != e.Incarnation {
					t.Fatalf("op %d: ended %v, which the view should not have held", i/2, e)
				}
				if now, ok := next[k]; ok && now.same(&old) {
					t.Fatalf("op %d: ended %v, which did not change", i/2, e)
				}
			}
			model = next
		}
	})
}

// snapshotStore keeps the sealed snapshot in memory; the account fuzz target needs nothing else.
type snapshotStore struct {
	token.Store
	data []byte
}

func (s *snapshotStore) PutClientSnapshot(_ context.Context, b []byte) error {
	s.data = slices.Clone(b)
	return nil
}
func (s *snapshotStore) ClientSnapshot(context.Context) ([]byte, error) {
	return slices.Clone(s.data), nil
}

// FuzzAccountRecord converts fuzzed registry user records and checks that a record is refused exactly when
// it lacks a tenant or user id or is not UTF-8, that an accepted one is what CheckAccount then answers from, and that the
// answer survives the persisted snapshot (Persist, then Load in a new cache), disable times to the
// nanosecond included.
func FuzzAccountRecord(f *testing.F) {
	f.Add("t", "u", "inc", true, int64(1_900_000_000), int32(5))
	f.Add("", "u", "", false, int64(0), int32(0))
	f.Add("t", "u", "", false, int64(-1), int32(999_999_999))
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tenant, user, inc string, disabled bool, secs int64, nanos int32) {
		r := &registryv1.UserRecord{TenantId: tenant, UserId: user, Incarnation: inc, Disabled: disabled}
		if secs != 0 || nanos != 0 {
			r.DisableTime = &timestamppb.Timestamp{Seconds: secs % 1e11, Nanos: nanos % 1e9}
			if !r.GetDisableTime().IsValid() {
				r.DisableTime = nil
			}
		}
		a, err := accountFromRecord(r)
		valid := tenant != "" && user != "" && utf8.ValidString(tenant) && utf8.ValidString(user) && utf8.ValidString(inc)
		if (err != nil) == valid {
			t.Fatalf("accountFromRecord(%v) error %v", r, err)
		}
		if err != nil {
			return
		}
		st := &snapshotStore{}
		c := NewCache(Config{Store: st, Keyring: kr})
		c.replace(map[string]*Client{}, map[accountKey]*Account{a.key(): a})
		if err := c.Persist(context.Background()); err != nil {
			t.Fatal(err)
		}
		c2 := NewCache(Config{Store: st, Keyring: kr})
		if err := c2.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		var at []time.Time
		if r.DisableTime != nil {
			d := r.GetDisableTime().AsTime()
			at = append(at, d, d.Add(time.Nanosecond), d.Add(-time.Nanosecond))
		}
		at = append(at, time.Unix(0, 0), time.Unix(4_000_000_000, 0))
		for _, ti := range at {
			want := error(nil)
			switch {
			case disabled:
				want = ErrAccountDisabled
			case r.DisableTime != nil && !ti.After(r.GetDisableTime().AsTime()):
				want = ErrAccountDisabled
			}
			for i, cache := range []*Cache{c, c2} {
				if got := cache.CheckAccount(tenant, user, inc, ti); got != want {
					t.Fatalf("cache %d: CheckAccount(%q, %q, %q, %v) = %v, want %v", i, tenant, user, inc, ti, got, want)
				}
				if got := cache.CheckAccount(tenant, user, inc+"x", ti); got != ErrAccountGone {
					t.Fatalf("cache %d: another incarnation: %v", i, got)
				}
			}
		}
	})
}
