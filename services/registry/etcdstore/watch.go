package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/changelog"
	"github.com/authsuite/authsuite/services/registry"
)

// Watch implements registry.Store with an etcd watch on the registry's keys from revision from+1 (with the
// previous values, for deleted users, and progress notifications). Each etcd revision that touches the
// registry becomes one batch; one whose keys do not change the registry as readers see it (a seed's staged
// records, the sweep after a tenant delete) becomes a progress report. It follows tenant generations the
// way reads do: a record counts only while its tenant has its generation, and when a tenant appears with a
// new generation the batch also reports the records already written for it (a large seed's). A compacted
// from is changelog.ErrCompacted; Close ends every Watch with ErrClosed.
func (s *Store) Watch(ctx context.Context, from int64, fn func(changelog.Batch[registry.Change]) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-s.done:
			cancel(ErrClosed)
		case <-ctx.Done():
		}
	}()
	err := s.watch(ctx, from, fn)
	if errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	if errors.Is(err, rpctypes.ErrCompacted) {
		// The caller resynchronises from the Revision it notes next: make that one etcd still keeps, or a
		// store value that has written nothing since from would watch from its compacted revision forever.
		if resp, gerr := s.cli.Get(ctx, s.p+"seed", clientv3.WithCountOnly()); gerr == nil {
			s.note(resp.Header.Revision)
		}
		return fmt.Errorf("registry etcdstore: watch from %d: %w", from, changelog.ErrCompacted)
	}
	return err
}

