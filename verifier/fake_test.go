package verifier

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/services/token/jwt"
)

const (
	testIssuer   = "https://issuer.example"
	testAudience = "https://orders.internal"
)

// fakeIssuer signs tokens and publishes its keys over HTTP, as authsuite's token service does.
type fakeIssuer struct {
	t       testing.TB
	mu      sync.Mutex
	signer  *jwt.PrivateKey
	keys    []*jwt.PrivateKey // published
	srv     *httptest.Server
	fetches atomic.Int64
	n       atomic.Int64
}

func newFakeIssuer(t testing.TB) *fakeIssuer {
	f := &fakeIssuer{t: t}
	f.rotate()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.jwks())
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// rotate makes a new signing key and publishes it beside the old ones.
func (f *fakeIssuer) rotate() {
	k, err := jwt.Generate(jwt.EdDSA)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.signer, f.keys = k, append(f.keys, k)
	f.mu.Unlock()
}

func (f *fakeIssuer) jwks() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []map[string]string
	for _, k := range f.keys {
		j := k.Public().JWK()
		m := map[string]string{"kty": j.Kty, "kid": j.Kid, "use": j.Use, "alg": j.Alg, "crv": j.Crv, "x": j.X}
		if j.Y != "" {
			m["y"] = j.Y
		}
		keys = append(keys, m)
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// claims are valid claims of a new token: override what a test needs.
func (f *fakeIssuer) claims() jwt.Claims {
	now := time.Now().Unix()
	return jwt.Claims{Issuer: testIssuer, Subject: "user-1", Audience: jwt.Audience{testAudience}, ClientID: "web", Scope: "orders.read",
		Tenant: "acme", Expiry: now + 600, IssuedAt: now, ID: "jti-" + time.Now().Format("150405.000000000") + "-" + string(rune('a'+f.n.Add(1)%26))}
}

func (f *fakeIssuer) sign(c jwt.Claims) string {
	f.mu.Lock()
	k := f.signer
	f.mu.Unlock()
	tok, err := k.Sign(&c)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// fakeRevocations is a RevocationService: a log of revocations by revision, pushed to watchers.
type fakeRevocations struct {
	tokenv1.UnimplementedRevocationServiceServer
	mu      sync.Mutex
	log     []*tokenv1.WatchRevocationsResponse // revision i+1 at index i
	streams map[chan *tokenv1.WatchRevocationsResponse]struct{}
	refuse  bool // answer every watch with UNAVAILABLE
	// resetAbove: a from_revision above it is answered with reset and the full state.
	resetAbove int64
	connects   atomic.Int64
	froms      []int64
}

func (f *fakeRevocations) WatchRevocations(req *tokenv1.WatchRevocationsRequest, ss tokenv1.RevocationService_WatchRevocationsServer) error {
	f.connects.Add(1)
	md, _ := metadata.FromIncomingContext(ss.Context())
	if len(md.Get("authorization")) != 1 {
		return status.Error(codes.Unauthenticated, "no bearer")
	}
	ch := make(chan *tokenv1.WatchRevocationsResponse, 1024)
	f.mu.Lock()
	f.froms = append(f.froms, req.GetFromRevision())
	if f.refuse {
		f.mu.Unlock()
		return status.Error(codes.Unavailable, "refused")
	}
	from := req.GetFromRevision()
	var first []*tokenv1.WatchRevocationsResponse
	if f.resetAbove > 0 && from > f.resetAbove {
		first = append(first, &tokenv1.WatchRevocationsResponse{Reset_: true, Event: &tokenv1.WatchRevocationsResponse_Progress{Progress: true}})
		from = 0
	}
	rev := int64(len(f.log))
	for _, r := range f.log[min(from, rev):] {
		first = append(first, r)
	}
	first = append(first, &tokenv1.WatchRevocationsResponse{Revision: rev, Event: &tokenv1.WatchRevocationsResponse_Synced{Synced: true}})
	if f.streams == nil {
		f.streams = map[chan *tokenv1.WatchRevocationsResponse]struct{}{}
	}
	f.streams[ch] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.streams, ch)
		f.mu.Unlock()
	}()
	for _, r := range first {
		if err := ss.Send(r); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ss.Context().Done():
			return nil
		case r, ok := <-ch:
			if !ok {
				return status.Error(codes.Unavailable, "server going away")
			}
			if err := ss.Send(r); err != nil {
				return err
			}
		}
	}
}

// push commits r and returns its revision.
func (f *fakeRevocations) push(r *tokenv1.Revocation) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &tokenv1.WatchRevocationsResponse{Revision: int64(len(f.log)) + 1, Event: &tokenv1.WatchRevocationsResponse_Revoked{Revoked: r}}
	f.log = append(f.log, resp)
	for ch := range f.streams {
		ch <- resp
	}
	return resp.Revision
}

// breakStreams ends every open watch.
func (f *fakeRevocations) breakStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.streams {
		close(ch)
		delete(f.streams, ch)
	}
}

// serveRevocations serves f on loopback and returns a connection to it.
func serveRevocations(t testing.TB, f *fakeRevocations) *grpc.ClientConn {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	tokenv1.RegisterRevocationServiceServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// staticToken is the watch's bearer token.
var staticToken = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "watch-token"})

// newTestVerifier returns a verifier of f's tokens watching revs (nil: no revocation watch), synced.
func newTestVerifier(t testing.TB, f *fakeIssuer, revs *fakeRevocations, mod ...func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: f.srv.URL, KeyRefreshEvery: time.Millisecond}
	if revs != nil {
		cfg.Revocations, cfg.TokenSource = serveRevocations(t, revs), staticToken
	}
	for _, m := range mod {
		m(&cfg)
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if revs != nil && !cfg.AllowUnsynced {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := v.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return v
}
