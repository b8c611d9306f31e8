package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
)

// watcher collects the change batches of one Watch running in the background.
type watcher struct {
	batches chan changelog.Batch[registry.Change]
	done    chan error
	cancel  context.CancelFunc
}

func startWatch(t *testing.T, s registry.Store, from int64) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{batches: make(chan changelog.Batch[registry.Change], 1<<16), done: make(chan error, 1), cancel: cancel}
	go func() {
		w.done <- s.Watch(ctx, from, func(b changelog.Batch[registry.Change]) error {
			w.batches <- b
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

// next returns the next batch that has changes, skipping progress reports; it fails the test after a
// generous bound (a watch that delivers nothing is the failure this guards against, not slowness).
func (w *watcher) next(t *testing.T, last int64) changelog.Batch[registry.Change] {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case b := <-w.batches:
			if b.Revision < last || (b.Revision == last && len(b.Changes) > 0) {
				t.Fatalf("batch at revision %d after revision %d: revisions must increase", b.Revision, last)
			}
			last = b.Revision
			if len(b.Changes) > 0 {
				return b
			}
		case err := <-w.done:
			t.Fatalf("Watch ended: %v", err)
		case <-timeout:
			t.Fatal("no change batch within 30 s")
		}
	}
}

// describe names each change of a batch, for comparisons ("tenant a", "-client c1", ...).
func describe(b changelog.Batch[registry.Change]) []string {
	var out []string
	for _, ch := range b.Changes {
		switch {
		case ch.Tenant != nil:
			out = append(out, "tenant "+ch.Tenant.ID)
		case ch.DeletedTenant != "":
			out = append(out, "-tenant "+ch.DeletedTenant)
		case ch.Client != nil:
			out = append(out, "client "+ch.Client.ID)
		case ch.DeletedClient != "":
			out = append(out, "-client "+ch.DeletedClient)
		case ch.User != nil:
			out = append(out, "user "+ch.User.TenantID+"/"+ch.User.ID)
		case ch.DeletedUser != nil:
			out = append(out, "-user "+ch.DeletedUser.TenantID+"/"+ch.DeletedUser.ID)
		case ch.Resource != nil:
			out = append(out, "resource "+ch.Resource.TenantID+"/"+ch.Resource.ID)
		case ch.DeletedResource != nil:
			out = append(out, "-resource "+ch.DeletedResource.TenantID+"/"+ch.DeletedResource.ID)
		default:
			out = append(out, "empty change")
		}
	}
	return out
}

// testWatchReportsWrites: each write's changes arrive in one batch, in order, with increasing revisions, and
// Revision() after the write is at or after the batch's revision; the changes carry the values as stored.
func testWatchReportsWrites(t *testing.T, s registry.Store) {
	ctx := context.Background()
	start := s.Revision()
	w := startWatch(t, s, start)
	last := start
	step := func(what string, write func() error, want ...string) changelog.Batch[registry.Change] {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		after := s.Revision()
		b := w.next(t, last)
		if b.Revision <= last || after < b.Revision {
			t.Fatalf("%s: batch revision %d, previous %d, Revision() after the write %d", what, b.Revision, last, after)
		}
		last = b.Revision
		got := describe(b)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: changes %q, want %q", what, got, want)
		}
		return b
	}
	b := step("CreateTenant", func() error { mustTenant(t, s, "a"); return nil }, "tenant a")
	if !equalTenant(*b.Changes[0].Tenant, registry.Tenant{ID: "a", Code: "code-a", Name: "Tenant a", CreateTime: t0}) {
		t.Fatalf("tenant change %+v", *b.Changes[0].Tenant)
	}
	step("UpdateTenant", func() error {
		_, err := s.UpdateTenant(ctx, "a", func(tn registry.Tenant) (registry.Tenant, error) { tn.Name = "renamed"; return tn, nil })
		return err
	}, "tenant a")
	b = step("CreateClient", func() error { mustClient(t, s, "a", "c1"); return nil }, "client c1")
	if !equalClient(*b.Changes[0].Client, newClient("a", "c1")) {
		t.Fatalf("client change %+v", *b.Changes[0].Client)
	}
	b = step("UpdateClient", func() error {
		_, err := s.UpdateClient(ctx, "c1", func(c registry.Client) (registry.Client, error) { c.Name = "renamed"; return c, nil })
		return err
	}, "client c1")
	if b.Changes[0].Client.Name != "renamed" || len(b.Changes[0].Client.Secrets) != 1 {
		t.Fatalf("updated client change %+v", *b.Changes[0].Client)
	}
	used := t0.Add(time.Hour)
	b = step("RecordSecretUse", func() error {
		return s.RecordSecretUse(ctx, []registry.SecretUse{{ClientID: "c1", SecretID: "s1", Time: used}})
	}, "client c1")
	if !b.Changes[0].Client.Secrets[0].LastUsed.Equal(used) {
		t.Fatalf("secret use change %+v", b.Changes[0].Client.Secrets)
	}
	var created registry.User
	b = step("CreateUser", func() error { created = mustUser(t, s, newUser("a", "u1")); return nil }, "user a/u1")
	if b.Changes[0].User.Incarnation != created.Incarnation || !equalUser(*b.Changes[0].User, created) {
		t.Fatalf("user change %+v, created %+v", *b.Changes[0].User, created)
	}
	step("UpdateUser", func() error {
		_, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) { u.DisplayName = "x"; return u, nil })
		return err
	}, "user a/u1")
	b = step("DeleteUser", func() error { return s.DeleteUser(ctx, "a", "u1") }, "-user a/u1")
	if d := b.Changes[0].DeletedUser; d.Incarnation != created.Incarnation || d.DisplayName != "x" {
		t.Fatalf("deleted user change %+v; want the user as it was", *d)
	}
	step("DeleteClient", func() error { return s.DeleteClient(ctx, "c1") }, "-client c1")
	mustClient(t, s, "a", "c2")
	w.next(t, last)
	mustUser(t, s, newUser("a", "u2"))
	last = w.next(t, last).Revision
	if _, err := s.DeleteTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	b = w.next(t, last)
	got := describe(b)
	if !slices.Contains(got, "-tenant a") {
		t.Fatalf("DeleteTenant: changes %q, want -tenant a", got)
	}
	for _, d := range got {
		if d != "-tenant a" && d != "-client c2" && d != "-user a/u2" {
			t.Fatalf("DeleteTenant: unexpected change %q in %q", d, got)
		}
	}
	if after := s.Revision(); after < b.Revision {
		t.Fatalf("Revision() %d after DeleteTenant, batch at %d", after, b.Revision)
	}
}

