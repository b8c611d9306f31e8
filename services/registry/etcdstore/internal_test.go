package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
)

func openAt(t *testing.T, cli *clientv3.Client, prefix string) *Store {
	t.Helper()
	s, err := Open(context.Background(), cli, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seedClient(tenant, id string) registry.Client {
	c := registry.DefaultClient()
	c.ID, c.TenantID = id, tenant
	return c
}

// TestSeedAfterDeadSeeder: a seeder that took the lock, wrote part of a large seed and died leaves nothing
// visible; a seed started meanwhile waits for the lock, and once the dead seeder's lease ends (revoked here,
// as its expiry would) seeds exactly its own records, over the dead one's leftovers.
func TestSeedAfterDeadSeeder(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	ctx := context.Background()
	s := openAt(t, cli, "/dead-seeder/")

	var deadClients []registry.Client
	for i := range 300 {
		deadClients = append(deadClients, seedClient("t", fmt.Sprintf("c%03d", i)))
	}
	_, records, err := s.seedRecords([]registry.Tenant{{ID: "t", Code: "t"}}, deadClients, nil)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := cli.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, s.seedKey(), "dead", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i += 100 { // part of the records, as the dead seeder did before it died
		if _, err := cli.Txn(ctx).Then(ops(records[i : i+100])...).Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetClient(ctx, "c000"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("a client of an unfinished seed is visible: %v", err)
	}
	if items, _, err := s.ListClients(ctx, "", registry.ListOptions{}); err != nil || len(items) != 0 {
		t.Fatalf("clients of an unfinished seed are listed: %d, %v", len(items), err)
	}

	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1)
	mine := []registry.Client{seedClient("t", "c001"), seedClient("t", "mine")}
	for i := range 200 { // large enough to need the lock
		mine = append(mine, seedClient("t", fmt.Sprintf("m%03d", i)))
	}
	go func() {
		ok, err := s.Seed(ctx, []registry.Tenant{{ID: "t", Code: "t"}}, mine, nil)
		done <- result{ok, err}
	}()
	if _, err := s.GetTenant(ctx, "t"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("a seed went ahead while another seeder held the lock: %v", err)
	}
	if _, err := cli.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	if r := <-done; !r.ok || r.err != nil {
		t.Fatalf("Seed after the dead seeder's lease ended = %v, %v", r.ok, r.err)
	}
	var got []string
	after := ""
	for {
		items, next, err := s.ListClients(ctx, "t", registry.ListOptions{Limit: registry.MaxPageSize, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got = append(got, it.ID)
		}
		if after = next; next == "" {
			break
		}
	}
	want := make([]string, len(mine))
	for i, c := range mine {
		want[i] = c.ID
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("tenant after the seed lists %d clients, want the seed's %d", len(got), len(want))
	}
	if _, err := s.GetClient(ctx, "c000"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("the dead seeder's client is visible: %v", err)
	}
	if all, _, _ := s.ListClients(ctx, "", registry.ListOptions{Limit: registry.MaxPageSize}); len(all) != len(mine) {
		t.Fatalf("all clients: %d, want %d", len(all), len(mine))
	}
	if resp, err := cli.Get(ctx, s.seedKey()); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("seed lock left behind: %v, %v", resp, err)
	}
}

// TestLeftoverClientRecords: a client record whose tenant generation is gone (what a crash between a tenant
// delete and its sweep leaves) is absent to every read, does not hold its ID, and the sweep of a later
// delete removes the records it leaves.
func TestLeftoverClientRecords(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	ctx := context.Background()
	s := openAt(t, cli, "/leftover/")
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x", "y"} {
		if _, err := s.CreateClient(ctx, seedClient("a", id)); err != nil {
			t.Fatal(err)
		}
	}
	old := clientToStored(seedClient("a", "z"))
	old.TenantGen = "gone"
	raw, _ := json.Marshal(old)
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut(s.clientKey("z"), string(raw)), clientv3.OpPut(s.memberKey("a", "z"), "gone")).Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetClient(ctx, "z"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("leftover client is visible: %v", err)
	}
	for _, tenant := range []string{"", "a"} {
		items, _, err := s.ListClients(ctx, tenant, registry.ListOptions{})
		if err != nil || len(items) != 2 || items[0].ID != "x" || items[1].ID != "y" {
			t.Fatalf("ListClients(%q) = %v, %v; want x, y", tenant, items, err)
		}
	}
	if _, err := s.UpdateClient(ctx, "z", func(c registry.Client) (registry.Client, error) { return c, nil }); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("UpdateClient of a leftover: %v", err)
	}
	if err := s.DeleteClient(ctx, "z"); !errors.Is(err, apierror.ErrNotFound) {
		t.Fatalf("DeleteClient of a leftover: %v", err)
	}
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "b", Code: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateClient(ctx, seedClient("b", "z")); err != nil {
		t.Fatalf("CreateClient over a leftover: %v", err)
	}
	if got, err := s.GetClient(ctx, "z"); err != nil || got.TenantID != "b" {
		t.Fatalf("client z = %+v, %v; want it in tenant b", got, err)
	}
	deleted, err := s.DeleteTenant(ctx, "a")
	if err != nil || !slices.Equal(deleted, []string{"x", "y"}) {
		t.Fatalf("DeleteTenant(a) = %v, %v; want x, y (not the leftover list entry)", deleted, err)
	}
	resp, err := cli.Get(ctx, s.p+"c/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != s.clientKey("z") {
		t.Fatalf("client records after the delete's sweep: %v, %v; want only z's", resp.Kvs, err)
	}
}

