package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// The revision barrier ("read your writes" across replicas, README "Running a cluster"): a write answers
// the revision it produced as gRPC response metadata authsuite-revision ("<service>:<n>", e.g.
// "registry:123"), which the gateway answers as the HTTP header Authsuite-Revision; a request carrying that
// header has it forwarded as metadata authsuite-revision on every gRPC call the gateway makes for it, and
// the token service waits until it has applied the named revisions before answering. The gateway passes
// values through unchanged (printable ASCII only): the service that reads them validates them.
const (
	revisionHeader   = "Authsuite-Revision"
	revisionMetadata = "authsuite-revision"
)

// revisionExchange carries one HTTP request's Authsuite-Revision values to the gRPC calls made for it, and
// their answered revisions back to its response.
type revisionExchange struct {
	in []string // the request's header values, as sent
	w  http.ResponseWriter

	mu  sync.Mutex
	out []string // distinct answered values, in arrival order
}

type revisionKey struct{}

// withRevision returns r with a revisionExchange for w in its context: every backend call made with a
// context derived from it (grpc-gateway's handlers and the hand-written ones alike) goes through
// revisionConn, which does the forwarding both ways.
func withRevision(w http.ResponseWriter, r *http.Request) *http.Request {
	x := &revisionExchange{in: r.Header.Values(revisionHeader), w: w}
	return r.WithContext(context.WithValue(r.Context(), revisionKey{}, x))
}

// answered records values answered by a backend and sets the response header to every distinct value so
// far (a request may call more than one service). Once the response has started, the header no longer
// changes (net/http ignores it), which is only the case for calls made after the answer was written.
func (x *revisionExchange) answered(values []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, v := range values {
		if !slices.Contains(x.out, v) {
			x.out = append(x.out, v)
		}
	}
	x.w.Header().Set(revisionHeader, strings.Join(x.out, ", "))
}

// revisionConn is a backend connection that forwards the request's Authsuite-Revision values as metadata
// and answers the backend's authsuite-revision header metadata as the HTTP response header, for unary calls
// made within a request that withRevision prepared. Other calls pass through unchanged. Streams forward the
// request's values only.
type revisionConn struct{ grpc.ClientConnInterface }

func (c revisionConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	x, _ := ctx.Value(revisionKey{}).(*revisionExchange)
	if x == nil {
		return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
	}
	ctx = forwardRevision(ctx, x)
	var header metadata.MD
	err := c.ClientConnInterface.Invoke(ctx, method, args, reply, append(opts, grpc.Header(&header))...)
	if vs := header.Get(revisionMetadata); len(vs) > 0 {
		x.answered(vs)
	}
	return err
}

func (c revisionConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if x, _ := ctx.Value(revisionKey{}).(*revisionExchange); x != nil {
		ctx = forwardRevision(ctx, x)
	}
	return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}

// revisionForwardable reports whether every Authsuite-Revision value can travel as gRPC text metadata
// (printable ASCII, gRPC PROTOCOL-HTTP2 "ASCII-Value"); a call carrying any other value would fail with an
// error that does not name the header.
func revisionForwardable(h http.Header) bool {
	for _, v := range h.Values(revisionHeader) {
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				return false
			}
		}
	}
	return true
}

func forwardRevision(ctx context.Context, x *revisionExchange) context.Context {
	for _, v := range x.in {
		ctx = metadata.AppendToOutgoingContext(ctx, revisionMetadata, v)
	}
	return ctx
}

// outgoingHeaderMatcher is grpc-gateway's default (response metadata k as Grpc-Metadata-k) except for
// authsuite-revision, which revisionConn answers as Authsuite-Revision.
func outgoingHeaderMatcher(key string) (string, bool) {
	if key == revisionMetadata {
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}
