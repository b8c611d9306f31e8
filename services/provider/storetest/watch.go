package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/provider"
)

// describe renders a change for comparison: "provider t/n", "connector id status holder", "deleted id".
func describe(ch provider.Change) string {
	switch {
	case ch.Provider != nil:
		return "provider " + ch.Provider.String()
	case ch.Connector != nil:
		return fmt.Sprintf("connector %s %s %q %d", ch.Connector.ID, ch.Connector.Status, ch.Connector.RefreshHolder, len(ch.Connector.SealedGrant))
	default:
		return "deleted " + ch.DeletedConnector
	}
}

// watched is a running Watch whose batches arrive on c.
type watched struct {
	c    chan changelog.Batch[provider.Change]
	errc chan error
}

func watch(t *testing.T, s provider.Store, from int64) *watched {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watched{c: make(chan changelog.Batch[provider.Change], 1024), errc: make(chan error, 1)}
	go func() {
		w.errc <- s.Watch(ctx, from, func(b changelog.Batch[provider.Change]) error {
			w.c <- b
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-w.errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch ended with %v, want context.Canceled", err)
		}
	})
	return w
}

// until receives batches until one at or after rev, and returns the batches with changes. It fails the
// test when revisions do not grow or nothing arrives within 10 s.
func (w *watched) until(t *testing.T, last, rev int64) []changelog.Batch[provider.Change] {
	t.Helper()
	var out []changelog.Batch[provider.Change]
	timeout := time.After(10 * time.Second)
	for last < rev {
		select {
		case b := <-w.c:
			if b.Revision <= last && len(b.Changes) > 0 || b.Revision < last {
				t.Fatalf("batch at revision %d after %d", b.Revision, last)
			}
			last = b.Revision
			if len(b.Changes) > 0 {
				out = append(out, b)
			}
		case err := <-w.errc:
			t.Fatalf("Watch ended: %v", err)
		case <-timeout:
			t.Fatalf("no batch at or after revision %d within 10 s (last %d)", rev, last)
		}
	}
	return out
}

// testWatch: every write of a provider or a connector is reported, in order, in the commit it made; the
// store's Revision covers every acknowledged write; a watch from a later revision starts after it.
func testWatch(t *testing.T, s provider.Store) {
	ctx := context.Background()
	start := s.Revision()
	w := watch(t, s, start)
	p := prov("github", "GitHub", "a")
	k := p.ProviderKey
	type step struct {
		name string
		do   func() error
		want []string // the commit's changes, sorted; nil when it reports none
	}
	steps := []step{
		{"PutProviders", func() error { return s.PutProviders(ctx, []provider.Provider{p, prov("box", "Box", "b")}) },
			[]string{"provider box/Box", "provider github/GitHub"}},
		{"CreateConnector", func() error {
			return s.CreateConnector(ctx, conn("c1", k, "u"), provider.AuthState{Hash: provider.HashState("s1", "b"), Expiry: t0.Add(time.Hour)})
		}, []string{`connector c1 pending "" 0`}},
		{"PutAuthState", func() error {
			return s.PutAuthState(ctx, provider.AuthState{Hash: provider.HashState("s2", "b"), ConnectorID: "c1", Expiry: t0.Add(time.Hour)})
		}, nil},
		{"UpdateConnector", func() error {
			_, err := s.UpdateConnector(ctx, "c1", func(c provider.Connector) (provider.Connector, error) {
				c.Status, c.SealedGrant = provider.StatusActive, []byte("grant")
				return c, nil
			})
			return err
		}, []string{`connector c1 active "" 5`}},
		{"ClaimRefresh", func() error { _, _, err := s.ClaimRefresh(ctx, "c1", "h1", t0, t0.Add(time.Minute)); return err },
			[]string{`connector c1 active "h1" 5`}},
		{"ClaimRefresh held", func() error { _, _, err := s.ClaimRefresh(ctx, "c1", "h2", t0, t0.Add(time.Minute)); return err }, nil},
		{"ReleaseRefresh", func() error { return s.ReleaseRefresh(ctx, "c1", "h1") }, []string{`connector c1 active "" 5`}},
		{"TakeAuthState", func() error { _, err := s.TakeAuthState(ctx, provider.HashState("s2", "b")); return err }, nil},
		{"DropGrants", func() error { _, err := s.DropGrants(ctx, provider.ConnectorFilter{Name: "GitHub"}, t0); return err },
			[]string{`connector c1 revoked "" 0`}},
		{"CreateConnector c2", func() error { return s.CreateConnector(ctx, conn("c2", k, "u"), provider.AuthState{}) },
			[]string{`connector c2 pending "" 0`}},
		{"DeleteConnector", func() error { _, err := s.DeleteConnector(ctx, "c1"); return err }, []string{"deleted c1"}},
		{"SweepPendingConnectors", func() error { _, err := s.SweepPendingConnectors(ctx, t0.Add(time.Minute)); return err },
			[]string{"deleted c2"}},
		{"CreateConnector c3", func() error { return s.CreateConnector(ctx, conn("c3", k, "u"), provider.AuthState{}) },
			[]string{`connector c3 pending "" 0`}},
		{"CreateConnector c4", func() error { return s.CreateConnector(ctx, conn("c4", k, "u"), provider.AuthState{}) },
			[]string{`connector c4 pending "" 0`}},
		{"DeleteProvider", func() error { return s.DeleteProvider(ctx, k) },
			[]string{"deleted c3", "deleted c4", "provider github/GitHub"}},
	}
	last := start
	var revs []int64 // Revision() after each reporting step
	var wants [][]string
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		rev := s.Revision()
		if rev < last || (st.want != nil && rev == last) {
			t.Fatalf("%s: Revision %d after %d", st.name, rev, last)
		}
		last = rev
		if st.want != nil {
			revs = append(revs, rev)
			wants = append(wants, st.want)
		}
	}
	got := w.until(t, start, last)
	if len(got) != len(wants) {
		var all []string
		for _, b := range got {
			all = append(all, fmt.Sprint(b.Revision, describeAll(b.Changes)))
		}
		t.Fatalf("%d commits reported, want %d:\n%s", len(got), len(wants), strings.Join(all, "\n"))
	}
	for i, b := range got {
		if d := describeAll(b.Changes); fmt.Sprint(d) != fmt.Sprint(wants[i]) {
			t.Errorf("commit %d (revision %d) reported %q, want %q", i, b.Revision, d, wants[i])
		}
		if b.Revision > revs[i] {
			t.Errorf("commit %d reported at revision %d, but Revision() after it acknowledged was %d", i, b.Revision, revs[i])
		}
	}
	// Batches are the watcher's: changing one changes neither the store nor another watcher's copy.
	got[1].Changes[0].Connector.Owner = "changed"
	// A watch from the revision of the UpdateConnector commit starts with the ClaimRefresh commit.
	again := watch(t, s, got[2].Revision).until(t, got[2].Revision, got[3].Revision)
	if len(again) != 1 || fmt.Sprint(describeAll(again[0].Changes)) != fmt.Sprint(wants[3]) || again[0].Revision != got[3].Revision {
		t.Fatalf("watch from revision %d: %v", got[2].Revision, again)
	}
	replay := watch(t, s, start).until(t, start, got[1].Revision)
	if replay[1].Changes[0].Connector.Owner != "u" {
		t.Fatal("a watcher's batch shares memory with another watcher's")
	}
}

func describeAll(chs []provider.Change) []string {
	var out []string
	for _, ch := range chs {
		out = append(out, describe(ch))
	}
	slices.Sort(out)
	return out
}
