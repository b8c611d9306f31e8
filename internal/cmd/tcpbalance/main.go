// Command tcpbalance is the small TCP load balancer of docker-compose.cluster.yml: it listens on one address
// and hands each connection to the next of several backends in turn, skipping a backend that refuses the
// connection, so that two gateways answer behind one published port and either may stop. It is layer 4 only
// (bytes in, bytes out; TLS, if any, passes through untouched) and keeps no state between connections.
//
//	tcpbalance -listen 0.0.0.0:8080 -to gateway-1:8080,gateway-2:8080
//
// Each connection tries every backend at most once, starting after the one the previous connection got, with
// a bounded dial timeout; when none answers, the client's connection is closed. At most -max-conns
// connections are served at once; more wait in the kernel's accept queue.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tcpbalance:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("tcpbalance", flag.ContinueOnError)
	listen := fs.String("listen", "0.0.0.0:8080", "address to accept connections on")
	to := fs.String("to", "", "comma-separated backend addresses (host:port)")
	dialTimeout := fs.Duration("dial-timeout", 2*time.Second, "how long to wait for one backend to accept")
	maxConns := fs.Int("max-conns", 4096, "connections served at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	backends, err := parseBackends(*to)
	if err != nil {
		return err
	}
	if *maxConns < 1 {
		return errors.New("-max-conns must be at least 1")
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	b := &balancer{backends: backends, dialTimeout: *dialTimeout, log: slog.New(slog.NewJSONHandler(os.Stderr, nil))}
	b.log.Info("listening", "addr", lis.Addr().String(), "backends", backends)
	return b.serve(ctx, lis, *maxConns)
}

// parseBackends splits a comma-separated list of host:port addresses, refusing an empty list or entry.
func parseBackends(list string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if _, _, err := net.SplitHostPort(a); err != nil || a == "" {
			return nil, fmt.Errorf("-to: %q is not host:port", a)
		}
		out = append(out, a)
	}
	return out, nil
}

type balancer struct {
	backends    []string
	dialTimeout time.Duration
	next        atomic.Uint64
	log         *slog.Logger
}

// serve accepts until ctx ends, then closes the listener and waits for the open connections to finish.
func (b *balancer) serve(ctx context.Context, lis net.Listener, maxConns int) error {
	go func() {
		<-ctx.Done()
		lis.Close()
	}()
	slots := make(chan struct{}, maxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		slots <- struct{}{}
		c, err := lis.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			b.handle(ctx, c)
		}()
	}
}

// dial connects to the first backend that accepts, trying each once, starting with the next in turn.
func (b *balancer) dial(ctx context.Context) (net.Conn, error) {
	start := b.next.Add(1)
	d := net.Dialer{Timeout: b.dialTimeout}
	var last error
	for i := range b.backends {
		addr := b.backends[(start+uint64(i))%uint64(len(b.backends))]
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// handle copies bytes both ways between the client and a backend until both directions are done.
func (b *balancer) handle(ctx context.Context, client net.Conn) {
	defer client.Close()
	backend, err := b.dial(ctx)
	if err != nil {
		b.log.Warn("no backend answers", "client", client.RemoteAddr().String(), "err", err)
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// Pass the half-close on, so a client that finished sending still gets the whole answer.
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	select {
	case <-done:
		<-done
	case <-ctx.Done():
	}
}
