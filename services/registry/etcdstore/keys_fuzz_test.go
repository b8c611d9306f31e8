package etcdstore

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzKeyParts holds the rule every stored record relies on: an ID (tenant, client, user) or other key part
// the store accepts (badID and badPart false) keeps its key unambiguous and survives the record's JSON as it
// is, so the watch's check that a record names its key (decodeAs) holds and a tenant's per-tenant range holds
// only its own keys.
func FuzzKeyParts(f *testing.F) {
	f.Add("acme", "u1", "Alice")
	f.Add("a", "b\x00c", "x")
	f.Add("t\xff", "u", "l")
	f.Add("ab", "c", "\xc3")
	s := &Store{p: "/p/registry/"}
	f.Fuzz(func(t *testing.T, tid, id, login string) {
		if badID(tid, id) || badPart(login) {
			return
		}
		rest := strings.TrimPrefix(s.userKey(tid, id), s.p+"u/")
		if gt, gi, ok := split(rest); !ok || gt != tid || gi != id {
			t.Fatalf("user key of %q/%q splits into %q/%q", tid, id, gt, gi)
		}
		raw, err := json.Marshal(storedUser{ID: id, TenantID: tid, LoginName: login})
		if err != nil {
			t.Fatal(err)
		}
		var back storedUser
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if back.ID != id || back.TenantID != tid || back.LoginName != login {
			t.Fatalf("stored %q/%q/%q, read back %q/%q/%q", tid, id, login, back.TenantID, back.ID, back.LoginName)
		}
		// No other tenant's range holds this tenant's keys: a tenant whose ID extends tid is another range.
		other := tid + "x"
		for _, key := range []string{s.userKey(tid, id), s.loginPrefix(tid) + strings.ToLower(login), s.memberKey(tid, id)} {
			for _, prefix := range []string{s.userPrefix(other), s.loginPrefix(other), s.memberPrefix(other)} {
				if strings.HasPrefix(key, prefix) {
					t.Fatalf("key %q of tenant %q lies in tenant %q's range %q", key, tid, other, prefix)
				}
			}
		}
	})
}
