package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type httpKey struct {
	route, method string
	status        int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// HTTPMiddleware counts and times every request next serves (authsuite_http_requests_total,
// authsuite_http_request_duration_seconds) by RouteOf of the request's path as it arrived, its method
// (non-standard methods are "other") and the status next wrote (200 when it wrote none). The
// ResponseWriter handed to next still implements http.Flusher, and Unwrap gives http.ResponseController the
// original. A request whose handler panics is recorded as 500 and the panic goes on.
func (m *Metrics) HTTPMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		path := r.URL.RawPath // set only when the path holds escapes that decoding would lose (%2F)
		if path == "" {
			path = r.URL.Path
		}
		key := httpKey{route: RouteOf(path), method: methodLabel(r.Method)}

		sw := statusWriterPool.Get().(*statusWriter)
		sw.ResponseWriter = w
		finished := false
		defer func() {
			if !finished { // next panicked; do not pool a writer it may still hold
				key.status = http.StatusInternalServerError
				m.observeHTTP(key, start)
			}
		}()
		next.ServeHTTP(sw, r)
		finished = true

		key.status = sw.status
		if key.status == 0 {
			key.status = http.StatusOK
		}
		*sw = statusWriter{}
		statusWriterPool.Put(sw)
		m.observeHTTP(key, start)
	})
}

func (m *Metrics) observeHTTP(key httpKey, start time.Time) {
	s := m.httpSeries.get(key)
	s.requests.Inc()
	s.duration.Observe(time.Since(start).Seconds())
}

// methodLabel keeps the method label's values to the standard methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodTrace:
		return http.MethodTrace
	}
	return "other"
}

// statusLabel is the status label: the three-digit code, or "other" for a code net/http would not send.
func statusLabel(code int) string {
	if code < 100 || code > 999 {
		return "other"
	}
	return strconv.Itoa(code)
}

var statusWriterPool = sync.Pool{New: func() any { return new(statusWriter) }}

// statusWriter records the final status a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int // 0 until a final (non-1xx) header is written
}

// WriteHeader records the first final status; informational 1xx headers pass through unrecorded.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implies a 200 status when none was written.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client, as the wrapped writer's Flush does; it implies a 200 status
// when none was written. It does nothing when the wrapped writer cannot flush.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ http.Flusher = (*statusWriter)(nil)
