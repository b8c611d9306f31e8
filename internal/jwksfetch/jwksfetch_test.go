package jwksfetch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authsuite/authsuite/internal/outbound"
)

func ecJWK(t testing.TB, kid string) jose.JSONWebKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

// keyServer serves a JWK Set that the test can replace, counting requests.
type keyServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
	code int
	hits atomic.Int32
}

func newKeyServer(t testing.TB, keys ...jose.JSONWebKey) *keyServer {
	ks := &keyServer{code: 200}
	ks.set(t, keys...)
	ks.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ks.hits.Add(1)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		w.WriteHeader(ks.code)
		w.Write(ks.body)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(t testing.TB, keys ...jose.JSONWebKey) {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	ks.body = b
	ks.mu.Unlock()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFetcher(ks *keyServer, c *clock) *Fetcher {
	return New(Options{Client: ks.Client(), Now: c.now})
}

// TestCacheAndRotation: the first use fetches; later uses, for a known kid, do not until TTL; an unknown kid
// refetches at most once per MinRefetch, and finds a rotated key.
func TestCacheAndRotation(t *testing.T) {
	k1, k2 := ecJWK(t, "k1"), ecJWK(t, "k2")
	ks := newKeyServer(t, k1)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	f := newFetcher(ks, c)
	ctx := context.Background()
	for range 3 {
		keys, err := f.Keys(ctx, ks.URL, "k1")
		if err != nil || len(keys) != 1 || keys[0].KeyID != "k1" {
			t.Fatalf("Keys: %v, %v", keys, err)
		}
	}
	if n := ks.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for a cached set, want 1", n)
	}
	ks.set(t, k1, k2) // the client rotates
	if keys, _ := f.Keys(ctx, ks.URL, "k2"); hasKid(keys, "k2") {
		t.Fatal("k2 found within MinRefetch of the first fetch")
	}
	if n := ks.hits.Load(); n != 1 {
		t.Fatalf("an unknown kid refetched within MinRefetch (%d fetches)", n)
	}
	c.add(DefaultMinRefetch)
	keys, err := f.Keys(ctx, ks.URL, "k2")
	if err != nil || !hasKid(keys, "k2") {
		t.Fatalf("after MinRefetch: %v, %v; want k2", keys, err)
	}
	if _, err := f.Keys(ctx, ks.URL, "nope"); err != nil {
		t.Fatal(err)
	}
	if n := ks.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	ks.set(t, k2) // k1 withdrawn: gone after TTL
	c.add(DefaultTTL)
	if keys, _ := f.Keys(ctx, ks.URL, "k2"); hasKid(keys, "k1") || !hasKid(keys, "k2") {
		t.Fatalf("after TTL: %v", keys)
	}
	if n := ks.hits.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

// TestSharedFetch: concurrent first uses of one URI make one fetch.
func TestSharedFetch(t *testing.T) {
	ks := newKeyServer(t, ecJWK(t, "k"))
	f := newFetcher(ks, &clock{t: time.Now()})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if _, err := f.Keys(context.Background(), ks.URL, "k"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := ks.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 32 concurrent callers, want 1", n)
	}
}

// TestFailures: refused URIs, bad answers, and a failing URI not retried within MinRefetch; keys fetched
// before stay in use until their TTL.
func TestFailures(t *testing.T) {
	ctx := context.Background()
	ks := newKeyServer(t, ecJWK(t, "k"))
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	f := newFetcher(ks, c)
	for _, uri := range []string{"http://example.com/jwks", "/jwks", "https://", "https://u:p@example.com/", "file:///etc/passwd"} {
		if _, err := f.Keys(ctx, uri, ""); !errors.Is(err, ErrNotHTTPS) {
			t.Errorf("%s: %v, want ErrNotHTTPS", uri, err)
		}
	}
	if _, err := f.Keys(ctx, ks.URL, "k"); err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	ks.code = 500
	ks.mu.Unlock()
	c.add(DefaultMinRefetch)
	if keys, err := f.Keys(ctx, ks.URL, "other"); err != nil || !hasKid(keys, "k") {
		t.Fatalf("a failed refetch within TTL: %v, %v; want the keys fetched before", keys, err)
	}
	c.add(DefaultTTL)
	if _, err := f.Keys(ctx, ks.URL, "k"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("after TTL with the URI failing: %v", err)
	}
	hits := ks.hits.Load()
	for range 5 {
		if _, err := f.Keys(ctx, ks.URL, "k"); err == nil {
			t.Fatal("a failing URI answered keys")
		}
	}
	if ks.hits.Load() != hits {
		t.Fatal("a failing URI was retried within MinRefetch")
	}
	for name, body := range map[string]string{
		"not a set": `{"keys": 1}`, "no usable key": `{"keys":[{"kty":"oct","k":"AAAA"}]}`,
		"oversized": `{"keys":[` + strings.Repeat(" ", MaxBodyBytes) + `]}`,
	} {
		ks.mu.Lock()
		ks.code, ks.body = 200, []byte(body)
		ks.mu.Unlock()
		c.add(DefaultTTL)
		if _, err := f.Keys(ctx, ks.URL, "k"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestOutboundRules: the default client is the suite's outbound client, which refuses a loopback address.
func TestOutboundRules(t *testing.T) {
	ks := newKeyServer(t, ecJWK(t, "k"))
	_, err := New(Options{}).Keys(context.Background(), ks.URL, "k")
	if !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("a loopback jwks_uri: %v, want outbound.ErrBlocked", err)
	}
}

// TestBoundedCache: at most MaxEntries URIs are kept.
func TestBoundedCache(t *testing.T) {
	ks := newKeyServer(t, ecJWK(t, "k"))
	f := New(Options{Client: ks.Client(), MaxEntries: 3})
	for i := range 10 {
		if _, err := f.Keys(context.Background(), ks.URL+"/"+strings.Repeat("x", i), "k"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.entries); n > 3 {
		t.Fatalf("%d entries cached, bound 3", n)
	}
}

// TestParseSetSkipsUnusable: private, symmetric, encryption and small RSA keys are skipped; the others kept.
func TestParseSetSkipsUnusable(t *testing.T) {
	k := ecJWK(t, "good")
	good, _ := json.Marshal(k)
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	privJSON, _ := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: "priv"})
	enc := k
	enc.Use, enc.KeyID = "enc", "enc"
	encJSON, _ := json.Marshal(enc)
	raw := `{"keys":[{"kty":"oct","k":"AAAA","kid":"sym"},` + string(privJSON) + `,` + string(encJSON) + `,{"kty":"XX"},` + string(good) + `]}`
	keys, err := ParseSet([]byte(raw))
	if err != nil || len(keys) != 1 || keys[0].KeyID != "good" {
		t.Fatalf("ParseSet: %v, %v; want only the key good", keys, err)
	}
}

// BenchmarkKeysCached is the steady state: a cached set answers a known kid with no network call.
func BenchmarkKeysCached(b *testing.B) {
	ks := newKeyServer(b, ecJWK(b, "k"))
	f := New(Options{Client: ks.Client()})
	ctx := context.Background()
	if _, err := f.Keys(ctx, ks.URL, "k"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Keys(ctx, ks.URL, "k"); err != nil {
			b.Fatal(err)
		}
	}
	if n := f.Fetches(); n != 1 {
		b.Fatalf("%d fetches, want 1", n)
	}
}

// TestRefetch: a key looked up by other means than its id and missing refetches, at most once per
// MinRefetch.
func TestRefetch(t *testing.T) {
	ks := newKeyServer(t, ecJWK(t, "k1"))
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	f := newFetcher(ks, c)
	ctx := context.Background()
	if _, err := f.Keys(ctx, ks.URL, ""); err != nil {
		t.Fatal(err)
	}
	ks.set(t, ecJWK(t, "k2"))
	if keys, _ := f.Refetch(ctx, ks.URL); hasKid(keys, "k2") || ks.hits.Load() != 1 {
		t.Fatalf("refetched within MinRefetch (%d fetches)", ks.hits.Load())
	}
	c.add(DefaultMinRefetch)
	if keys, err := f.Refetch(ctx, ks.URL); err != nil || !hasKid(keys, "k2") {
		t.Fatalf("Refetch after MinRefetch: %v, %v", keys, err)
	}
}

// TestCallerLeaves: a caller whose context ends stops waiting for the shared fetch.
func TestCallerLeaves(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	f := New(Options{Client: srv.Client()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Keys(ctx, srv.URL, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
}
