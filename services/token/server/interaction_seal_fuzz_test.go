package server

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
)

// FuzzUnsealInteraction: only what sealInteraction made opens, to exactly what was sealed, and only before
// its expiry; any change to a sealed value (or any other input) is refused without a panic.
func FuzzUnsealInteraction(f *testing.F) {
	kr, err := suitekey.New(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	other, _ := suitekey.New([]byte(strings.Repeat("k", 32)))
	now := time.Unix(1_800_000_000, 0)
	s := &Server{kr: kr, now: func() time.Time { return now }}
	orig := token.Interaction{ClientID: "spa", TenantID: "t-1", RedirectURI: "https://rp.example/cb", Scopes: []string{"openid"},
		State: "st", Nonce: "n", CodeChallenge: strings.Repeat("c", 43), MaxAge: -1, LoginHint: "alice"}
	sealed, err := s.sealInteraction(&orig)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, int64(0))
	f.Add(sealed[:len(sealed)-1], int64(0))
	f.Add(sealed, int64(InteractionLifetime/time.Second))
	f.Add("s1.", int64(0))
	f.Add("stored-id-43-chars-xxxxxxxxxxxxxxxxxxxxxxx", int64(0))
	foreign, _ := (&Server{kr: other, now: s.now}).sealInteraction(&orig)
	f.Add(foreign, int64(0))
	f.Fuzz(func(t *testing.T, id string, later int64) {
		at := now.Add(time.Duration(later%(1<<20)) * time.Second)
		in, ok := unsealInteraction(kr, at, id)
		if !ok {
			if id == sealed && at.Before(now.Add(InteractionLifetime)) {
				t.Fatalf("the genuine sealed value was refused at %v", at)
			}
			return
		}
		if id == foreign {
			t.Fatal("a value sealed under another key opened")
		}
		if !at.Before(now.Add(InteractionLifetime)) {
			t.Fatalf("opened after its expiry (%v)", at)
		}
		want := orig
		want.Expiry = now.Add(InteractionLifetime)
		if in.ID != nil || !reflect.DeepEqual(*in, want) {
			t.Fatalf("opened to %+v, want %+v", *in, want)
		}
	})
}
