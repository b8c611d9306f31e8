package etcdstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/etcdstore"
)

// keysUnder counts the keys under prefix.
func keysUnder(t *testing.T, cli *clientv3.Client, prefix string) int64 {
	t.Helper()
	resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

// TestLimits runs what must stay within etcd's default limits (128 operations per transaction, 1.5 MiB per
// request; the test cluster runs with the defaults) at sizes that exceed them.
func TestLimits(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)

	// A client snapshot larger than one request is written in chunks, reads back whole, and replacing it
	// leaves no chunk of the old generation, nor of a put that died before switching the pointer.
	t.Run("ClientSnapshotChunks", func(t *testing.T) {
		s := open(t, cli, "/snap/")
		big := make([]byte, 3<<20+12345)
		rand.Read(big)
		if err := s.PutClientSnapshot(ctx, big); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClientSnapshot(ctx); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read back %d bytes, %v; want %d", len(got), err, len(big))
		}
		// A put that died after writing a chunk: an unreferenced generation.
		if _, err := cli.Put(ctx, "/snap/token/c/00000000000000ff/00000000", "orphan"); err != nil {
			t.Fatal(err)
		}
		if err := s.PutClientSnapshot(ctx, []byte("small")); err != nil {
			t.Fatal(err)
		}
		if got, err := open(t, cli, "/snap/").ClientSnapshot(ctx); err != nil || string(got) != "small" {
			t.Fatalf("after replacing: %q, %v", got, err)
		}
		// The pointer, the generation counter and one chunk remain.
		if n := keysUnder(t, cli, "/snap/token/c/"); n != 3 {
			t.Fatalf("%d snapshot keys after replacing, want 3", n)
		}
		if err := s.PutClientSnapshot(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClientSnapshot(ctx); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("empty snapshot read as %q, %v; want empty, not absent", got, err)
		}
	})

	// Replicas putting snapshots at once: every read, during and after, answers one of the snapshots put,
	// whole.
	t.Run("ClientSnapshotConcurrentPuts", func(t *testing.T) {
		stores := []*etcdstore.Store{open(t, c.ClientAt(t, 0), "/snapc/"), open(t, c.ClientAt(t, 1), "/snapc/")}
		values := map[string]bool{}
		var puts [][]byte
		for i := range 8 {
			v := bytes.Repeat([]byte{byte('a' + i)}, 1<<20+100) // two chunks each
			puts = append(puts, v)
			values[string(v)] = true
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i, v := range puts {
			wg.Go(func() {
				if err := stores[i%2].PutClientSnapshot(ctx, v); err != nil {
					t.Error(err)
				}
			})
		}
		var readers sync.WaitGroup
		for i := range 2 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					got, err := stores[i].ClientSnapshot(ctx)
					if err != nil || got != nil && !values[string(got)] {
						t.Errorf("read during puts: %d bytes, %v", len(got), err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		for _, s := range stores {
			if got, err := s.ClientSnapshot(ctx); err != nil || !values[string(got)] {
				t.Fatalf("read after puts: %d bytes, %v", len(got), err)
			}
		}
	})

	// Thousands of one account's sessions and refresh tokens end in one call; thousands of expired records
	// and revocations go in one sweep.
	t.Run("ManyRecords", func(t *testing.T) {
		s := open(t, cli, "/many/")
		const n = 2000
		acct := token.Account{TenantID: "t", UserID: "u", Incarnation: "i"}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				id := []byte(fmt.Sprintf("session-%04d-0123456789abcdef0123", i))
				exp := t0.Add(time.Hour)
				if i%2 == 0 {
					exp = t0 // half of them expired
				}
				if err := s.PutSession(ctx, token.Session{ID: id, SID: fmt.Sprint("sid-", i), TenantID: "t", UserID: "u", Incarnation: "i", Expiry: t0.Add(time.Hour)}); err != nil {
					t.Error(err)
				}
				if err := s.PutRefreshToken(ctx, token.RefreshToken{Hash: id, FamilyID: fmt.Sprint("fam-", i%100), TenantID: "t", UserID: "u", Incarnation: "i", Expiry: t0.Add(time.Hour)}); err != nil {
					t.Error(err)
				}
				if err := s.PutInteraction(ctx, token.Interaction{ID: id, Expiry: exp}); err != nil {
					t.Error(err)
				}
				if err := s.Revoke(ctx, token.Revocation{JTI: string(id), Expiry: exp}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		sessions, err := s.DeleteAccountSessions(ctx, []token.Account{acct})
		if err != nil || len(sessions) != n {
			t.Fatalf("DeleteAccountSessions ended %d of %d, %v", len(sessions), n, err)
		}
		if _, err := s.SessionBySID(ctx, "sid-7"); !errors.Is(err, token.ErrNotFound) {
			t.Fatalf("SID index kept after the account's sessions went: %v", err)
		}
		families, err := s.DeleteAccountRefreshTokens(ctx, []token.Account{acct})
		if err != nil || len(families) != 100 {
			t.Fatalf("DeleteAccountRefreshTokens ended %d families, %v", len(families), err)
		}
		swept, err := s.SweepExpired(ctx, t0.Add(time.Minute))
		if err != nil || swept != n/2 {
			t.Fatalf("SweepExpired deleted %d, %v; want %d", swept, err, n/2)
		}
		revs, err := s.SweepRevocations(ctx, t0.Add(time.Minute))
		if err != nil || revs != n/2 {
			t.Fatalf("SweepRevocations deleted %d, %v; want %d", revs, err, n/2)
		}
		if left, err := s.Revocations(ctx); err != nil || len(left) != n/2 {
			t.Fatalf("%d revocations left, %v", len(left), err)
		}
		// Of the sign-in records only the live interactions and their index entries remain.
		if got := keysUnder(t, cli, "/many/token/s/"); got != n/2 {
			t.Fatalf("%d sign-in keys left, want %d", got, n/2)
		}
		if got := keysUnder(t, cli, "/many/token/x/s/"); got != n/2 {
			t.Fatalf("%d expiry index entries left, want %d", got, n/2)
		}
	})

	// A record renewed after its first expiry index entry was written survives the sweep of that entry, and
	// the stale entry goes.
	t.Run("SweepKeepsRenewed", func(t *testing.T) {
		s := open(t, cli, "/renew/")
		id := h("renewed")
		if err := s.PutInteraction(ctx, token.Interaction{ID: id, Expiry: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutInteraction(ctx, token.Interaction{ID: id, ClientID: "again", Expiry: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, token.Revocation{JTI: "j", Expiry: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, token.Revocation{JTI: "j", Expiry: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.SweepExpired(ctx, t0.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("swept %d, %v; want 0", n, err)
		}
		if n, err := s.SweepRevocations(ctx, t0.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("swept %d revocations, %v; want 0", n, err)
		}
		if in, err := s.Interaction(ctx, id); err != nil || in.ClientID != "again" {
			t.Fatalf("renewed interaction: %+v, %v", in, err)
		}
		if revs, err := s.Revocations(ctx); err != nil || len(revs) != 1 || !revs[0].Expiry.Equal(t0.Add(time.Hour)) {
			t.Fatalf("renewed revocation: %+v, %v", revs, err)
		}
		if n := keysUnder(t, cli, "/renew/token/x/"); n != 2 {
			t.Fatalf("%d index entries, want the 2 live ones", n)
		}
	})

	// More login-failure keys than one transaction can hold are refused, changing nothing.
	t.Run("LoginFailureKeysBounded", func(t *testing.T) {
		s := open(t, cli, "/lf/")
		keys := make([]string, 41)
		for i := range keys {
			keys[i] = fmt.Sprint("k", i)
		}
		if _, err := s.UpdateLoginFailureSet(ctx, keys, func(fs []token.LoginFailures) ([]token.LoginFailures, error) { return fs, nil }); err == nil {
			t.Fatal("41 keys accepted")
		}
	})
}

// leader returns the index of the member that leads the cluster.
func leader(t *testing.T, c *etcdtest.Cluster) int {
	t.Helper()
	cli := c.Client(t)
	for i, ep := range c.Endpoints() {
		st, err := cli.Status(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		if st.Leader == st.Header.MemberId {
			return i
		}
	}
	t.Fatal("no leader")
	return -1
}

// TestMemberKilledDuringRevocations: with the leader of three members killed (SIGKILL) in the middle of a stream of
// revocations, every revocation acknowledged is kept and reaches a watcher, which carries on through the
// surviving members.
func TestMemberKilledDuringRevocations(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 3)
	s := open(t, c.Client(t), "/kill/")
	w := open(t, c.Client(t), "/kill/")
	from := w.Revision()
	seen := make(chan string, 1000)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- w.Watch(wctx, from, func(b changelog.Batch[token.Change]) error {
			for _, ch := range b.Changes {
				seen <- ch.Revocation.JTI
			}
			return nil
		})
	}()
	acked := map[string]bool{}
	killed := -1
	for i := range 200 {
		if i == 100 {
			killed = leader(t, c)
			c.Kill(killed)
		}
		jti := fmt.Sprint("jti-", i)
		// A write in flight when the leader dies may fail with its outcome unknown; Revoke sends it again.
		if err := s.Revoke(ctx, token.Revocation{JTI: jti, Expiry: t0}); err != nil {
			t.Fatalf("revoke %s: %v", jti, err)
		}
		acked[jti] = true
	}
	revs, err := open(t, c.ClientAt(t, (killed+1)%3), "/kill/").Revocations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, r := range revs {
		kept[r.JTI] = true
	}
	for jti := range acked {
		if !kept[jti] {
			t.Fatalf("acknowledged revocation %s lost", jti)
		}
	}
	got := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for len(got) < len(acked) {
		select {
		case jti := <-seen:
			got[jti] = true
		case err := <-watchDone:
			t.Fatalf("watch ended: %v", err)
		case <-timeout:
			t.Fatalf("watcher saw %d of %d revocations", len(got), len(acked))
		}
	}
}
