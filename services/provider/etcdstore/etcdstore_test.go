package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/etcdstore"
	"github.com/authsuite/authsuite/services/provider/storetest"
)

func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) provider.Store {
		s, err := etcdstore.Open(context.Background(), cli, fmt.Sprintf("/suite-%d/", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestWatchCompacted: a watch from a revision etcd compacted away ends with changelog.ErrCompacted.
func TestWatchCompacted(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	s, err := etcdstore.Open(ctx, cli, "/x/")
	if err != nil {
		t.Fatal(err)
	}
	from := s.Revision()
	for i := range 3 {
		if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: provider.ProviderKey{Type: "t", Name: fmt.Sprint(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Compact(ctx, s.Revision()); err != nil {
		t.Fatal(err)
	}
	err = s.Watch(ctx, from, func(changelog.Batch[provider.Change]) error { return nil })
	if !errors.Is(err, changelog.ErrCompacted) {
		t.Fatalf("Watch from a compacted revision = %v, want ErrCompacted", err)
	}
}
