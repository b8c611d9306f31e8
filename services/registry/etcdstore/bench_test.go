package etcdstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/registry"
)

// BenchmarkCreateClient measures admin writes per second on a 3-member etcd cluster: parallel CreateClient
// calls in one tenant (one read transaction and one compare-and-swap transaction each).
func BenchmarkCreateClient(b *testing.B) {
	c := etcdtest.Start(b, 3)
	s := open(b, c)
	ctx := context.Background()
	if _, err := s.CreateTenant(ctx, registry.Tenant{ID: "a", Code: "a"}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cl := registry.DefaultClient()
			cl.ID, cl.TenantID = fmt.Sprintf("c%08d", n.Add(1)), "a"
			if _, err := s.CreateClient(ctx, cl); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
