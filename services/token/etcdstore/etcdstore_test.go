package etcdstore_test

import (
	"bytes"
	"context"
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
	"github.com/authsuite/authsuite/services/token/storetest"
)

// opener opens the store of a path on its own key prefix of the cluster, so every subtest has its own
// data and reopening a path opens a new store value over the same keys; successive opens take the clients
// in turn (two clients: two replicas).
func opener(clis ...*clientv3.Client) storetest.Opener {
	var mu sync.Mutex
	prefixes := map[string]string{}
	opens := 0
	return func(t *testing.T, path string) token.Store {
		mu.Lock()
		p, ok := prefixes[path]
		if !ok {
			p = fmt.Sprintf("/suite-%d/", len(prefixes))
			prefixes[path] = p
		}
		cli := clis[opens%len(clis)]
		opens++
		mu.Unlock()
		s, err := etcdstore.Open(context.Background(), cli, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storetest.Run(t, opener(c.Client(t)))
}

// TestConformanceShared runs the concurrency tests through two clients, as two replicas would.
func TestConformanceShared(t *testing.T) {
	c := etcdtest.Start(t, 3)
	storetest.RunShared(t, opener(c.ClientAt(t, 0), c.ClientAt(t, 1)))
}

func open(t *testing.T, cli *clientv3.Client, prefix string) *etcdstore.Store {
	t.Helper()
	s, err := etcdstore.Open(context.Background(), cli, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestWatchCompacted: a watch from a revision etcd compacted away ends with changelog.ErrCompacted.
func TestWatchCompacted(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	s := open(t, cli, "/x/")
	from := s.Revision()
	for i := range 3 {
		if err := s.Revoke(ctx, token.Revocation{JTI: fmt.Sprint(i), Expiry: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Compact(ctx, s.Revision()); err != nil {
		t.Fatal(err)
	}
	err := s.Watch(ctx, from, func(changelog.Batch[token.Change]) error { return nil })
	if !errors.Is(err, changelog.ErrCompacted) {
		t.Fatalf("Watch from a compacted revision = %v, want ErrCompacted", err)
	}
}

// TestWatchReportsProgress: a watcher learns that it has seen every commit up to a revision made by a write
// it does not watch (a session), without any watched change after it, so a reader waiting for that
// revision is not kept waiting.
func TestWatchReportsProgress(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	a, b := open(t, c.Client(t), "/progress/"), open(t, c.Client(t), "/progress/")
	from := b.Revision()
	if err := a.PutSession(ctx, token.Session{ID: bytes.Repeat([]byte("s"), 32), Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	want := a.Revision()
	if want <= from {
		t.Fatalf("revision %d after a write, %d before", want, from)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	reached := errors.New("reached")
	err := b.Watch(wctx, from, func(batch changelog.Batch[token.Change]) error {
		if len(batch.Changes) > 0 {
			return fmt.Errorf("unexpected changes %+v", batch.Changes)
		}
		if batch.Revision >= want {
			return reached
		}
		return nil
	})
	if err != reached {
		t.Fatalf("watch: %v; want a progress report at or after %d", err, want)
	}
}