// testWatchReplay: Watch from the revision noted before a write replays it; from the revision after it, the
// next change is the next write's. Watching from far back either replays everything in order or answers
// changelog.ErrCompacted (how much history is kept is the backend's choice).
func testWatchReplay(t *testing.T, s registry.Store) {
	ctx := context.Background()
	before := s.Revision()
	mustTenant(t, s, "a")
	mid := s.Revision()
	mustClient(t, s, "a", "c1")
	w := startWatch(t, s, before)
	if got := describe(w.next(t, before)); !slices.Equal(got, []string{"tenant a"}) {
		t.Fatalf("replay from %d: %q", before, got)
	}
	if got := describe(w.next(t, before)); !slices.Equal(got, []string{"client c1"}) {
		t.Fatalf("replay from %d, second batch: %q", before, got)
	}
	w2 := startWatch(t, s, mid)
	if got := describe(w2.next(t, mid)); !slices.Equal(got, []string{"client c1"}) {
		t.Fatalf("replay from %d: %q", mid, got)
	}

	// Many writes, then a watch from the start: all in order, or ErrCompacted.
	for i := range 40 {
		mustClient(t, s, "a", fmt.Sprintf("m%02d", i))
	}
	stop := errors.New("enough")
	var seen []string
	err := s.Watch(ctx, before, func(b changelog.Batch[registry.Change]) error {
		seen = append(seen, describe(b)...)
		if len(seen) >= 42 {
			return stop
		}
		return nil
	})
	switch {
	case errors.Is(err, changelog.ErrCompacted):
	case errors.Is(err, stop):
		for i := range 40 {
			if want := fmt.Sprintf("client m%02d", i); seen[i+2] != want {
				t.Fatalf("replay of many writes: change %d is %q, want %q", i+2, seen[i+2], want)
			}
		}
	default:
		t.Fatalf("Watch from an old revision: %v (seen %d changes)", err, len(seen))
	}
}

// testWatchEnds: Watch returns ctx's error when ctx ends, and fn's error as is when fn fails.
func testWatchEnds(t *testing.T, s registry.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Watch(ctx, s.Revision(), func(changelog.Batch[registry.Change]) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch with an ended context: %v", err)
	}
	from := s.Revision()
	mustTenant(t, s, "a")
	mine := errors.New("mine")
	if err := s.Watch(context.Background(), from, func(b changelog.Batch[registry.Change]) error {
		if len(b.Changes) == 0 {
			return nil
		}
		return mine
	}); !errors.Is(err, mine) {
		t.Fatalf("Watch whose fn failed: %v, want fn's error", err)
	}
}

