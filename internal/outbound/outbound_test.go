package outbound

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "private"},
		{"::ffff:10.0.0.1", "private"},
		{"fc00::1", "unique-local"},
		{"fd12:3456::1", "unique-local"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"64:ff9b::7f00:1", "loopback"}, // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", ""},        // NAT64 of 8.8.8.8
		{"2002:a00:1::1", "private"},    // 6to4 of 10.0.0.1
		{"2002:808:808::1", ""},         // 6to4 of 8.8.8.8
		{"::7f00:1", "reserved"},        // IPv4-compatible 127.0.0.1
	}
	for _, tc := range tests {
		if got := Classify(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Classify(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if Classify(netip.Addr{}) == "" {
		t.Error("the zero Addr is allowed")
	}
}

// FuzzClassify checks Classify against the standard library's own classification: every address that
// netip calls loopback, private, link-local, unspecified or multicast is refused, in any IPv6 form that
// reaches it (IPv4-mapped, NAT64, 6to4); and Classify never panics.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "10.0.0.1", "fd00::1", "169.254.169.254", "8.8.8.8", "::ffff:192.168.0.1", "ff02::1", "0.0.0.0"} {
		a := netip.MustParseAddr(s)
		b := a.As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var a netip.Addr
		switch len(raw) {
		case 4:
			a = netip.AddrFrom4([4]byte(raw))
		case 16:
			a = netip.AddrFrom16([16]byte(raw))
		default:
			if Classify(a) == "" {
				t.Fatal("the zero Addr is allowed")
			}
			return
		}
		got := Classify(a)
		u := a.Unmap()
		special := u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsLinkLocalMulticast() ||
			u.IsInterfaceLocalMulticast() || u.IsMulticast() || u.IsUnspecified()
		if special && got == "" {
			t.Fatalf("%s allowed", a)
		}
		if a.Is4() {
			v4 := a.As4()
			for _, six := range []netip.Addr{
				netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}),
				netip.AddrFrom16([16]byte{0: 0, 1: 0x64, 2: 0xff, 3: 0x9b, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}),
				netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: v4[0], 3: v4[1], 4: v4[2], 5: v4[3], 15: 1}),
			} {
				if (Classify(six) == "") != (got == "") {
					t.Fatalf("%s is %q but %s, which reaches it, is %q", a, got, six, Classify(six))
				}
			}
		}
	})
}

// server is an httptest server counting requests per path.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func ok(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }

// TestRefusesLoopback: without AllowPrivate a request to 127.0.0.1 fails with a BlockedError naming the
// address and the flag, and never reaches the server; with it, it does.
func TestRefusesLoopback(t *testing.T) {
	srv, hits := server(t, ok)
	_, err := New(Options{}).Get(srv.URL)
	var be *BlockedError
	if !errors.Is(err, ErrBlocked) || !errors.As(err, &be) || be.Reason != "loopback" || !strings.Contains(err.Error(), "127.0.0.1") ||
		!strings.Contains(err.Error(), "AUTHSUITE_ALLOW_PRIVATE_OUTBOUND") {
		t.Fatalf("GET %s: %v; want a loopback BlockedError", srv.URL, err)
	}
	if hits.Load() != 0 {
		t.Fatal("the refused request reached the server")
	}
	resp, err := New(Options{AllowPrivate: true}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("AllowPrivate did not allow the request")
	}
}

// fakeDNS answers every A query with ip and every other query with no records (RFC 1035 §4.1), over UDP
// on loopback, and returns a resolver that asks it.
func fakeDNS(t *testing.T, ip netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], ip); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer builds the answer to query q: its question, and one A record of ip for an A question.
func dnsAnswer(q []byte, ip netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	qend := i + 5
	qtype := binary.BigEndian.Uint16(q[i+1:])
	out := append([]byte{}, q[:2]...)
	out = append(out, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0)
	out = append(out, q[12:qend]...)
	if qtype == 1 {
		out[7] = 1
		a := ip.As4()
		out = append(out, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		out = append(out, a[:]...)
	}
	return out
}

// TestRefusesNameResolvingToLoopback: a public-looking name whose DNS answer is 127.0.0.1 (DNS rebinding)
// is refused at dial time, on the resolved address.
func TestRefusesNameResolvingToLoopback(t *testing.T) {
	srv, hits := server(t, ok)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	u := "http://rp.public-looking.example:" + itoa(port) + "/logout"
	res := fakeDNS(t, netip.MustParseAddr("127.0.0.1"))
	_, err := New(Options{Resolver: res}).Post(u, "application/x-www-form-urlencoded", strings.NewReader("logout_token=x"))
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("POST %s: %v; want ErrBlocked", u, err)
	}
	if hits.Load() != 0 {
		t.Fatal("the refused request reached the server")
	}
	resp, err := New(Options{Resolver: res, AllowPrivate: true}).Post(u, "application/x-www-form-urlencoded", strings.NewReader("logout_token=x"))
	if err != nil {
		t.Fatalf("with AllowPrivate (the fake resolver is used): %v", err)
	}
	resp.Body.Close()
}

func itoa(n int) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(n)).String()[len("0.0.0.0:"):]
}

// TestDoesNotFollowRedirects: a 302 is answered to the caller as is; its Location is never requested.
func TestDoesNotFollowRedirects(t *testing.T) {
	var target atomic.Int32
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			target.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	resp, err := New(Options{AllowPrivate: true}).Post(srv.URL+"/start", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || target.Load() != 0 {
		t.Fatalf("status %d, redirect target requested %d times; want 302 and 0", resp.StatusCode, target.Load())
	}
}

// TestBoundsResponseSize: a body over MaxResponseBytes fails with ErrResponseTooLarge, whether announced
// by Content-Length or streamed; a body of exactly the bound is read whole.
func TestBoundsResponseSize(t *testing.T) {
	const max = 1000
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		n := max
		if r.URL.Path != "/exact" {
			n++
		}
		if r.URL.Path == "/streamed" {
			w.(http.Flusher).Flush() // chunked: no Content-Length
		}
		w.Write([]byte(strings.Repeat("x", n)))
	})
	c := New(Options{AllowPrivate: true, MaxResponseBytes: max})
	for _, path := range []string{"/announced", "/streamed", "/exact"} {
		resp, err := c.Get(srv.URL + path)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if path == "/exact" {
			if err != nil || len(body) != max {
				t.Fatalf("%s: %d bytes, %v", path, len(body), err)
			}
		} else if !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("%s: %v; want ErrResponseTooLarge", path, err)
		}
	}
}

// TestBoundsTime: a server that never answers fails the request after Timeout.
func TestBoundsTime(t *testing.T) {
	release := make(chan struct{})
	srv, _ := server(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	start := time.Now()
	_, err := New(Options{AllowPrivate: true, Timeout: 200 * time.Millisecond}).Get(srv.URL)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("a hanging server: %v after %v", err, time.Since(start))
	}
}
