// Package metrics exports the Prometheus metrics of one authsuite process: gRPC and HTTP traffic, issued
// tokens, errors by OAuth code, bbolt store statistics, the Go runtime and the process.
//
// Every Metrics value owns a private prometheus.Registry; nothing is registered with the global one, so
// several roles (or tests) can live in one process without colliding.
//
// Label values are bounded by construction: gRPC methods are the registered full method names, HTTP routes
// are the fixed templates of RouteOf, HTTP methods outside the standard set are "other", and error codes are
// OAuth error codes or gRPC code names. Request contents never become labels, except the grant type of a
// token request the server accepted.
package metrics

import (
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
)

const namespace = "authsuite"

// latencyBuckets are the request-duration histogram buckets in seconds: from half a millisecond (an
// in-process lookup) to ten seconds (a stuck upstream).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics is the metrics of one process. Its methods are safe for concurrent use. The zero value is not
// usable; call New.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	grpcRequests *prometheus.CounterVec   // method, code
	grpcDuration *prometheus.HistogramVec // method
	httpRequests *prometheus.CounterVec   // route, method, status
	httpDuration *prometheus.HistogramVec // route, method
	tokensIssued *prometheus.CounterVec   // grant_type
	errors       *prometheus.CounterVec   // code

	grpcSeries  *cache[grpcKey, grpcSeries]
	httpSeries  *cache[httpKey, httpSeries]
	tokenSeries *cache[string, prometheus.Counter]
	errorSeries *cache[string, prometheus.Counter]

	stores *storeCollector
}

// New returns the metrics of one process, registered in a fresh private registry together with the Go
// runtime and process collectors. role labels nothing but is exported as authsuite_build_info{role,version}.
func New(role string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		grpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "grpc_requests_total",
			Help: "gRPC requests handled, by full method name and gRPC status code; a stream counts once, when it ends.",
		}, []string{"method", "code"}),
		grpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "grpc_request_duration_seconds",
			Help:    "Time to handle a gRPC request (for a stream: its whole life), by full method name.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests handled, by route template, method and response status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to handle an HTTP request, by route template and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_issued_total",
			Help: "Access tokens issued, by OAuth grant type.",
		}, []string{"grant_type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "errors_total",
			Help: "Failed gRPC requests, by OAuth error code when the status carries one, else by snake_case gRPC code name.",
		}, []string{"code"}),
		stores: newStoreCollector(),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; labels the process's role and the version of its main module.",
		ConstLabels: prometheus.Labels{"role": role, "version": version()},
	})
	buildInfo.Set(1)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.grpcRequests, m.grpcDuration,
		m.httpRequests, m.httpDuration,
		m.tokensIssued, m.errors,
		m.stores,
	)

	m.grpcSeries = newCache(func(k grpcKey) grpcSeries {
		return grpcSeries{
			requests: m.grpcRequests.WithLabelValues(k.method, codeName(k.code)),
			duration: m.grpcDuration.WithLabelValues(k.method),
		}
	})
	m.httpSeries = newCache(func(k httpKey) httpSeries {
		return httpSeries{
			requests: m.httpRequests.WithLabelValues(k.route, k.method, statusLabel(k.status)),
			duration: m.httpDuration.WithLabelValues(k.route, k.method),
		}
	})
	m.tokenSeries = newCache(func(grantType string) prometheus.Counter {
		return m.tokensIssued.WithLabelValues(grantType)
	})
	m.errorSeries = newCache(func(code string) prometheus.Counter {
		return m.errors.WithLabelValues(code)
	})

	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // counts its own errors as promhttp_metric_handler_errors_total
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}))
	return m
}

// Handler serves m's registry in the Prometheus text (or, when asked, OpenMetrics) format. Mount it at
// GET /metrics. It never exposes the global registry.
func (m *Metrics) Handler() http.Handler { return m.handler }

// version is the main module's version from the build info, or "dev" when the binary does not know it
// (tests, go run, builds outside a tagged module).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return "dev"
	}
	return bi.Main.Version
}

// codeName is the gRPC code's name as the code label shows it ("OK", "NotFound", …).
func codeName(c codes.Code) string { return c.String() }

// cache maps a label combination to its resolved series. Reads are a lock-free lookup in an immutable map;
// a miss resolves the series once under a mutex and publishes a copied map (copy-on-write). The key sets are
// small and stop growing after warm-up (methods, routes, codes), so the copies are rare and cheap. Unlike
// sync.Map, looking up a struct key does not box it, so a hit allocates nothing.
type cache[K comparable, V any] struct {
	mu      sync.Mutex
	m       atomic.Pointer[map[K]V]
	resolve func(K) V
}

func newCache[K comparable, V any](resolve func(K) V) *cache[K, V] {
	c := &cache[K, V]{resolve: resolve}
	c.m.Store(&map[K]V{})
	return c
}

// get returns the cached value for k, resolving it on first use.
func (c *cache[K, V]) get(k K) V {
	if v, ok := (*c.m.Load())[k]; ok {
		return v
	}
	return c.slow(k)
}

func (c *cache[K, V]) slow(k K) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if v, ok := old[k]; ok {
		return v
	}
	v := c.resolve(k)
	next := make(map[K]V, len(old)+1)
	for kk, vv := range old {
		next[kk] = vv
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
