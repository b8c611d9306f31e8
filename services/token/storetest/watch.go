package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/token"
)

var watchTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"WatchReplaysInOrder", testWatchReplay},
	{"WatchFollowsLiveCommits", testWatchLive},
	{"WatchConcurrentRevocations", testWatchConcurrentRevocations},
	{"WatchEndsWithCtxOrFn", testWatchEnds},
	{"WatchIgnoresUnwatchedWrites", testWatchIgnoresOthers},
	{"RevisionSurvivesReopen", testRevisionReopen},
}

// errSeen ends a watch once it has what the test waits for.
var errSeen = errors.New("seen")

// watchUntil watches s from from until a batch at or after rev and returns the changes delivered, checking
// that batch revisions never go back and that only changes after from arrive.
func watchUntil(t *testing.T, s token.Store, from, rev int64) []token.Change {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []token.Change
	last := from
	err := s.Watch(c, from, func(b changelog.Batch[token.Change]) error {
		if b.Revision < last || (b.Revision == last && len(b.Changes) > 0) {
			return fmt.Errorf("batch at revision %d after %d", b.Revision, last)
		}
		last = b.Revision
		got = append(got, b.Changes...)
		if b.Revision >= rev {
			return errSeen
		}
		return nil
	})
	if !errors.Is(err, errSeen) {
		t.Fatalf("Watch(%d) until %d: %v", from, rev, err)
	}
	return got
}

func describe(cs []token.Change) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		switch {
		case c.Revocation != nil && !c.KeysChanged:
			out = append(out, "revoke "+c.Revocation.JTI+" "+c.Revocation.Expiry.UTC().Format(time.RFC3339))
		case c.Revocation == nil && c.KeysChanged:
			out = append(out, "keys")
		default:
			out = append(out, fmt.Sprintf("bad change %+v", c))
		}
	}
	return out
}

func sameChanges(t *testing.T, got []token.Change, want ...string) {
	t.Helper()
	g := describe(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("changes %q, want %q", g, want)
	}
}

