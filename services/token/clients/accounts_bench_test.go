package clients

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// accountsCache returns a ready cache holding n accounts in one tenant.
func accountsCache(tb testing.TB, cfg Config, n int) *Cache {
	c := NewCache(cfg)
	m := make(map[accountKey]*Account, n)
	for i := range n {
		a := &Account{TenantID: "t", UserID: fmt.Sprintf("user-%07d", i), Incarnation: fmt.Sprintf("INC%023d", i)}
		m[a.key()] = a
	}
	c.replace(map[string]*Client{}, m)
	return c
}

// BenchmarkCheckAccount is the per-request cost the account view adds to a user token check.
func BenchmarkCheckAccount(b *testing.B) {
	c := accountsCache(b, Config{}, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		if c.CheckAccount("t", "user-0004242", "INC00000000000000000004242", t0) != nil {
			b.Fatal("live account refused")
		}
	}
}

// BenchmarkPersistAccounts is one snapshot write (sealed JSON, fsync) with n accounts: the cost of a
// registry change, coalesced by PersistDelay.
func BenchmarkPersistAccounts(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchmarkPersist(b, n) })
	}
}

func benchmarkPersist(b *testing.B, n int) {
	st := openTokenStore(b, filepath.Join(b.TempDir(), "token.db"))
	c := accountsCache(b, Config{Store: st, Keyring: testKeyring(b)}, n)
	for b.Loop() {
		c.mu.Lock()
		c.lastHash = [32]byte{} // force the write
		c.mu.Unlock()
		if err := c.Persist(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
