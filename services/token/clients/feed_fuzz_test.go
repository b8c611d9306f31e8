package clients

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// FuzzClientFeed plays fuzzed client feeds (upserts, client deletions, tenant deletions, progress, commits of
// several events, resyncs) through watchOnce and checks the view against a model of the registry (a plain
// map) after every stream:
//   - Get knows exactly the model's clients, with their tenant and name;
//   - HasCORSOrigin answers whether some model client lists the origin (the per-origin counts survive
//     tenant deletions and repeated upserts);
//   - Revision is the revision of the last commit the stream completed (or the last snapshot's), and
//     WaitRevision agrees with it.
func FuzzClientFeed(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 2, 0, 4, 0})
	f.Add([]byte{0, 0x11, 0, 0x22, 1, 0x11, 5, 0, 0, 0x03, 2, 1, 3, 0})
	f.Add([]byte{0, 0x10, 6, 0, 0, 0x20, 2, 0, 5, 0, 0, 0x31})
	ids := []string{"a", "b", "c", "d"}
	tenants := []string{"t1", "t2"}
	origins := []string{"https://one.example", "https://two.example"}
	type model struct {
		tenant, name string
		origins      []string
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 80 {
			ops = ops[:80]
		}
		c := NewCache(Config{})
		want := map[string]model{}
		var rev, completed int64 // the registry's revision; the last revision a stream completed
		var stream []*registryv1.WatchClientsResponse
		open := false // whether the stream's current commit has events not yet marked complete

		snapshot := func() {
			rev++
			stream = nil
			for _, id := range slices.Sorted(maps.Keys(want)) {
				m := want[id]
				stream = append(stream, &registryv1.WatchClientsResponse{Revision: rev, Event: &registryv1.WatchClientsResponse_Upsert{Upsert: &registryv1.ClientRecord{
					Client: &registryv1.Client{ClientId: id, TenantId: m.tenant, ClientName: m.name, AllowedCorsOrigins: m.origins}, TenantCode: m.tenant,
				}}})
			}
			stream = append(stream, &registryv1.WatchClientsResponse{Revision: rev, RevisionComplete: true, Event: &registryv1.WatchClientsResponse_Synced{Synced: true}})
			completed = rev
		}
		// play runs the stream so far through watchOnce (as if the connection then broke) and checks the view.
		play := func() {
			if open { // the stream broke inside a commit: its events are applied, the commit not complete
				open = false
			}
			reg := &scriptRegistry{streams: make(chan *scriptStream, 1)}
			reg.streams <- &scriptStream{events: stream}
			c.cfg.Registry = reg
			c.watchOnce(context.Background())
			for _, id := range ids {
				m, ok := want[id]
				cl, got := c.Get(id)
				if ok != got || ok && (cl.TenantID != m.tenant || cl.Name != m.name) {
					t.Fatalf("client %s: view %+v (%v), registry %+v (%v)", id, cl, got, m, ok)
				}
			}
			for _, o := range origins {
				listed := false
				for _, m := range want {
					listed = listed || slices.Contains(m.origins, o)
				}
				if c.HasCORSOrigin(o) != listed {
					t.Fatalf("HasCORSOrigin(%s) = %v; registry clients list it: %v", o, c.HasCORSOrigin(o), listed)
				}
			}
			if c.Revision() != completed || !reached(c, completed) || reached(c, completed+1) {
				t.Fatalf("Revision() = %d; the stream completed %d", c.Revision(), completed)
			}
		}
		// event appends ev to the current commit; last completes the commit.
		event := func(ev *registryv1.WatchClientsResponse, last bool) {
			if !open {
				rev++
			}
			ev.Revision, ev.RevisionComplete = rev, last
			stream = append(stream, ev)
			open = !last
			if last {
				completed = rev
			}
		}

		snapshot()
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%7, ops[i+1]
			id, tenant := ids[arg&3], tenants[arg>>2&1]
			last := arg>>7 == 0 // most commits are one event; some run on to the next op
			switch op {
			case 0: // upsert (a client keeps its tenant: ids are unique across tenants)
				if m, ok := want[id]; ok {
					tenant = m.tenant
				}
				m := model{tenant: tenant, name: fmt.Sprint("n", arg>>3&3), origins: origins[:arg>>5&3%3]}
				if arg>>5&3 == 3 {
					m.origins = []string{origins[1], origins[1]} // listed twice, counted once
				}
				want[id] = m
				event(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Upsert{Upsert: &registryv1.ClientRecord{
					Client: &registryv1.Client{ClientId: id, TenantId: m.tenant, ClientName: m.name, AllowedCorsOrigins: m.origins}, TenantCode: m.tenant,
				}}}, last)
			case 1: // client deletion
				delete(want, id)
				event(deletedEvent(id), last)
			case 2: // tenant deletion, without its clients' own deletions
				maps.DeleteFunc(want, func(_ string, m model) bool { return m.tenant == tenant })
				event(deletedTenantEv(tenant), last)
			case 3: // progress
				if !open {
					event(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Progress{Progress: true}}, true)
				}
			case 4, 5: // the stream breaks here; the view reconnects and resyncs
				play()
				snapshot()
			case 6: // the same state again, unchanged
				if m, ok := want[id]; ok {
					event(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Upsert{Upsert: &registryv1.ClientRecord{
						Client: &registryv1.Client{ClientId: id, TenantId: m.tenant, ClientName: m.name, AllowedCorsOrigins: m.origins}, TenantCode: m.tenant,
					}}}, last)
				}
			}
		}
		if open { // complete the last commit
			event(&registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_Progress{Progress: true}}, true)
		}
		play()
	})
}

func deletedEvent(id string) *registryv1.WatchClientsResponse {
	return &registryv1.WatchClientsResponse{Event: &registryv1.WatchClientsResponse_DeletedClientId{DeletedClientId: id}}
}
