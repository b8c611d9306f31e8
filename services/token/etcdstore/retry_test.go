package etcdstore_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/services/token"
)

var t0 = time.Unix(1_700_000_000, 0)

func h(s string) []byte { return bytes.Repeat([]byte(s), 32/len(s)+1)[:32] }

// TestUpdateFunctionsRunAgain: when another replica changes the record while an update function runs, the
// swap fails and the function runs again with what that replica left; nothing either wrote is lost, single
// use holds, and the answer is what the last run returned.
func TestUpdateFunctionsRunAgain(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 3)
	a, b := open(t, c.ClientAt(t, 0), "/again/"), open(t, c.ClientAt(t, 1), "/again/")

	t.Run("UpdateKeys", func(t *testing.T) {
		runs := 0
		err := a.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
			runs++
			if runs == 1 {
				if err := b.UpdateKeys(ctx, func(o []token.SigningKey) ([]token.SigningKey, error) {
					return append(o, token.SigningKey{ID: "theirs", CreateTime: t0}), nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			return append(old, token.SigningKey{ID: "mine", CreateTime: t0.Add(time.Second)}), nil
		})
		keys, kerr := a.Keys(ctx)
		if err != nil || kerr != nil || runs != 2 || len(keys) != 2 || keys[0].ID != "theirs" || keys[1].ID != "mine" {
			t.Fatalf("runs %d, keys %+v, %v %v", runs, keys, err, kerr)
		}
	})

	t.Run("UpdateSession", func(t *testing.T) {
		id := h("sess")
		if err := a.PutSession(ctx, token.Session{ID: id, SID: "sid", UserID: "u", TenantID: "t", Expiry: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		runs := 0
		var last token.Session
		got, err := a.UpdateSession(ctx, id, func(s token.Session) (token.Session, error) {
			runs++
			if runs == 1 {
				if _, err := b.UpdateSession(ctx, id, func(s token.Session) (token.Session, error) {
					s.Clients = append(s.Clients, "theirs")
					return s, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			s.Clients = append(slices.Clone(s.Clients), "mine")
			last = s
			return s, nil
		})
		if err != nil || runs != 2 || !slices.Equal(got.Clients, []string{"theirs", "mine"}) || !slices.Equal(last.Clients, got.Clients) {
			t.Fatalf("runs %d, answer %+v, %v", runs, got, err)
		}
		if se, err := b.Session(ctx, id); err != nil || !slices.Equal(se.Clients, []string{"theirs", "mine"}) {
			t.Fatalf("stored %+v, %v", se, err)
		}
	})

	t.Run("ConsumeCode", func(t *testing.T) {
		code := token.AuthCode{Hash: h("code"), ClientID: "web", FamilyID: "f", Expiry: t0.Add(time.Hour)}
		if err := a.PutCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		runs := 0
		got, err := a.ConsumeCode(ctx, code.Hash, func(token.AuthCode) error {
			runs++
			if _, err := b.ConsumeCode(ctx, code.Hash, func(token.AuthCode) error { return nil }); err != nil {
				t.Fatalf("the other redemption: %v", err)
			}
			return nil
		})
		if !errors.Is(err, token.ErrUsed) || runs != 1 || !got.Used || got.FamilyID != "f" {
			t.Fatalf("redemption that lost the race: runs %d, %+v, %v", runs, got, err)
		}
	})

	t.Run("RotateRefreshTokenGrace", func(t *testing.T) {
		rt := token.RefreshToken{Hash: h("rt"), FamilyID: "f", ClientID: "web", Expiry: t0.Add(time.Hour)}
		if err := a.PutRefreshToken(ctx, rt); err != nil {
			t.Fatal(err)
		}
		runs := 0
		g := token.RefreshGrace{Now: t0, Window: time.Minute, Sealed: []byte("mine")}
		got, err := a.RotateRefreshTokenGrace(ctx, rt.Hash, g, func(o token.RefreshToken) (token.RefreshToken, error) {
			runs++
			if runs == 1 {
				if _, err := b.RotateRefreshTokenGrace(ctx, rt.Hash, token.RefreshGrace{Now: t0, Window: time.Minute, Sealed: []byte("theirs")},
					func(o token.RefreshToken) (token.RefreshToken, error) {
						o.Hash = h("theirs")
						return o, nil
					}); err != nil {
					t.Fatal(err)
				}
			}
			o.Hash = h("mine")
			return o, nil
		})
		// The second run finds the token rotated by the other replica, within the window: a replay of
		// their successor, nothing of ours stored.
		if err != nil || runs != 2 || !got.Replayed || !bytes.Equal(got.Token.Hash, h("theirs")) || string(got.Sealed) != "theirs" {
			t.Fatalf("runs %d, %+v, %v", runs, got, err)
		}
		if _, err := b.RefreshToken(ctx, h("mine")); !errors.Is(err, token.ErrNotFound) {
			t.Fatalf("the losing rotation stored its token: %v", err)
		}
	})

	t.Run("UpdateLoginFailureSet", func(t *testing.T) {
		runs := 0
		inc := func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
			fs[0].Count++
			fs[0].Expiry = t0.Add(time.Hour)
			return fs, nil
		}
		got, err := a.UpdateLoginFailureSet(ctx, []string{"acct"}, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
			runs++
			if runs == 1 {
				if _, err := b.UpdateLoginFailureSet(ctx, []string{"acct"}, inc); err != nil {
					t.Fatal(err)
				}
			}
			return inc(fs)
		})
		if err != nil || runs != 2 || got[0].Count != 2 {
			t.Fatalf("runs %d, %+v, %v", runs, got, err)
		}
		if f, err := b.LoginFailures(ctx, "acct"); err != nil || f.Count != 2 {
			t.Fatalf("stored %+v, %v", f, err)
		}
	})
}
