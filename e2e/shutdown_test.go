package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownLetsInFlightRequestsFinish: a token request whose handler is running when shutdown begins
// still gets its answer, shutdown waits for it, and new connections are refused meanwhile.
func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	s := startSuite(t)
	addr := s.running.HTTPAddr.String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := "grant_type=client_credentials&scope=adminapi"
	auth := base64.StdEncoding.EncodeToString([]byte("admin:" + bootstrapSecret))
	// Expect: 100-continue makes the server answer "100 Continue" when the handler starts reading the
	// body: proof that the request is in flight, with no timing guesswork.
	fmt.Fprintf(c, "POST /connect/token HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		addr, auth, len(body))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line ending the interim response
		t.Fatal(err)
	}

	running := s.running
	s.running = nil // this test shuts the suite down itself
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- running.Shutdown(ctx)
	}()
	// New connections are refused once shutdown has begun.
	eventually(t, 5*time.Second, "listener closed", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("shutdown returned while a request was in flight: %v", err)
	default:
	}

	io.WriteString(c, body)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"access_token"`) {
		t.Fatalf("in-flight request answered %d %s", resp.StatusCode, b)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
