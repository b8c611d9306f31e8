package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/authsuite/authsuite/internal/apierror"
)

// The revision barrier lets a client read its own writes at any replica. A write answers the revision it
// produced as response metadata RevisionMetadata ("registry:123" from the registry's admin API, "token:45"
// from a revocation here; the REST gateway answers it as the HTTP header Authsuite-Revision). A request that
// carries such values (the gateway forwards the request header as the metadata) makes every token RPC wait,
// before doing any work, until this replica has applied them: registry:n to its client view, token:n to its
// revocation and signing-key views. The wait is bounded by the request's deadline and by MaxRevisionWait.
//
// Only revocations answer a token revision (recordRevocation): they are the token service's only writes
// that replicas hold in memory. Sign-in state (interactions, sessions, codes, refresh tokens, consents,
// login failures) is read from the store on every request, so a logout or a redemption at one replica is
// seen by the next request at any other without a barrier.
const (
	// RevisionMetadata is the metadata key of the barrier, in requests and in answers.
	RevisionMetadata = "authsuite-revision"
	// MaxRevisionWait bounds how long a request waits for a revision; then it fails UNAVAILABLE.
	MaxRevisionWait = 5 * time.Second
	// revisionField names the barrier in errors as the REST client sent it.
	revisionField = "Authsuite-Revision"
	// maxBarrierWaits bounds the requests waiting at the barrier at once on one replica. The header is the
	// caller's to set, public calls included, so waits are a resource an attacker could otherwise pile up;
	// beyond the bound a request that would wait is refused at once with UNAVAILABLE and a retry hint.
	maxBarrierWaits = 64
)

// revisionWant is what a request's barrier asks: the registry and token revisions to have applied (0: none).
type revisionWant struct {
	registry, token int64
}

// maxServiceName bounds a service name in a barrier value.
const maxServiceName = 32

// parseRevisions parses the values of RevisionMetadata. Each value is a comma-separated list (RFC 9110
// §5.6.1: empty elements and spaces or tabs around elements are allowed) of <service>:<n>, where service is 1
// to 32 ASCII letters, digits, '-' or '_' (matched without regard to case) and n is a decimal revision of at
// most 19 digits that fits an int64. registry and token are read (the largest n when named more than once);
// other services are ignored. Anything else is an error naming the header, and the request is refused.
func parseRevisions(values []string) (revisionWant, error) {
	var w revisionWant
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			elem = strings.Trim(elem, " \t")
			if elem == "" {
				continue
			}
			service, num, ok := strings.Cut(elem, ":")
			if !ok || !validServiceName(service) {
				return revisionWant{}, apierror.Invalid(revisionField, "%q is not <service>:<revision>", apierror.Clip(elem, 64))
			}
			n, err := parseRevisionNumber(num)
			if err != nil {
				return revisionWant{}, apierror.Invalid(revisionField, "%q: %v", apierror.Clip(elem, 64), err)
			}
			switch strings.ToLower(service) {
			case "registry":
				w.registry = max(w.registry, n)
			case "token":
				w.token = max(w.token, n)
			}
		}
	}
	return w, nil
}

func validServiceName(s string) bool {
	if s == "" || len(s) > maxServiceName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func parseRevisionNumber(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, errors.New("the revision must be 1 to 19 decimal digits")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("the revision must be decimal digits")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("the revision is out of range")
	}
	return n, nil
}

// awaitRevisions is the barrier of one request: it parses the request's RevisionMetadata and waits until the
// client view has applied the registry revision and the revocation and key views the token revision, for at
// most MaxRevisionWait and the request's deadline. It returns at once when the request asks nothing or the
// revisions are applied already (the common case: one mutex each, no I/O).
func (s *Server) awaitRevisions(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(RevisionMetadata)
	if len(values) == 0 {
		return nil
	}
	w, err := parseRevisions(values)
	if err != nil {
		return err
	}
	if (w.registry == 0 || s.clientsView.Revision() >= w.registry) && (w.token == 0 || s.applied.Get() >= w.token) {
		return nil
	}
	// A token revision newer than the store's whole history was never produced: refuse it at once rather
	// than hold the request (one read of the store's latest revision, only on this slow path).
	if w.token > s.applied.Get() {
		if latest, err := s.latestTokenRevision(ctx); err == nil && w.token > latest {
			return apierror.Invalid(revisionField, "token revision %d was never produced (the latest is %d)", w.token, latest)
		}
	}
	select {
	case s.barrierWaits <- struct{}{}:
		defer func() { <-s.barrierWaits }()
	default:
		return apierror.Overloaded(time.Second, "too many requests are waiting for revisions at this replica; retry")
	}
	// Answer before the caller's deadline, so that it learns why (UNAVAILABLE naming the revision) instead
	// of seeing its own DEADLINE_EXCEEDED.
	budget := MaxRevisionWait
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d)*4/5)
	}
	wctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if w.registry > 0 {
		if err := s.clientsView.WaitRevision(wctx, w.registry); err != nil {
			return s.notApplied(ctx, "registry", w.registry, s.clientsView.Revision())
		}
	}
	if w.token > 0 {
		if err := s.applied.Wait(wctx, w.token); err != nil {
			return s.notApplied(ctx, "token", w.token, s.applied.Get())
		}
	}
	return nil
}

// latestTokenRevision is the newest revision of the token store's history (token.Store.LatestRevision).
func (s *Server) latestTokenRevision(ctx context.Context) (int64, error) {
	return s.st.LatestRevision(ctx)
}

// notApplied is the answer of a barrier that timed out: UNAVAILABLE naming the revision (a retry may pass
// once the replica caught up), or the caller's own cancellation.
func (s *Server) notApplied(ctx context.Context, service string, want, have int64) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return apierror.Overloaded(time.Second, "%s revision %d is not applied at this replica yet (it has %d); retry", service, want, have)
}

// answerRevision adds token:<rev> to the response metadata RevisionMetadata, so that the client can ask any
// replica to have applied the write. Outside a gRPC call it does nothing.
func answerRevision(ctx context.Context, rev int64) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(RevisionMetadata, fmt.Sprintf("token:%d", rev)))
}

// revisionView is a view of another store that knows the revision it has applied: the client view
// (package clients) for the registry.
type revisionView interface {
	Revision() int64
	WaitRevision(ctx context.Context, n int64) error
}

// barrierRegistrar registers services with every unary method behind the server's revision barrier. The
// barrier runs innermost, after the registrar's own interceptors (the credential guard, error mapping), so
// an unauthenticated call never waits and barrier errors are mapped like any other.
type barrierRegistrar struct {
	grpc.ServiceRegistrar
	s *Server
}

func (r barrierRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		m.Handler = r.s.behindBarrier(m.Handler)
		d.Methods[i] = m
	}
	r.ServiceRegistrar.RegisterService(&d, impl)
}

// behindBarrier wraps a generated method handler so that awaitRevisions runs inside the interceptor chain,
// just before the method.
func (s *Server) behindBarrier(h grpc.MethodHandler) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		barrier := func(ctx context.Context, req any, handler grpc.UnaryHandler) (any, error) {
			if err := s.awaitRevisions(ctx); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}
		return h(srv, ctx, dec, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if ic == nil {
				return barrier(ctx, req, handler)
			}
			return ic(ctx, req, info, func(ctx context.Context, req any) (any, error) { return barrier(ctx, req, handler) })
		})
	}
}
