package etcdstore_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
)

// TestIndexSessionListOnOpen: sessions an older build stored (no list index entry, no marker) are listed
// once a store is opened over them; the marker makes later opens skip the scan.
func TestIndexSessionListOnOpen(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	ctx := context.Background()
	s := open(t, cli, "/old/")
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, se := range []token.Session{
		{ID: []byte("0123456789abcdef0123456789abcdef"), SID: "sid-1", UserID: "u", TenantID: "t", Expiry: exp},
		{ID: []byte("fedcba9876543210fedcba9876543210"), SID: "sid-2", UserID: "v", TenantID: "t", Expiry: exp},
	} {
		if err := s.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	// What an older build left: no index, no marker.
	if _, err := cli.Delete(ctx, "/old/token/s/sl/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "/old/token/m/session-list"); err != nil {
		t.Fatal(err)
	}
	if page, err := s.ListSessions(ctx, token.SessionQuery{TenantID: "t"}); err != nil || len(page.Sessions) != 0 {
		t.Fatalf("without the index: %+v, %v", page, err)
	}
	s2 := open(t, cli, "/old/")
	page, err := s2.ListSessions(ctx, token.SessionQuery{TenantID: "t"})
	if err != nil || len(page.Sessions) != 2 || page.Sessions[0].SID != "sid-1" || page.Sessions[1].SID != "sid-2" {
		t.Fatalf("after open: %+v, %v", page, err)
	}
	resp, err := cli.Get(ctx, "/old/token/m/session-list")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("marker: %v, %v", resp, err)
	}
	// With the marker, an open does not index again: an entry deleted now stays deleted.
	if _, err := cli.Delete(ctx, "/old/token/s/sl/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, cli, "/old/")
	if page, err := s3.ListSessions(ctx, token.SessionQuery{TenantID: "t"}); err != nil || len(page.Sessions) != 0 {
		t.Fatalf("an open with the marker scanned again: %+v, %v", page, err)
	}
}
