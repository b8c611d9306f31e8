package etcdclient

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Requests counts the RPCs an etcd client sends, by full gRPC method name (/etcdserverpb.KV/Range, …): each
// unary call and each retry of it once, each stream once when it opens (a watch or a lease keepalive stream
// is one request however long it lives). It is the metric authsuite_etcd_requests_total{method}; register it
// with the process's metrics (metrics.Metrics.Register). Its methods are safe for concurrent use.
type Requests struct {
	vec      *prometheus.CounterVec
	total    atomic.Uint64
	byMethod sync.Map // full method name → *atomic.Uint64
}

// NewRequests returns a counter at zero.
func NewRequests() *Requests {
	return &Requests{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "authsuite", Name: "etcd_requests_total",
		Help: "RPCs sent to etcd, by full gRPC method name: each unary call and retry once, each stream once when it opens.",
	}, []string{"method"})}
}

// Total is the number of RPCs counted so far, all methods together.
func (r *Requests) Total() uint64 { return r.total.Load() }

// Count is the number of RPCs of one full method name counted so far.
func (r *Requests) Count(method string) uint64 {
	if n, ok := r.byMethod.Load(method); ok {
		return n.(*atomic.Uint64).Load()
	}
	return 0
}

// Describe implements prometheus.Collector.
func (r *Requests) Describe(ch chan<- *prometheus.Desc) { r.vec.Describe(ch) }

// Collect implements prometheus.Collector.
func (r *Requests) Collect(ch chan<- prometheus.Metric) { r.vec.Collect(ch) }

func (r *Requests) inc(method string) {
	r.total.Add(1)
	n, ok := r.byMethod.Load(method)
	if !ok {
		n, _ = r.byMethod.LoadOrStore(method, new(atomic.Uint64))
	}
	n.(*atomic.Uint64).Add(1)
	r.vec.WithLabelValues(method).Inc()
}

func (r *Requests) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	r.inc(method)
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (r *Requests) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	r.inc(method)
	return streamer(ctx, desc, cc, method, opts...)
}
