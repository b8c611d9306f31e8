package clients

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token/store"
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
			var ended []store.Account
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
						ref := store.Account{TenantID: tn, UserID: u, Incarnation: inc}
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
				if now, ok := next[k]; ok && now == old {
					t.Fatalf("op %d: ended %v, which did not change", i/2, e)
				}
			}
			model = next
		}
	})
}
