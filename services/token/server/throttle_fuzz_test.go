package server

import (
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// memFailures applies reserveRecords and settleRecords to an in-memory table, as the store's transaction does.
type memFailures map[string]token.LoginFailures

func (m memFailures) load(keys []string) []token.LoginFailures {
	fs := make([]token.LoginFailures, len(keys))
	for i, k := range keys {
		fs[i] = m[k]
		fs[i].Key = k
	}
	return fs
}

func (m memFailures) save(keys []string, fs []token.LoginFailures) {
	for i, k := range keys {
		if fs[i].Count == 0 && fs[i].LockedUntil.IsZero() {
			delete(m, k)
		} else {
			m[k] = fs[i]
		}
	}
}

// FuzzThrottle drives any interleaving of attempts on one account (from two addresses) with any outcomes
// and any pauses of up to a minute, within a quarter of an hour (so no window or lock ends by itself), and
// checks the promises of the login throttle: between two successes, no more passwords are checked (attempts
// reserved and not refunded) than the account's lock threshold, whatever the order; a reservation never
// happens while the account is locked; an address is never locked.
func FuzzThrottle(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 4, 0, 4, 0, 4, 0x83, 0, 4, 0x8f, 0, 5, 1, 0, 6})
	f.Add([]byte{0, 1, 0, 1, 2, 0, 0, 0x9f, 0, 4, 0xbc, 0, 4, 0, 4})
	f.Fuzz(func(t *testing.T, ops []byte) {
		m := memFailures{}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		end := now.Add(accountPolicy.Window - time.Minute)
		account := accountKey("t", "u")
		addrs := []string{addressKey("192.0.2.1"), addressKey("192.0.2.2")}
		type attempt struct{ keys []string }
		var pending []attempt
		checked := 0 // reserved, not refunded, since the last success
		for i, op := range ops {
			switch {
			case op&0x80 != 0: // pause
				now = now.Add(time.Duration(op&0x7f) * time.Second / 2)
				if now.After(end) {
					return
				}
			case op%8 < 4: // an attempt from one of the addresses
				keys := []string{account, addrs[op%2]}
				wasLocked := now.Before(m[account].LockedUntil)
				next, ref, _ := reserveRecords(keys, m.load(keys), now)
				if next != nil {
					m.save(keys, next)
				}
				if ref == nil {
					if wasLocked {
						t.Fatalf("op %d: attempt reserved while the account was locked", i)
					}
					pending = append(pending, attempt{keys})
					checked++
					if checked > accountPolicy.LockAt {
						t.Fatalf("op %d: %d passwords checked since the last success, more than %d", i, checked, accountPolicy.LockAt)
					}
				}
			case len(pending) > 0: // settle the oldest pending attempt
				a := pending[0]
				pending = pending[1:]
				o := outcome(op%8 - 4)
				if o > outcomeUnanswered {
					o = outcomeWrong
				}
				next, _ := settleRecords(a.keys, m.load(a.keys), now, o)
				m.save(a.keys, next)
				switch o {
				case outcomeRight:
					checked = len(pending) // the owner is back; attempts still in flight were reserved before
				case outcomeUnanswered:
					checked--
				}
			}
			for _, k := range addrs {
				if !m[k].LockedUntil.IsZero() {
					t.Fatalf("op %d: address locked: %+v", i, m[k])
				}
			}
		}
	})
}