// testWatchChangesAreCopies: a watcher that modifies its changes changes neither the store nor another
// watcher's changes.
func testWatchChangesAreCopies(t *testing.T, s registry.Store) {
	from := s.Revision()
	mustTenant(t, s, "a")
	mustClient(t, s, "a", "c1")
	w1, w2 := startWatch(t, s, from), startWatch(t, s, from)
	w1.next(t, from)
	c := w1.next(t, from).Changes[0].Client
	c.RedirectURIs[0], c.Secrets[0].Digest[0] = "mutated", 99
	w2.next(t, from)
	c2 := w2.next(t, from).Changes[0].Client
	stored, _ := s.GetClient(context.Background(), "c1")
	if c2.RedirectURIs[0] == "mutated" || c2.Secrets[0].Digest[0] == 99 || stored.RedirectURIs[0] == "mutated" {
		t.Fatal("a watcher's change shares memory with another watcher or the store")
	}
}

// testUpdateMayRunAgain: concurrent updates whose functions compute only from their argument lose nothing,
// however often a backend runs them; each call returns the value of the run that was stored.
func testUpdateMayRunAgain(t *testing.T, s registry.Store) {
	ctx := context.Background()
	mustTenant(t, s, "a")
	mustUser(t, s, newUser("a", "u1"))
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		role := fmt.Sprintf("r%02d", i)
		wg.Go(func() {
			var lastRun registry.User
			got, err := s.UpdateUser(ctx, "a", "u1", func(u registry.User) (registry.User, error) {
				u.Roles = append(u.Roles, role)
				lastRun = u
				return u, nil
			})
			if err == nil && !slices.Equal(got.Roles, lastRun.Roles) {
				err = fmt.Errorf("UpdateUser returned roles %q, its last run computed %q", got.Roles, lastRun.Roles)
			}
			errs <- err
		})
		wg.Go(func() {
			_, err := s.UpdateTenant(ctx, "a", func(tn registry.Tenant) (registry.Tenant, error) {
				tn.Name += "+"
				return tn, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	u, _ := s.GetUser(ctx, "a", "u1")
	for i := range n {
		if !slices.Contains(u.Roles, fmt.Sprintf("r%02d", i)) {
			t.Fatalf("role r%02d lost: %q", i, u.Roles)
		}
	}
	if tn, _ := s.GetTenant(ctx, "a"); len(tn.Name) != len("Tenant a")+n {
		t.Fatalf("tenant name %q after %d concurrent appends", tn.Name, n)
	}
}

// testWatchSeed: a watcher sees a large seed whole: every tenant, client and user of it, each client and user
// no earlier than its tenant, and nothing of the seed before its tenants exist.
func testWatchSeed(t *testing.T, s registry.Store) {
	from := s.Revision()
	w := startWatch(t, s, from)
	tenants, clients, users := largeSeed()
	if done, err := s.Seed(context.Background(), tenants, clients, users); err != nil || !done {
		t.Fatalf("Seed = %v, %v", done, err)
	}
	want := map[string]bool{}
	for _, tn := range tenants {
		want["tenant "+tn.ID] = true
	}
	for _, c := range clients {
		want["client "+c.ID] = true
	}
	for _, u := range users {
		want["user "+u.TenantID+"/"+u.ID] = true
	}
	seenTenant := map[string]bool{}
	last := from
	for len(want) > 0 {
		b := w.next(t, last)
		last = b.Revision
		for _, ch := range b.Changes {
			d := describe(changelog.Batch[registry.Change]{Changes: []registry.Change{ch}})[0]
			var tenant string
			switch {
			case ch.Tenant != nil:
				seenTenant[ch.Tenant.ID] = true
			case ch.Client != nil:
				tenant = ch.Client.TenantID
			case ch.User != nil:
				tenant = ch.User.TenantID
			}
			if tenant != "" && !seenTenant[tenant] {
				// A tenant's batch may list it after its records; look ahead within the batch.
				found := slices.ContainsFunc(b.Changes, func(c registry.Change) bool { return c.Tenant != nil && c.Tenant.ID == tenant })
				if !found {
					t.Fatalf("%s reported at revision %d before its tenant", d, b.Revision)
				}
			}
			if !want[d] {
				t.Fatalf("unexpected or repeated change %q at revision %d", d, b.Revision)
			}
			delete(want, d)
		}
	}
}