func (s *Store) watch(ctx context.Context, from int64, fn func(changelog.Batch[registry.Change]) error) error {
	d := &decoder{p: s.p, gens: map[string]string{}, records: s.recordsOf}
	if from > 0 {
		if err := s.loadGens(ctx, from, d.gens); err != nil {
			return err
		}
	}
	wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.p, clientv3.WithPrefix(), clientv3.WithRev(from+1),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for wr := range wch {
		if wr.CompactRevision != 0 {
			return rpctypes.ErrCompacted
		}
		if err := wr.Err(); err != nil {
			return err
		}
		if wr.IsProgressNotify() {
			if err := fn(changelog.Batch[registry.Change]{Revision: wr.Header.Revision}); err != nil {
				return err
			}
			continue
		}
		for i := 0; i < len(wr.Events); {
			rev := wr.Events[i].Kv.ModRevision
			j := i
			for j < len(wr.Events) && wr.Events[j].Kv.ModRevision == rev {
				j++
			}
			b, err := d.decode(ctx, rev, wr.Events[i:j])
			if err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
			i = j
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("registry etcdstore: watch ended")
}

// decoder turns the registry's etcd events into changes, knowing every tenant's generation.
type decoder struct {
	p    string            // the registry's key prefix
	gens map[string]string // tenant ID → generation, as of the last decoded revision
	// records reads the clients, users and API resources of a tenant's generation at a revision, as changes.
	records func(ctx context.Context, tid, gen string, rev int64) ([]registry.Change, error)
}

// loadGens reads the tenants' generations at revision rev into gens.
func (s *Store) loadGens(ctx context.Context, rev int64, gens map[string]string) error {
	prefix := s.p + "t/"
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	for {
		resp, err := s.cli.Get(ctx, start, clientv3.WithRange(end), clientv3.WithRev(rev), clientv3.WithLimit(1000))
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			var st storedTenant
			if err := decode(kv, &st); err != nil {
				return err
			}
			gens[strings.TrimPrefix(string(kv.Key), prefix)] = st.Gen
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// decodeAs decodes kv into v and checks that the record names the key it is stored at: named (called after
// decoding) must return want. A record that names another key is corrupt, and an error.
func decodeAs(kv *mvccpb.KeyValue, v any, want string, named func() string) error {
	if err := decode(kv, v); err != nil {
		return err
	}
	if got := named(); got != want {
		return fmt.Errorf("registry etcdstore: record at %q names %q", kv.Key, got)
	}
	return nil
}

// split cuts a per-tenant key into tenant and record ID.
func split(rest string) (tid, id string, ok bool) {
	tid, id, ok = strings.Cut(rest, sep)
	return tid, id, ok
}

// decode turns the events of revision rev into its batch.
func (d *decoder) decode(ctx context.Context, rev int64, events []*clientv3.Event) (changelog.Batch[registry.Change], error) {
	p := d.p
	b := changelog.Batch[registry.Change]{Revision: rev}
	created := map[string]bool{}
	deleted := map[string]string{} // tenant deleted at rev → its generation
	for _, ev := range events {
		id, ok := strings.CutPrefix(string(ev.Kv.Key), p+"t/")
		if !ok || id == "" { // no tenant has an empty ID
			continue
		}
		if ev.Type == mvccpb.DELETE {
			deleted[id] = d.gens[id]
			delete(d.gens, id)
			b.Changes = append(b.Changes, registry.Change{DeletedTenant: id})
			continue
		}
		var st storedTenant
		if err := decodeAs(ev.Kv, &st, id, func() string { return st.ID }); err != nil {
			return b, err
		}
		if d.gens[id] != st.Gen {
			created[id] = true
			d.gens[id] = st.Gen
		}
		b.Changes = append(b.Changes, registry.Change{Tenant: new(st.domain())})
	}
	live := func(tid, gen string) bool { return gen != "" && d.gens[tid] == gen && !created[tid] }
	for _, ev := range events {
		key := string(ev.Kv.Key)
		switch {
		case strings.HasPrefix(key, p+"c/") && ev.Type == mvccpb.PUT:
			var sc storedClient
			if err := decodeAs(ev.Kv, &sc, strings.TrimPrefix(key, p+"c/"), func() string { return sc.ID }); err != nil {
				return b, err
			}
			if live(sc.TenantID, sc.TenantGen) {
				b.Changes = append(b.Changes, registry.Change{Client: new(sc.domain())})
			}
		case strings.HasPrefix(key, p+"tc/") && ev.Type == mvccpb.DELETE && ev.PrevKv != nil:
			tid, cid, ok := split(strings.TrimPrefix(key, p+"tc/"))
			gen := string(ev.PrevKv.Value)
			if gone, ok2 := deleted[tid]; ok && cid != "" && (live(tid, gen) || (ok2 && gen != "" && gen == gone)) {
				b.Changes = append(b.Changes, registry.Change{DeletedClient: cid})
			}
		case strings.HasPrefix(key, p+"u/"):
			if ev.Type == mvccpb.PUT {
				var su storedUser
				if err := decodeAs(ev.Kv, &su, strings.TrimPrefix(key, p+"u/"), func() string { return su.TenantID + sep + su.ID }); err != nil {
					return b, err
				}
				if live(su.TenantID, su.TenantGen) {
					b.Changes = append(b.Changes, registry.Change{User: new(su.domain())})
				}
				continue
			}
			if ev.PrevKv == nil {
				continue
			}
			var su storedUser
			if err := decodeAs(ev.PrevKv, &su, strings.TrimPrefix(key, p+"u/"), func() string { return su.TenantID + sep + su.ID }); err != nil {
				return b, err
			}
			if live(su.TenantID, su.TenantGen) {
				b.Changes = append(b.Changes, registry.Change{DeletedUser: new(su.domain())})
			}
		case strings.HasPrefix(key, p+"r/"):
			ch, err := decodeResource(ev, strings.TrimPrefix(key, p+"r/"), live)
			if err != nil {
				return b, err
			}
			if ch != nil {
				b.Changes = append(b.Changes, *ch)
			}
		}
	}
	for _, tid := range slices.Sorted(maps.Keys(created)) {
		more, err := d.records(ctx, tid, d.gens[tid], rev)
		if err != nil {
			return b, err
		}
		b.Changes = append(b.Changes, more...)
	}
	return b, nil
}

// decodeResource turns the event of API resource key r/<rest> into its change, or nil when the record does
// not count (live says whether a tenant generation does). A deletion is reported with the record it removed,
// so the deletions a tenant delete makes (whose tenant is no longer live) are not.
func decodeResource(ev *clientv3.Event, rest string, live func(tid, gen string) bool) (*registry.Change, error) {
	kv := ev.Kv
	if ev.Type == mvccpb.DELETE {
		if kv = ev.PrevKv; kv == nil {
			return nil, nil
		}
	}
	var sr storedResource
	if err := decodeAs(kv, &sr, rest, func() string { return sr.TenantID + sep + sr.ID }); err != nil {
		return nil, err
	}
	switch {
	case !live(sr.TenantID, sr.TenantGen):
		return nil, nil
	case ev.Type == mvccpb.DELETE:
		return &registry.Change{DeletedResource: &registry.ApiResourceRef{TenantID: sr.TenantID, ID: sr.ID}}, nil
	}
	return &registry.Change{Resource: new(sr.domain())}, nil
}

// recordsOf returns, as changes, the clients, users and API resources of tenant tid's generation gen at
// revision rev.
func (s *Store) recordsOf(ctx context.Context, tid, gen string, rev int64) ([]registry.Change, error) {
	var out []registry.Change
	prefix := s.memberPrefix(tid)
	keys, _, _, err := page(ctx, s, rev, prefix, clientv3.GetPrefixRangeEnd(prefix), int(^uint(0)>>2),
		func(kv *mvccpb.KeyValue, _ int64) (string, bool, error) {
			return s.clientKey(strings.TrimPrefix(string(kv.Key), prefix)), string(kv.Value) == gen, nil
		})
	if err != nil {
		return nil, err
	}
	kvs, _, err := s.getAll(ctx, rev, keys)
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		if kv == nil {
			continue
		}
		var sc storedClient
		if err := decode(kv, &sc); err != nil {
			return nil, err
		}
		out = append(out, registry.Change{Client: new(sc.domain())})
	}
	prefix = s.userPrefix(tid)
	users, _, _, err := page(ctx, s, rev, prefix, clientv3.GetPrefixRangeEnd(prefix), int(^uint(0)>>2),
		func(kv *mvccpb.KeyValue, _ int64) (registry.Change, bool, error) {
			var su storedUser
			if err := decode(kv, &su); err != nil {
				return registry.Change{}, false, err
			}
			return registry.Change{User: new(su.domain())}, su.TenantGen == gen, nil
		})
	if err != nil {
		return nil, err
	}
	prefix = s.resourcePrefix(tid)
	resources, _, _, err := page(ctx, s, rev, prefix, clientv3.GetPrefixRangeEnd(prefix), int(^uint(0)>>2),
		func(kv *mvccpb.KeyValue, _ int64) (registry.Change, bool, error) {
			var sr storedResource
			if err := decode(kv, &sr); err != nil {
				return registry.Change{}, false, err
			}
			return registry.Change{Resource: new(sr.domain())}, sr.TenantGen == gen, nil
		})
	out = append(out, users...)
	return append(out, resources...), err
}
