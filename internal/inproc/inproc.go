// Package inproc is a gRPC channel inside one process: a grpc.ServiceRegistrar on which services are
// registered exactly as on a grpc.Server, and a grpc.ClientConnInterface that generated stubs call. Calls
// run the same server interceptors and handlers as over the network, but skip HTTP/2 framing and the
// loopback socket. authsuite's all-in-one mode uses it between the gateway and the services, and between
// the services, so each service is still reached only through its gRPC API.
//
// Guarantees: request and response messages are deep-copied across the channel (neither side can alias
// the other's messages); outgoing metadata becomes the handler's incoming metadata, plus the channel's
// fixed metadata; grpc.Method(ctx) names the full method, as on a grpc.Server; a cancelled caller context cancels the handler; unary and streaming RPCs are supported.
// Headers and trailers a unary handler sets (grpc.SetHeader, grpc.SendHeader, grpc.SetTrailer) reach a
// caller that asked with grpc.Header or grpc.Trailer, whether the call succeeded or not; streams' headers
// and trailers are not delivered.
package inproc

import (
	"context"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Channel is safe for concurrent use once every service is registered; register before taking views
// with WithMetadata.
type Channel struct {
	unary  grpc.UnaryServerInterceptor
	stream grpc.StreamServerInterceptor
	fixed  metadata.MD

	methods map[string]unaryMethod  // "/pkg.Service/Method"
	streams map[string]streamMethod // "/pkg.Service/Method"
}

type unaryMethod struct {
	impl    any
	handler grpc.MethodHandler
}

type streamMethod struct {
	impl any
	desc grpc.StreamDesc
}

// New returns a channel whose handlers run behind the given interceptors (either may be nil). Every call
// carries fixed as incoming metadata (for example the suite's internal credential).
func New(unary grpc.UnaryServerInterceptor, stream grpc.StreamServerInterceptor, fixed metadata.MD) *Channel {
	return &Channel{unary: unary, stream: stream, fixed: fixed, methods: map[string]unaryMethod{}, streams: map[string]streamMethod{}}
}

// WithMetadata returns a view of the channel, sharing its services, whose calls carry fixed instead.
func (c *Channel) WithMetadata(fixed metadata.MD) *Channel {
	v := *c
	v.fixed = fixed
	return &v
}

// RegisterService implements grpc.ServiceRegistrar.
func (c *Channel) RegisterService(desc *grpc.ServiceDesc, impl any) {
	for _, m := range desc.Methods {
		c.methods["/"+desc.ServiceName+"/"+m.MethodName] = unaryMethod{impl: impl, handler: m.Handler}
	}
	for _, s := range desc.Streams {
		c.streams["/"+desc.ServiceName+"/"+s.StreamName] = streamMethod{impl: impl, desc: s}
	}
}

// serverContext turns the caller's outgoing metadata into the handler's incoming metadata, and names the
// method as a grpc.Server does, so that grpc.Method(ctx) answers the full method ("/pkg.Service/Method") in
// every interceptor and handler, as over the network.
func (c *Channel) serverContext(ctx context.Context, method string) context.Context {
	out, _ := metadata.FromOutgoingContext(ctx)
	md := metadata.Join(out, c.fixed)
	// Drop the caller's outgoing metadata so a handler that calls onward does not forward it by accident.
	ctx = metadata.NewIncomingContext(metadata.NewOutgoingContext(ctx, nil), md)
	return grpc.NewContextWithServerTransportStream(ctx, &transportStream{method: method})
}

// transportStream is the grpc.ServerTransportStream of an in-process call: it names the method and collects
// the headers and trailers the handler sets, which Invoke hands to the caller's grpc.Header and grpc.Trailer
// options.
type transportStream struct {
	method string

	mu              sync.Mutex
	header, trailer metadata.MD
}

func (t *transportStream) Method() string { return t.method }

func (t *transportStream) SetHeader(md metadata.MD) error {
	t.mu.Lock()
	t.header = metadata.Join(t.header, md)
	t.mu.Unlock()
	return nil
}

func (t *transportStream) SendHeader(md metadata.MD) error { return t.SetHeader(md) }

func (t *transportStream) SetTrailer(md metadata.MD) error {
	t.mu.Lock()
	t.trailer = metadata.Join(t.trailer, md)
	t.mu.Unlock()
	return nil
}

// deliver copies what the handler set into the caller's grpc.Header and grpc.Trailer options.
func (t *transportStream) deliver(opts []grpc.CallOption) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = t.header.Copy()
		case *grpc.HeaderCallOption:
			*o.HeaderAddr = t.header.Copy()
		case grpc.TrailerCallOption:
			*o.TrailerAddr = t.trailer.Copy()
		case *grpc.TrailerCallOption:
			*o.TrailerAddr = t.trailer.Copy()
		}
	}
}