// testWatchReplay: every watched write moves Revision forward, and a watch from a revision replays the
// commits after it, in order, each as what it changed (expiries as stored: whole seconds).
func testWatchReplay(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	r0 := s.Revision()
	if err := s.Revoke(ctx, token.Revocation{JTI: "a", Expiry: t0().Add(1500 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	r1 := s.Revision()
	if err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) {
		return []token.SigningKey{key("k1", t0())}, nil
	}); err != nil {
		t.Fatal(err)
	}
	r2 := s.Revision()
	if err := s.Revoke(ctx, token.Revocation{JTI: "b", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	r3 := s.Revision()
	if !(r0 < r1 && r1 < r2 && r2 < r3) {
		t.Fatalf("revisions %d %d %d %d do not grow with each write", r0, r1, r2, r3)
	}
	ts := t0().Add(time.Second).UTC().Format(time.RFC3339)
	sameChanges(t, watchUntil(t, s, r0, r3), "revoke a "+ts, "keys", "revoke b "+t0().Format(time.RFC3339))
	sameChanges(t, watchUntil(t, s, r1, r3), "keys", "revoke b "+t0().Format(time.RFC3339))
	sameChanges(t, watchUntil(t, s, r2, r3), "revoke b "+t0().Format(time.RFC3339))

	// A failed update reports nothing and does not move the revision.
	if err := s.UpdateKeys(ctx, func([]token.SigningKey) ([]token.SigningKey, error) { return nil, errors.New("no") }); err == nil {
		t.Fatal("failing update accepted")
	}
	if err := s.Revoke(ctx, token.Revocation{Expiry: t0()}); err == nil {
		t.Fatal("empty jti accepted")
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "c", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	sameChanges(t, watchUntil(t, s, r3, s.Revision()), "revoke c "+t0().Format(time.RFC3339))
}

// testWatchLive: a watch started at the current revision gets the commits made afterwards.
func testWatchLive(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	from := s.Revision()
	started := make(chan struct{})
	got := make(chan token.Change, 16)
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		close(started)
		done <- s.Watch(c, from, func(b changelog.Batch[token.Change]) error {
			for _, ch := range b.Changes {
				got <- ch
			}
			return nil
		})
	}()
	<-started
	for i := range 3 {
		if err := s.Revoke(ctx, token.Revocation{JTI: fmt.Sprint("live", i), Expiry: t0()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		select {
		case ch := <-got:
			if ch.Revocation == nil || ch.Revocation.JTI != fmt.Sprint("live", i) {
				t.Fatalf("change %d = %+v", i, ch)
			}
		case err := <-done:
			t.Fatalf("watch ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("change %d not delivered", i)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch after cancel: %v", err)
	}
}

// testWatchConcurrentRevocations: concurrent revocations (which may share a commit) are each reported
// exactly once.
func testWatchConcurrentRevocations(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	from := s.Revision()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := s.Revoke(ctx, token.Revocation{JTI: fmt.Sprint("j", i), Expiry: t0()}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, c := range watchUntil(t, s, from, s.Revision()) {
		if c.Revocation == nil {
			t.Fatalf("unexpected change %+v", c)
		}
		seen[c.Revocation.JTI]++
	}
	for i := range 50 {
		if n := seen[fmt.Sprint("j", i)]; n != 1 {
			t.Fatalf("j%d reported %d times", i, n)
		}
	}
	if len(seen) != 50 {
		t.Fatalf("reported %d revocations, want 50", len(seen))
	}
}

// testWatchEnds: Watch returns fn's error as is, the context's error when it ends, and ErrClosed when its
// store value is closed, running or not.
func testWatchEnds(t *testing.T, open func() token.Store) {
	s := open()
	from := s.Revision()
	if err := s.Revoke(ctx, token.Revocation{JTI: "x", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	mine := errors.New("mine")
	if err := s.Watch(ctx, from, func(b changelog.Batch[token.Change]) error {
		if len(b.Changes) == 0 {
			return nil
		}
		return mine
	}); err != mine {
		t.Fatalf("Watch returned %v, want fn's error as is", err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Watch(c, s.Revision(), func(changelog.Batch[token.Change]) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch with ended ctx: %v", err)
	}
	// A running watch ends when its store value is closed.
	running := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		running <- s.Watch(ctx, from, func(b changelog.Batch[token.Change]) error {
			if len(b.Changes) > 0 {
				select {
				case <-started:
				default:
					close(started)
				}
			}
			return nil
		})
	}()
	<-started
	s.Close()
	select {
	case err := <-running:
		if !errors.Is(err, token.ErrClosed) {
			t.Fatalf("running Watch after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("running Watch did not end at Close")
	}
	if err := s.Watch(ctx, from, func(changelog.Batch[token.Change]) error { return nil }); !errors.Is(err, token.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
}

// testWatchIgnoresOthers: writes of records replicas do not cache (sign-in records, the client snapshot,
// sweeps) report no change.
func testWatchIgnoresOthers(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	from := s.Revision()
	if err := s.PutClientSnapshot(ctx, []byte("snap")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, token.Session{ID: h("s"), SID: "sid", UserID: "u", TenantID: "t", Expiry: t0().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SweepRevocations(ctx, t0()); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "last", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	sameChanges(t, watchUntil(t, s, from, s.Revision()), "revoke last "+t0().Format(time.RFC3339))
}

// testRevisionReopen: revisions never go back across a restart, and a watch from a revision before it either
// replays what followed or says the history is gone (changelog.ErrCompacted), never skips silently.
func testRevisionReopen(t *testing.T, open func() token.Store) {
	s := open()
	from := s.Revision()
	if err := s.Revoke(ctx, token.Revocation{JTI: "before", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	before := s.Revision()
	s.Close()
	s = open()
	defer s.Close()
	if r := s.Revision(); r < before {
		t.Fatalf("Revision after reopen %d < %d before", r, before)
	}
	if err := s.Revoke(ctx, token.Revocation{JTI: "after", Expiry: t0()}); err != nil {
		t.Fatal(err)
	}
	after := s.Revision()
	if after <= before {
		t.Fatalf("revision after reopen and a write %d, want > %d", after, before)
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []token.Change
	err := s.Watch(c, from, func(b changelog.Batch[token.Change]) error {
		got = append(got, b.Changes...)
		if b.Revision >= after {
			return errSeen
		}
		return nil
	})
	switch {
	case errors.Is(err, changelog.ErrCompacted):
	case errors.Is(err, errSeen):
		sameChanges(t, got, "revoke before "+t0().Format(time.RFC3339), "revoke after "+t0().Format(time.RFC3339))
	default:
		t.Fatalf("Watch from before the reopen: %v", err)
	}
	// From the revision noted after reopening, the later commit is always delivered.
	sameChanges(t, watchUntil(t, s, before, after), "revoke after "+t0().Format(time.RFC3339))
}
