package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// namedEcho answers every line it reads with its name and the line, until the client hangs up.
func namedEcho(t *testing.T, name string) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s %s\n", name, sc.Text())
				}
			}()
		}
	}()
	return lis
}

func startBalancer(t *testing.T, backends ...string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &balancer{backends: backends, dialTimeout: 1e9, log: discard()}
	done := make(chan error, 1)
	go func() { done <- b.serve(ctx, lis, 8) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return lis.Addr().String()
}

func ask(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, line)
	c.(*net.TCPConn).CloseWrite()
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSpace(answer)
}

// TestAlternatesAndSkipsDeadBackends: connections go to the backends in turn; a backend that refuses
// connections is skipped, so every connection is answered while one backend lives.
func TestAlternatesAndSkipsDeadBackends(t *testing.T) {
	a, b := namedEcho(t, "a"), namedEcho(t, "b")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	addr := startBalancer(t, a.Addr().String(), deadAddr, b.Addr().String())
	seen := map[string]int{}
	for i := range 12 {
		got := ask(t, addr, fmt.Sprint(i))
		name, rest, _ := strings.Cut(got, " ")
		if rest != fmt.Sprint(i) {
			t.Fatalf("connection %d answered %q", i, got)
		}
		seen[name]++
	}
	if seen["a"] < 4 || seen["b"] < 4 {
		t.Fatalf("answers per backend %v: want both used about evenly", seen)
	}
	a.Close()
	for i := range 4 {
		if got := ask(t, addr, "x"); got != "b x" {
			t.Fatalf("after a stopped, connection %d answered %q, want b", i, got)
		}
	}
}

// TestNoBackend: with every backend down the client's connection is closed, and the balancer keeps serving.
func TestNoBackend(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := startBalancer(t, dead.Addr().String())
	dead.Close()
	if got := ask(t, addr, "x"); got != "" {
		t.Fatalf("answer %q with no backend", got)
	}
}

func TestParseBackends(t *testing.T) {
	for _, bad := range []string{"", "a", "a:1,", ",a:1", "a:1,,b:2"} {
		if _, err := parseBackends(bad); err == nil {
			t.Errorf("parseBackends(%q) accepted", bad)
		}
	}
	got, err := parseBackends("gateway-1:8080, gateway-2:8080")
	if err != nil || len(got) != 2 || got[1] != "gateway-2:8080" {
		t.Fatalf("parseBackends: %v, %v", got, err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
