package etcdstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/provider"
	"github.com/authsuite/authsuite/services/provider/etcdstore"
)

// TestValuesThatCannotBeKeysAreRefused: a connector type, provider name or connector id becomes part of
// etcd keys joined with NUL. One holding NUL would share a key range with another provider's (type "a",
// name "b\x00c" and type "a\x00b", name "c" both own c/a NUL b NUL c NUL ...: deleting one would delete the
// other's pending connectors, and one's connectors would count as uses of the other); one that is not
// valid UTF-8 is stored by JSON with U+FFFD, so the watch reports a connector id that is not the one
// changed and no replica drops the cached grant of the real one. The store refuses each as invalid and
// changes nothing.
func TestValuesThatCannotBeKeysAreRefused(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	s, err := etcdstore.Open(ctx, c.Client(t), "/hostile/")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := provider.ProviderKey{Type: "a", Name: "b"}
	if err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: good}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []provider.ProviderKey{{Type: "a", Name: "b\x00c"}, {Type: "a\x00b", Name: "c"}, {Type: "a", Name: "n\xff"}, {Type: "a", Name: ""}} {
		err := s.PutProviders(ctx, []provider.Provider{{ProviderKey: k}})
		if fe := (*apierror.FieldError)(nil); !errors.As(err, &fe) {
			t.Errorf("PutProviders %q: %v, want invalid", k, err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, id := range []string{"c\x00d", "c\xff"} {
		con := provider.Connector{ID: id, Provider: good, Kind: provider.KindSession, TenantID: "default", Owner: "u",
			Status: provider.StatusActive, SealedGrant: []byte("g"), CreateTime: now, UpdateTime: now}
		if err, fe := s.CreateConnector(ctx, con, provider.AuthState{}), (*apierror.FieldError)(nil); !errors.As(err, &fe) {
			t.Errorf("CreateConnector %q: %v, want invalid", id, err)
		}
	}
	ps, err := s.ListProviders(ctx)
	if err != nil || len(ps) != 1 || ps[0].ProviderKey != good || ps[0].Connectors != 0 {
		t.Errorf("providers after the refused writes = %+v, %v; want %v alone, unused", ps, err, good)
	}
	if cs, err := s.ListConnectors(ctx, provider.ConnectorFilter{}); err != nil || len(cs) != 0 {
		t.Errorf("connectors after the refused writes = %+v, %v; want none", cs, err)
	}
}
