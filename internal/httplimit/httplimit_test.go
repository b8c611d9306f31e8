package httplimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestReserveAndCap: with 4 connections and 1 reserved, the first 3 serve anything, the 4th only the
// health paths (503 and close otherwise), and a 5th is closed on accept; closing one frees its slot.
func TestReserveAndCap(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(lis, 4, 1)
	srv := &http.Server{
		Handler:     Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), "/healthz"),
		ConnContext: ConnContext,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	readers := map[net.Conn]*bufio.Reader{}
	get := func(c net.Conn, path string) (int, bool) {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return 0, false
		}
		if readers[c] == nil {
			readers[c] = bufio.NewReader(c)
		}
		resp, err := http.ReadResponse(readers[c], nil)
		if err != nil {
			return 0, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, true
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var ordinary []net.Conn
	for i := range 3 {
		c := dial()
		if code, ok := get(c, "/api"); !ok || code != 200 {
			t.Fatalf("ordinary connection %d: %d %v", i, code, ok)
		}
		ordinary = append(ordinary, c)
	}
	reserved := dial()
	if code, ok := get(reserved, "/healthz"); !ok || code != 200 {
		t.Fatalf("reserved connection, health: %d %v", code, ok)
	}
	if _, ok := get(dial(), "/healthz"); ok {
		t.Fatal("a connection beyond the cap was served")
	}
	if code, ok := get(reserved, "/api"); !ok || code != 503 {
		t.Fatalf("reserved connection, other path: %d %v, want 503", code, ok)
	}
	if l.Refused() == 0 {
		t.Fatal("no connection counted as refused")
	}
	// The server notices closes asynchronously: bounded polling of the count, nothing else to wait on.
	waitActive := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for l.Active() != n {
			if time.Now().After(deadline) {
				t.Fatalf("active %d, want %d", l.Active(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitActive(3) // the reserved connection was closed after its 503
	ordinary[0].Close()
	waitActive(2)
	if code, ok := get(dial(), "/api"); !ok || code != 200 {
		t.Fatalf("after a slot was freed: %d %v", code, ok)
	}
}
