// Package httplimit bounds what clients can hold of an HTTP server: a listener that caps open connections
// and keeps a share of them for health checks, so that slow or idle clients that exhaust the cap (together
// with the server's read, write and idle timeouts, which end them) can never make /healthz and /readyz
// unreachable to the orchestrator.
//
// Connections up to max-reserve are ordinary. The next reserve connections are accepted too, but may only
// ask for the health paths: any other request is answered 503 with Retry-After and the connection is closed,
// which frees the slot at once. Beyond max, a connection is closed as soon as it is accepted, so the process
// never holds more than max client sockets. A client that opens a reserved connection and stays silent holds
// it until the server's ReadHeaderTimeout.
package httplimit

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Listener caps the open connections of an http.Server. Use it with the server's ConnContext set to
// ConnContext and its handler wrapped by Handler.
type Listener struct {
	net.Listener
	max, reserve int64
	active       atomic.Int64
	refused      atomic.Int64
}

// NewListener wraps l: at most limit connections are open at once, of which the last reserve may only
// serve the health paths. limit is at least 2; reserve is clamped to [1, limit-1].
func NewListener(l net.Listener, limit, reserve int) *Listener {
	limit = max(limit, 2)
	reserve = min(max(reserve, 1), limit-1)
	return &Listener{Listener: l, max: int64(limit), reserve: int64(reserve)}
}

// Accept returns the next connection within the cap; connections beyond it are closed and skipped.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.active.Add(1)
		if n > l.max {
			l.active.Add(-1)
			l.refused.Add(1)
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l, reserved: n > l.max-l.reserve}, nil
	}
}

// Active is the number of open connections.
func (l *Listener) Active() int64 { return l.active.Load() }

// Refused is the number of connections closed on accept because the cap was reached.
func (l *Listener) Refused() int64 { return l.refused.Load() }

type conn struct {
	net.Conn
	l        *Listener
	reserved bool
	once     sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.l.active.Add(-1) })
	return c.Conn.Close()
}

type ctxKey struct{}

// ConnContext is the http.Server ConnContext hook that lets Handler see whether a request came on a
// reserved connection.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*conn); ok && lc.reserved {
		return context.WithValue(ctx, ctxKey{}, true)
	}
	return ctx
}

// Handler serves requests on reserved connections only when their path is one of healthPaths; others get
// 503, Retry-After: 1 and Connection: close.
func Handler(next http.Handler, healthPaths ...string) http.Handler {
	allowed := map[string]bool{}
	for _, p := range healthPaths {
		allowed[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reserved, _ := r.Context().Value(ctxKey{}).(bool); reserved && !allowed[r.URL.Path] {
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"the server has too many open connections; try again"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
