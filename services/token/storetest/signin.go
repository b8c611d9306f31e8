package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// signinTests are the conformance tests of the sign-in records; Run runs them with the others.
var signinTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"Interactions", testInteractions},
	{"Sessions", testSessions},
	{"SessionBySID", testSessionBySID},
	{"CodeSingleUse", testCodeSingleUse},
	{"RefreshRotation", testRefreshRotation},
	{"ConsentsAndFailures", testConsentsAndFailures},
	{"RefreshTokenLookup", testRefreshTokenLookup},
	{"RefreshRotationGrace", testRefreshRotationGrace},
	{"RefreshRotationGraceConcurrent", testRefreshRotationGraceConcurrent},
	{"SweepExpired", testSweepExpired},
}

func h(s string) []byte { return bytes.Repeat([]byte(s), 32/len(s)+1)[:32] }

func testInteractions(t *testing.T, open func() token.Store) {
	s := open()
	in := token.Interaction{ID: h("i"), ClientID: "web", TenantID: "t", RedirectURI: "https://a/cb", Scopes: []string{"openid"},
		State: "st", Nonce: "n", CodeChallenge: "cc", Prompt: []string{"login"}, MaxAge: -1, Expiry: t0().Add(time.Hour)}
	if err := s.PutInteraction(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Interaction(ctx, h("x")); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("missing interaction: %v", err)
	}
	s.Close()
	s = open()
	defer s.Close()
	got, err := s.Interaction(ctx, h("i"))
	if err != nil || got.ClientID != "web" || got.Nonce != "n" || got.MaxAge != -1 || !got.Expiry.Equal(in.Expiry) ||
		!bytes.Equal(got.ID, in.ID) || !slices.Equal(got.Prompt, in.Prompt) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	got.UserID = "u1"
	if err := s.PutInteraction(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Interaction(ctx, h("i")); again.UserID != "u1" {
		t.Fatalf("replace: %+v", again)
	}
	if err := s.DeleteInteraction(ctx, h("i")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInteraction(ctx, h("i")); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Interaction(ctx, h("i")); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func testSessions(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	se := token.Session{ID: h("s"), SID: "sid1", UserID: "u", TenantID: "t", AuthTime: t0(), Expiry: t0().Add(time.Hour)}
	if err := s.PutSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, c := range []string{"a", "b", "c", "d"} {
		wg.Go(func() {
			if _, err := s.UpdateSession(ctx, h("s"), func(old token.Session) (token.Session, error) {
				old.Clients = append(old.Clients, c)
				return old, nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	boom := errors.New("boom")
	if _, err := s.UpdateSession(ctx, h("s"), func(token.Session) (token.Session, error) { return token.Session{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing update: %v", err)
	}
	if _, err := s.UpdateSession(ctx, h("x"), func(o token.Session) (token.Session, error) { return o, nil }); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("update of a missing session: %v", err)
	}
	got, err := s.Session(ctx, h("s"))
	if err != nil || len(got.Clients) != 4 || got.SID != "sid1" || !got.AuthTime.Equal(t0()) {
		t.Fatalf("session = %+v, %v", got, err)
	}
	del, err := s.DeleteSession(ctx, h("s"))
	if err != nil || del.SID != "sid1" || len(del.Clients) != 4 {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	if _, err := s.DeleteSession(ctx, h("s")); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func testCodeSingleUse(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	c := token.AuthCode{Hash: h("c"), ClientID: "web", UserID: "u", RedirectURI: "https://a/cb", FamilyID: "f1", Expiry: t0().Add(time.Minute)}
	if err := s.PutCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	// A refused check changes nothing.
	boom := errors.New("wrong verifier")
	if _, err := s.ConsumeCode(ctx, h("c"), func(token.AuthCode) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("refused check: %v", err)
	}
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := s.ConsumeCode(ctx, h("c"), func(token.AuthCode) error { return nil })
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, token.ErrUsed) && got.FamilyID == "f1":
				used.Add(1)
			default:
				t.Errorf("consume: %+v, %v", got, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 7 {
		t.Fatalf("%d consumed, %d refused as used; want 1 and 7", wins.Load(), used.Load())
	}
	if _, err := s.ConsumeCode(ctx, h("x"), func(token.AuthCode) error { return nil }); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("missing code: %v", err)
	}
}

func testRefreshRotation(t *testing.T, open func() token.Store) {
	s := open()
	first := token.RefreshToken{Hash: h("r0"), FamilyID: "f", ClientID: "web", UserID: "u", Scopes: []string{"openid", "offline_access"}, Expiry: t0().Add(time.Hour),
		IssueTime: t0()}
	if err := s.PutRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	next := func(key string) func(old token.RefreshToken) (token.RefreshToken, error) {
		return func(old token.RefreshToken) (token.RefreshToken, error) {
			n := old
			n.Hash, n.Used = h(key), false
			return n, nil
		}
	}
	boom := errors.New("boom")
	if _, err := rotateNoGrace(ctx, s, h("r0"), func(token.RefreshToken) (token.RefreshToken, error) { return token.RefreshToken{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing rotate: %v", err)
	}
	if _, err := rotateNoGrace(ctx, s, h("r0"), func(o token.RefreshToken) (token.RefreshToken, error) { return o, nil }); err == nil {
		t.Fatal("rotation to the same key accepted")
	}
	// Concurrent rotations of one token: exactly one wins, the others see reuse.
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			_, err := rotateNoGrace(ctx, s, h("r0"), next(string(rune('a'+i))+"1"))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, token.ErrUsed):
				used.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 5 {
		t.Fatalf("%d rotations, %d reuses; want 1 and 5", wins.Load(), used.Load())
	}
	s.Close()
	s = open()
	defer s.Close()
	old, err := rotateNoGrace(ctx, s, h("r0"), next("zz"))
	if !errors.Is(err, token.ErrUsed) || old.FamilyID != "f" || !old.Used || !old.Expiry.Equal(first.Expiry) || !old.IssueTime.Equal(first.IssueTime) {
		t.Fatalf("reuse after reopen: %+v, %v", old, err)
	}
	if _, err := rotateNoGrace(ctx, s, h("nope"), next("zz")); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("missing token: %v", err)
	}
}

func testConsentsAndFailures(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	c := token.Consent{TenantID: "t", UserID: "u", ClientID: "web", Scopes: []string{"openid", "email"}, Expiry: t0().Add(time.Hour)}
	if err := s.PutConsent(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConsent(ctx, token.Consent{UserID: "u", ClientID: "web"}); err == nil {
		t.Fatal("consent without tenant accepted")
	}
	got, err := s.Consent(ctx, "t", "u", "web")
	if err != nil || !slices.Equal(got.Scopes, c.Scopes) || !got.Expiry.Equal(c.Expiry) {
		t.Fatalf("consent = %+v, %v", got, err)
	}
	if _, err := s.Consent(ctx, "t", "u", "other"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("other client: %v", err)
	}
	f := token.LoginFailures{Key: "acct:t/alice", Count: 3, Last: t0(), LockedUntil: t0().Add(time.Minute), Expiry: t0().Add(time.Hour)}
	if err := putFailures(s, f); err != nil {
		t.Fatal(err)
	}
	gf, err := s.LoginFailures(ctx, f.Key)
	if err != nil || gf.Count != 3 || !gf.LockedUntil.Equal(f.LockedUntil) || gf.Key != f.Key {
		t.Fatalf("failures = %+v, %v", gf, err)
	}
	if err := putFailures(s, token.LoginFailures{Key: f.Key}); err != nil { // Count 0, no lock: deleted
		t.Fatal(err)
	}
	if _, err := s.LoginFailures(ctx, f.Key); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func testSweepExpired(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	old, live := t0(), t0().Add(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutInteraction(ctx, token.Interaction{ID: h("i1"), Expiry: old}))
	must(s.PutInteraction(ctx, token.Interaction{ID: h("i2"), Expiry: live}))
	must(s.PutSession(ctx, token.Session{ID: h("s1"), Expiry: old}))
	must(s.PutCode(ctx, token.AuthCode{Hash: h("c1"), Expiry: old}))
	must(s.PutRefreshToken(ctx, token.RefreshToken{Hash: h("r1"), Expiry: old}))
	must(s.PutRefreshToken(ctx, token.RefreshToken{Hash: h("r2"), Expiry: live}))
	must(s.PutConsent(ctx, token.Consent{TenantID: "t", UserID: "u", ClientID: "c", Expiry: old}))
	must(putFailures(s, token.LoginFailures{Key: "k", Count: 1, Expiry: old}))
	must(s.Revoke(ctx, token.Revocation{JTI: "j", Expiry: old}))
	n, err := s.SweepExpired(ctx, t0().Add(time.Minute))
	if err != nil || n != 6 {
		t.Fatalf("swept %d, %v; want 6", n, err)
	}
	if _, err := s.Interaction(ctx, h("i2")); err != nil {
		t.Fatalf("live interaction swept: %v", err)
	}
	if _, err := rotateNoGrace(ctx, s, h("r1"), func(o token.RefreshToken) (token.RefreshToken, error) { return o, nil }); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("expired refresh token kept: %v", err)
	}
	if len(revMap(t, s)) != 1 {
		t.Fatal("SweepExpired touched revocations")
	}
}

func testRefreshTokenLookup(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	if _, err := s.RefreshToken(ctx, h("nope")); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	rt := token.RefreshToken{Hash: h("r"), FamilyID: "fam", ClientID: "web", TenantID: "t", UserID: "u", Scopes: []string{"openid"}, Expiry: t0().Add(time.Hour)}
	if err := s.PutRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if _, err := rotateNoGrace(ctx, s, h("r"), func(o token.RefreshToken) (token.RefreshToken, error) {
		o.Hash = h("r2")
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RefreshToken(ctx, h("r"))
	if err != nil || !got.Used || got.FamilyID != "fam" || got.ClientID != "web" || !bytes.Equal(got.Hash, h("r")) || !got.Expiry.Equal(rt.Expiry) {
		t.Fatalf("rotated token = %+v, %v", got, err)
	}
	if got, err := s.RefreshToken(ctx, h("r2")); err != nil || got.Used || got.FamilyID != "fam" {
		t.Fatalf("new token = %+v, %v", got, err)
	}
}

// putFailures stores f under f.Key through UpdateLoginFailureSet (a record with Count 0 and no lock is
// deleted).
func putFailures(s token.Store, f token.LoginFailures) error {
	_, err := s.UpdateLoginFailureSet(ctx, []string{f.Key}, func([]token.LoginFailures) ([]token.LoginFailures, error) {
		return []token.LoginFailures{f}, nil
	})
	return err
}

// testSessionBySID: a session is found by its SID while it is stored, and not after it was deleted (by id or
// with its account), swept, or given another SID; a SID never names another session.
func testSessionBySID(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	want := func(sid string, id []byte) {
		t.Helper()
		got, err := s.SessionBySID(ctx, sid)
		switch {
		case id == nil && !errors.Is(err, token.ErrNotFound):
			t.Fatalf("SessionBySID(%q) = %x, %v; want ErrNotFound", sid, got.ID, err)
		case id != nil && (err != nil || !bytes.Equal(got.ID, id) || got.SID != sid || got.Expiry.IsZero()):
			t.Fatalf("SessionBySID(%q) = %+v, %v; want the session %x", sid, got, err, id)
		}
	}
	live := t0().Add(time.Hour)
	acct := token.Account{TenantID: "t", UserID: "u", Incarnation: "i1"}
	for _, se := range []token.Session{
		{ID: h("a"), SID: "sid-a", UserID: "u", TenantID: "t", Incarnation: "i1", Expiry: live},
		{ID: h("b"), SID: "sid-b", UserID: "v", TenantID: "t", Expiry: live},
		{ID: h("c"), SID: "sid-c", UserID: "u", TenantID: "t", Incarnation: "i1", Expiry: t0()},
		{ID: h("d"), SID: "sid-d", UserID: "w", TenantID: "t", Expiry: live},
	} {
		if err := s.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	want("sid-a", h("a"))
	want("sid-b", h("b"))
	want("", nil)
	want("nope", nil)

	if _, err := s.DeleteSession(ctx, h("b")); err != nil {
		t.Fatal(err)
	}
	want("sid-b", nil)

	// Replacing a session under the same id with another SID moves the index.
	if err := s.PutSession(ctx, token.Session{ID: h("d"), SID: "sid-d2", UserID: "w", TenantID: "t", Expiry: live}); err != nil {
		t.Fatal(err)
	}
	want("sid-d", nil)
	want("sid-d2", h("d"))
	if _, err := s.UpdateSession(ctx, h("d"), func(o token.Session) (token.Session, error) { o.SID = "sid-d3"; return o, nil }); err != nil {
		t.Fatal(err)
	}
	want("sid-d2", nil)
	want("sid-d3", h("d"))

	if n, err := s.SweepExpired(ctx, t0().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want 1 (the expired session)", n, err)
	}
	want("sid-c", nil)
	want("sid-a", h("a"))

	if _, err := s.DeleteAccountSessions(ctx, []token.Account{acct}); err != nil {
		t.Fatal(err)
	}
	want("sid-a", nil)
	want("sid-d3", h("d"))
}