// FuzzDecode feeds the watch decoder one event of any key and value under the registry prefix, with tenant
// "a" live at generation "g1". Oracle: the batch has the event's revision; an error exactly when a record the
// decoder must read is not a valid record; every change has exactly one field set; a client or user change
// belongs to tenant a's generation or to a tenant that appears in this batch (then through the records
// hook, called exactly for tenants that appear with a new generation); a deleted client comes only from a
// client-list key.
func FuzzDecode(f *testing.F) {
	client, _ := json.Marshal(storedClient{ID: "c1", TenantID: "a", TenantGen: "g1"})
	user, _ := json.Marshal(storedUser{ID: "u1", TenantID: "a", TenantGen: "g1"})
	tenant, _ := json.Marshal(storedTenant{ID: "b", Gen: "g2"})
	f.Add(uint8(0), "b", tenant, []byte(nil), false)
	f.Add(uint8(0), "a", tenant, []byte(nil), true)
	f.Add(uint8(1), "c1", client, []byte(nil), false)
	f.Add(uint8(2), "a\x00c1", []byte(nil), []byte("g1"), true)
	f.Add(uint8(3), "a\x00u1", user, user, true)
	f.Add(uint8(3), "a\x00u1", []byte("{"), []byte(nil), false)
	f.Add(uint8(1), "c1", []byte(`{"tenant_id":1}`), []byte(nil), false)
	kinds := []string{"t/", "c/", "tc/", "u/", "ul/", "code/", "seed", ""}
	const p = "/f/registry/"
	f.Fuzz(func(t *testing.T, kind uint8, rest string, value, prev []byte, del bool) {
		hooked := map[string]bool{}
		d := &decoder{p: p, gens: map[string]string{"a": "g1"}, records: func(_ context.Context, tid, gen string, rev int64) ([]registry.Change, error) {
			hooked[tid] = true
			return []registry.Change{{Client: &registry.Client{ID: "hook", TenantID: tid}}}, nil
		}}
		k := kinds[int(kind)%len(kinds)]
		ev := &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(p + k + rest), Value: value, ModRevision: 7}}
		if del {
			ev.Type, ev.Kv.Value = mvccpb.DELETE, nil
			if prev != nil {
				ev.PrevKv = &mvccpb.KeyValue{Key: ev.Kv.Key, Value: prev}
			}
		}
		b, err := d.decode(context.Background(), 7, []*clientv3.Event{ev})
		var (
			wantErr bool
			st      storedTenant
			sc      storedClient
			su      storedUser
		)
		switch {
		case k == "t/" && !del && rest != "":
			wantErr = json.Unmarshal(value, &st) != nil || st.ID != rest
		case k == "c/" && !del:
			wantErr = json.Unmarshal(value, &sc) != nil || sc.ID != rest
		case k == "u/" && !del:
			wantErr = json.Unmarshal(value, &su) != nil || su.TenantID+"\x00"+su.ID != rest
		case k == "u/" && del && prev != nil:
			wantErr = json.Unmarshal(prev, &su) != nil || su.TenantID+"\x00"+su.ID != rest
		}
		if (err != nil) != wantErr {
			t.Fatalf("decode %q %q: error %v, want one: %v", k, rest, err, wantErr)
		}
		if b.Revision != 7 {
			t.Fatalf("batch revision %d", b.Revision)
		}
		if err != nil {
			return
		}
		appeared := map[string]bool{}
		for _, ch := range b.Changes {
			if ch.Tenant != nil {
				created := map[string]string{"a": "g1"}[rest] != st.Gen
				if ch.Tenant.ID != rest || created != hooked[rest] {
					t.Fatalf("tenant change %+v for key %q (gen %q); records hook called: %v", ch.Tenant, rest, st.Gen, hooked)
				}
				appeared[rest] = true
			}
		}
		for _, ch := range b.Changes {
			n := 0
			for _, set := range []bool{ch.Tenant != nil, ch.DeletedTenant != "", ch.Client != nil, ch.DeletedClient != "", ch.User != nil, ch.DeletedUser != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("change with %d fields set: %+v", n, ch)
			}
			switch {
			case ch.Client != nil && ch.Client.ID == "hook":
				if !appeared[ch.Client.TenantID] {
					t.Fatalf("records of tenant %q reported, which did not appear", ch.Client.TenantID)
				}
			case ch.Client != nil || ch.User != nil || ch.DeletedUser != nil:
				var tid string
				switch {
				case ch.Client != nil:
					tid = ch.Client.TenantID
				case ch.User != nil:
					tid = ch.User.TenantID
				default:
					tid = ch.DeletedUser.TenantID
				}
				if tid != "a" {
					t.Fatalf("change of a record of tenant %q, which has no generation: %+v", tid, ch)
				}
			case ch.DeletedClient != "":
				if k != "tc/" || !del || string(prev) != "g1" || rest != "a\x00"+ch.DeletedClient {
					t.Fatalf("deleted client %q from key %q%q (prev %q)", ch.DeletedClient, k, rest, prev)
				}
			case ch.DeletedTenant != "":
				if k != "t/" || !del || ch.DeletedTenant != rest {
					t.Fatalf("deleted tenant %q from key %q%q", ch.DeletedTenant, k, rest)
				}
			}
		}
	})
}
