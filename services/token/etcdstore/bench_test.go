package etcdstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token/etcdstore"
	"github.com/authsuite/authsuite/services/token/storetest"
)

var benchPrefix atomic.Int64

func benchStore(b *testing.B, cli *clientv3.Client) *etcdstore.Store {
	s, err := etcdstore.Open(context.Background(), cli, fmt.Sprintf("/bench-%d/", benchPrefix.Add(1)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkRevoke: revocations per second on a 3-member cluster (compare bboltstore's).
func BenchmarkRevoke(b *testing.B) {
	cli := etcdtest.Start(b, 3).Client(b)
	storetest.BenchRevoke(b, benchStore(b, cli))
}

// BenchmarkConsumeCode: code redemptions per second on a 3-member cluster (compare bboltstore's).
func BenchmarkConsumeCode(b *testing.B) {
	cli := etcdtest.Start(b, 3).Client(b)
	storetest.BenchConsumeCode(b, benchStore(b, cli))
}

// BenchmarkExpiry compares the two ways records could expire on etcd: the expiry index this store writes (a
// second key in the record's transaction), and a lease per record (a grant, then the put attached to it).
func BenchmarkExpiry(b *testing.B) {
	ctx := context.Background()
	cli := etcdtest.Start(b, 3).Client(b)
	var n atomic.Int64
	b.Run("index", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if _, err := cli.Txn(ctx).Then(clientv3.OpPut(fmt.Sprint("/x/rec/", i), "v"), clientv3.OpPut(fmt.Sprint("/x/idx/", time.Now().Unix(), "/", i), "")).Commit(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("lease", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				l, err := cli.Grant(ctx, 3600)
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := cli.Put(ctx, fmt.Sprint("/x/rec/", i), "v", clientv3.WithLease(l.ID)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRevocations100k: reading 100,000 revocations (what a replica reads once when it starts), loaded
// beforehand through raw transactions in the store's layout.
func BenchmarkRevocations100k(b *testing.B) {
	ctx := context.Background()
	cli := etcdtest.Start(b, 3).Client(b)
	s := benchStore(b, cli)
	const n, perTxn = 100_000, 64
	exp := string([]byte{0, 0, 0, 0, 0x7f, 0, 0, 0})
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for start := 0; start < n; start += perTxn {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var ops []clientv3.Op
			for i := start; i < min(start+perTxn, n); i++ {
				ops = append(ops, clientv3.OpPut(fmt.Sprintf("/bench-%d/token/w/r/jti-%07d", benchPrefix.Load(), i), exp))
			}
			if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.ResetTimer()
	for b.Loop() {
		revs, err := s.Revocations(ctx)
		if err != nil || len(revs) != n {
			b.Fatalf("%d revocations, %v", len(revs), err)
		}
	}
}