// Invoke implements grpc.ClientConnInterface for unary RPCs.
func (c *Channel) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	m, ok := c.methods[method]
	if !ok {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	dec := func(into any) error { return copyMessage(into, args) }
	sctx := c.serverContext(ctx, method)
	resp, err := m.handler(m.impl, sctx, dec, c.unary)
	grpc.ServerTransportStreamFromContext(sctx).(*transportStream).deliver(opts)
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			return status.Error(codes.Unknown, err.Error())
		}
		return err
	}
	return copyMessage(reply, resp)
}

func copyMessage(dst, src any) error {
	d, ok1 := dst.(proto.Message)
	s, ok2 := src.(proto.Message)
	if !ok1 || !ok2 {
		return status.Errorf(codes.Internal, "inproc: %T or %T is not a proto message", dst, src)
	}
	proto.Reset(d)
	proto.Merge(d, s)
	return nil
}

// NewStream implements grpc.ClientConnInterface for streaming RPCs: the handler runs in its own goroutine,
// connected to the returned stream by channels.
func (c *Channel) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	m, ok := c.streams[method]
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	sctx, cancel := context.WithCancel(c.serverContext(ctx, method))
	p := &pipe{
		ctx:    sctx,
		cancel: cancel,
		reqs:   make(chan proto.Message, 1),
		resps:  make(chan proto.Message, 16),
		done:   make(chan struct{}),
	}
	info := &grpc.StreamServerInfo{FullMethod: method, IsClientStream: desc.ClientStreams, IsServerStream: desc.ServerStreams}
	go func() {
		defer cancel()
		var err error
		ss := (*serverSide)(p)
		if c.stream != nil {
			err = c.stream(m.impl, ss, info, m.desc.Handler)
		} else {
			err = m.desc.Handler(m.impl, ss)
		}
		if err != nil {
			if _, ok := status.FromError(err); !ok {
				err = status.Error(codes.Unknown, err.Error())
			}
		}
		p.err = err
		close(p.done)
	}()
	return (*clientSide)(p), nil
}

// pipe connects a client stream and a server stream.
type pipe struct {
	ctx    context.Context
	cancel context.CancelFunc
	reqs   chan proto.Message
	resps  chan proto.Message
	done   chan struct{} // closed when the handler returned; err is then set
	err    error

	closeSend sync.Once
}

// clientSide is the caller's end.
type clientSide pipe

func (c *clientSide) Header() (metadata.MD, error) { return nil, nil }
func (c *clientSide) Trailer() metadata.MD         { return nil }
func (c *clientSide) Context() context.Context     { return c.ctx }

func (c *clientSide) CloseSend() error {
	c.closeSend.Do(func() { close(c.reqs) })
	return nil
}

func (c *clientSide) SendMsg(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "inproc: %T is not a proto message", m)
	}
	select {
	case c.reqs <- proto.Clone(msg):
		return nil
	case <-c.done:
		return io.EOF
	case <-c.ctx.Done():
		return status.FromContextError(c.ctx.Err()).Err()
	}
}

func (c *clientSide) RecvMsg(m any) error {
	select {
	case msg := <-c.resps:
		return copyMessage(m, msg)
	case <-c.done:
		return c.finish(m)
	case <-c.ctx.Done():
		select {
		case <-c.done: // the handler returned and its context ended with it: report its outcome
			return c.finish(m)
		default:
			return status.FromContextError(c.ctx.Err()).Err()
		}
	}
}

// finish delivers what the handler sent before it returned, then its error, or io.EOF after success.
func (c *clientSide) finish(m any) error {
	select {
	case msg := <-c.resps:
		return copyMessage(m, msg)
	default:
	}
	if c.err != nil {
		return c.err
	}
	return io.EOF
}

// serverSide is the handler's end.
type serverSide pipe

func (s *serverSide) SetHeader(metadata.MD) error  { return nil }
func (s *serverSide) SendHeader(metadata.MD) error { return nil }
func (s *serverSide) SetTrailer(metadata.MD)       {}
func (s *serverSide) Context() context.Context     { return s.ctx }

func (s *serverSide) SendMsg(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("inproc: %T is not a proto message", m)
	}
	select {
	case s.resps <- proto.Clone(msg):
		return nil
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}

func (s *serverSide) RecvMsg(m any) error {
	select {
	case msg, ok := <-s.reqs:
		if !ok {
			return io.EOF
		}
		return copyMessage(m, msg)
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	}
}
