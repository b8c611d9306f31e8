package memstore_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
	"github.com/authsuite/authsuite/services/token/memstore"
)

// FuzzAgainstBoltstore runs one sequence of operations, decoded from the input, on a memory store and on a
// bbolt store, and fails when they answer differently: another error class, or other values (times compared
// as instants, nil and empty lists told apart). Keys, SIDs and times are drawn from small sets so that
// operations meet: replaced records, shared SIDs, rotations within and after a grace window, sub-second
// expiries, oversized and empty keys.
func FuzzAgainstBoltstore(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 0, 1, 1, 0, 2, 0, 1, 0},
		{3, 0, 1, 2, 7, 1, 5, 0, 2, 7, 2, 17, 3, 7, 2},
		{10, 0, 0, 1, 11, 0, 1, 2, 1, 11, 0, 2, 3, 2, 11, 1, 3, 1, 4, 11, 0, 4, 2, 5, 12, 0},
		{8, 1, 2, 9, 1, 1, 9, 1, 0, 9, 1, 0, 9, 2, 0},
		{15, 3, 1, 2, 15, 3, 0, 0, 16, 1, 16, 2, 15, 2, 5, 1},
		{3, 0, 0, 0, 3, 1, 0, 1, 18, 0, 7, 0, 10, 0, 0, 0, 10, 1, 1, 0, 19, 0, 12, 0, 12, 1},
		{20, 0, 1, 20, 1, 3, 20, 0, 4, 21, 22, 2, 21, 23, 2, 23, 0, 24, 25, 1, 26, 25, 0, 26},
		{13, 0, 13, 5, 14, 0, 14, 1, 17, 9, 14, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 400 {
			return
		}
		bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "token.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		// Durability is not compared here: skip the fsync and the batch delay so that inputs run fast.
		bs.DB().NoSync, bs.DB().MaxBatchDelay = true, 0
		ms := memstore.New()
		defer ms.Close()
		r := &opReader{in: in}
		for step := 0; !r.done(); step++ {
			op := r.next()
			var apply func(s token.Store) string
			apply, name := r.op(op)
			if apply == nil {
				continue
			}
			gb, gm := apply(bs), apply(ms)
			if gb != gm {
				t.Fatalf("step %d %s:\nboltstore: %s\nmemstore:  %s", step, name, gb, gm)
			}
		}
	})
}

// TestDifferentialOddCases pins answers where a careless memory store would differ from the bbolt one:
// expiries kept to the second, an empty client snapshot, a nil and an empty scope list.
func TestDifferentialOddCases(t *testing.T) {
	bs, err := bboltstore.Open(filepath.Join(t.TempDir(), "token.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ms := memstore.New()
	defer ms.Close()
	ctx := t.Context()
	half := base.Add(1500 * time.Millisecond)
	for _, s := range []token.Store{bs, ms} {
		must(t, s.PutClientSnapshot(ctx, nil))
		must(t, s.PutRefreshToken(ctx, token.RefreshToken{Hash: key(0), Scopes: []string{}, Expiry: half}))
		must(t, s.PutRefreshToken(ctx, token.RefreshToken{Hash: key(1), Expiry: half}))
	}
	for _, s := range []token.Store{bs, ms} {
		snap, err := s.ClientSnapshot(ctx)
		if err != nil || snap == nil || len(snap) != 0 {
			t.Fatalf("%T: empty snapshot read back as %#v, %v", s, snap, err)
		}
		rt, _ := s.RefreshToken(ctx, key(0))
		if rt.Scopes == nil || !rt.Expiry.Equal(base.Add(time.Second)) {
			t.Fatalf("%T: %#v", s, rt)
		}
		if rt, _ := s.RefreshToken(ctx, key(1)); rt.Scopes != nil {
			t.Fatalf("%T: nil scopes read back as %#v", s, rt.Scopes)
		}
		// The expiry is 1 s after base once truncated: a sweep at base+1.2 s takes it.
		if n, err := s.SweepExpired(ctx, base.Add(1200*time.Millisecond)); err != nil || n != 2 {
			t.Fatalf("%T: swept %d, %v", s, n, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	base    = time.Unix(1_700_000_000, 0).UTC()
	errBoom = errors.New("boom")
)

// key is one of a few record keys; 6 is empty and 7 is oversized (both refused when stored).
func key(i byte) []byte {
	switch i % 8 {
	case 6:
		return nil
	case 7:
		return bytes.Repeat([]byte{'k'}, 513)
	}
	return bytes.Repeat([]byte{'a' + i%8}, 32)
}

// at is one of a few instants around base, some between whole seconds.
func at(i byte) time.Time {
	return base.Add(time.Duration(i%16)*500*time.Millisecond - 2*time.Second)
}

func str(prefix string, i byte) string {
	if i%5 == 4 {
		return ""
	}
	return fmt.Sprint(prefix, i%5)
}

type opReader struct {
	in  []byte
	pos int
}

func (r *opReader) done() bool { return r.pos >= len(r.in) }

func (r *opReader) next() byte {
	if r.done() {
		return 0
	}
	r.pos++
	return r.in[r.pos-1]
}

// peek answers the i-th byte from the current position (0 past the end) without taking it.
func (r *opReader) peek(i int) byte {
	if r.pos+i >= len(r.in) {
		return 0
	}
	return r.in[r.pos+i]
}

// op decodes the arguments of operation op and answers a function running it on a store and describing
// what it answered.
func (r *opReader) op(op byte) (func(token.Store) string, string) {
	ctx := context.Background()
	a, b, c, d := r.peek(0), r.peek(1), r.peek(2), r.peek(3) // each operation takes what it needs
	take := func(n int) { r.pos = min(r.pos+n, len(r.in)) }
	switch op % 27 {
	case 0:
		take(2)
		return func(s token.Store) string {
			return show(s.PutInteraction(ctx, token.Interaction{ID: key(a), ClientID: str("c", b), Scopes: []string{"openid"}, Prompt: []string{}, MaxAge: -1, Expiry: at(b)}))
		}, "PutInteraction"
	case 1:
		take(1)
		return func(s token.Store) string { return show(s.Interaction(ctx, key(a))) }, "Interaction"
	case 2:
		take(1)
		return func(s token.Store) string { return show(s.DeleteInteraction(ctx, key(a))) }, "DeleteInteraction"
	case 3:
		take(3)
		return func(s token.Store) string {
			return show(s.PutSession(ctx, token.Session{ID: key(a), SID: str("sid", b), TenantID: "t", UserID: str("u", c%2), Incarnation: str("i", c/2%2),
				Clients: []string{}, AuthTime: at(c), Expiry: at(b + c)}))
		}, "PutSession"
	case 4:
		take(1)
		return func(s token.Store) string { return show(s.Session(ctx, key(a))) }, "Session"
	case 5:
		take(2)
		return func(s token.Store) string {
			return show(s.UpdateSession(ctx, key(a), func(o token.Session) (token.Session, error) {
				if b%4 == 3 {
					return token.Session{}, errBoom
				}
				o.SID, o.Clients, o.Expiry = str("sid", b), append(o.Clients, "x"), at(b)
				o.ID = key(b) // cannot change the key
				return o, nil
			}))
		}, "UpdateSession"
	case 6:
		take(1)
		return func(s token.Store) string { return show(s.DeleteSession(ctx, key(a))) }, "DeleteSession"
	case 7:
		take(1)
		return func(s token.Store) string { return show(s.SessionBySID(ctx, str("sid", a))) }, "SessionBySID"
	case 8:
		take(2)
		return func(s token.Store) string {
			return show(s.PutCode(ctx, token.AuthCode{Hash: key(a), ClientID: "web", FamilyID: str("f", b), Scopes: nil, Used: b%7 == 6, Expiry: at(b)}))
		}, "PutCode"
	case 9:
		take(2)
		return func(s token.Store) string {
			return show(s.ConsumeCode(ctx, key(a), func(c token.AuthCode) error {
				if b%3 == 2 {
					return errBoom
				}
				return nil
			}))
		}, "ConsumeCode"
	case 10:
		take(3)
		return func(s token.Store) string {
			return show(s.PutRefreshToken(ctx, token.RefreshToken{Hash: key(a), FamilyID: str("f", b), TenantID: "t", UserID: str("u", c%2),
				Incarnation: str("i", c/2%2), Scopes: []string{"openid"}, Used: c%9 == 8, Expiry: at(b + 8), IssueTime: at(c)}))
		}, "PutRefreshToken"
	case 11:
		take(4)
		return func(s token.Store) string {
			g := token.RefreshGrace{Now: at(b), Window: time.Duration(c%4) * time.Second, Sealed: []byte(str("sealed", d))}
			return show(s.RotateRefreshTokenGrace(ctx, key(a), g, func(o token.RefreshToken) (token.RefreshToken, error) {
				if d%6 == 5 {
					return token.RefreshToken{}, errBoom
				}
				o.Hash, o.Scopes = key(c/4), append(o.Scopes, "x")
				return o, nil
			}))
		}, "RotateRefreshTokenGrace"
	case 12:
		take(1)
		return func(s token.Store) string { return show(s.RefreshToken(ctx, key(a))) }, "RefreshToken"
	case 13:
		take(1)
		return func(s token.Store) string {
			return show(s.PutConsent(ctx, token.Consent{TenantID: str("t", a), UserID: str("u", a/5), ClientID: "web", Scopes: []string{"openid"}, Expiry: at(a)}))
		}, "PutConsent"
	case 14:
		take(1)
		return func(s token.Store) string { return show(s.Consent(ctx, str("t", a), str("u", a/5), "web")) }, "Consent"
	case 15:
		take(3)
		keys := []string{str("k", a)}
		if a%3 != 0 {
			keys = append(keys, str("k", a/3))
		}
		return func(s token.Store) string {
			return show(s.UpdateLoginFailureSet(ctx, keys, func(fs []token.LoginFailures) ([]token.LoginFailures, error) {
				switch c % 5 {
				case 3:
					return nil, errBoom
				case 4:
					return fs[:0], nil
				}
				for i := range fs {
					fs[i].Count, fs[i].Expiry, fs[i].Last = int(b%3)+fs[i].Count*int(c%2), at(b), at(c)
					if c%3 == 2 {
						fs[i].LockedUntil = at(c)
					}
				}
				return fs, nil
			}))
		}, "UpdateLoginFailureSet"
	case 16:
		take(1)
		return func(s token.Store) string { return show(s.LoginFailures(ctx, str("k", a))) }, "LoginFailures"
	case 17:
		take(1)
		return func(s token.Store) string { return show(s.SweepExpired(ctx, at(a))) }, "SweepExpired"
	case 18:
		take(1)
		accts := []token.Account{{TenantID: "t", UserID: str("u", a%2), Incarnation: str("i", a/2%2)}}
		return func(s token.Store) string {
			got, err := s.DeleteAccountSessions(ctx, accts)
			slices.SortFunc(got, func(x, y token.Session) int { return bytes.Compare(x.ID, y.ID) })
			return show(got, err)
		}, "DeleteAccountSessions"
	case 19:
		take(1)
		accts := []token.Account{{TenantID: "t", UserID: str("u", a%2), Incarnation: str("i", a/2%2)}}
		return func(s token.Store) string {
			got, err := s.DeleteAccountRefreshTokens(ctx, accts)
			slices.Sort(got)
			return show(got, err)
		}, "DeleteAccountRefreshTokens"
	case 20:
		take(2)
		return func(s token.Store) string {
			return show(s.Revoke(ctx, token.Revocation{JTI: str("j", a), Expiry: at(b)}))
		}, "Revoke"
	case 21:
		return func(s token.Store) string {
			got, err := s.Revocations(ctx)
			slices.SortFunc(got, func(x, y token.Revocation) int { return cmp.Compare(x.JTI, y.JTI) })
			return show(got, err)
		}, "Revocations"
	case 22:
		take(1)
		return func(s token.Store) string { return show(s.SweepRevocations(ctx, at(a))) }, "SweepRevocations"
	case 23:
		take(1)
		return func(s token.Store) string {
			return show(s.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
				switch a % 4 {
				case 0:
					return nil, errBoom
				case 1:
					return append(old, token.SigningKey{ID: str("kid", a), Alg: "ES256", Private: []byte{}, CreateTime: at(a / 4)}), nil
				case 2:
					if len(old) > 0 {
						old[0].RetireTime = at(a)
						return old[:1], nil
					}
				}
				return old, nil
			}))
		}, "UpdateKeys"
	case 24:
		return func(s token.Store) string { return show(s.Keys(ctx)) }, "Keys"
	case 25:
		take(1)
		var snap []byte
		if a%3 != 0 {
			snap = []byte(str("snap", a))
		}
		return func(s token.Store) string { return show(s.PutClientSnapshot(ctx, snap)) }, "PutClientSnapshot"
	case 26:
		return func(s token.Store) string { return show(s.ClientSnapshot(ctx)) }, "ClientSnapshot"
	}
	return nil, ""
}

// show describes what an operation answered: its values (canon) and its error class.
func show(vs ...any) string {
	var b strings.Builder
	for _, v := range vs {
		if err, ok := v.(error); ok || v == nil {
			b.WriteString(errClass(err))
			continue
		}
		canon(&b, reflect.ValueOf(v))
		b.WriteString(" ")
	}
	return b.String()
}

func errClass(err error) string {
	for _, e := range []error{token.ErrNotFound, token.ErrUsed, token.ErrClosed, errBoom} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "error"
	}
	return "ok"
}

var timeType = reflect.TypeFor[time.Time]()

// canon writes v with times as Unix nanoseconds and nil slices told from empty ones.
func canon(b *strings.Builder, v reflect.Value) {
	switch {
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			b.WriteString("zero")
		} else {
			fmt.Fprint(b, t.UnixNano())
		}
	case v.Kind() == reflect.Slice:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(b, "%q", v.Bytes())
			return
		}
		b.WriteString("[")
		for i := range v.Len() {
			canon(b, v.Index(i))
			b.WriteString(",")
		}
		b.WriteString("]")
	case v.Kind() == reflect.Struct:
		b.WriteString("{")
		for i := range v.NumField() {
			b.WriteString(v.Type().Field(i).Name + ":")
			canon(b, v.Field(i))
			b.WriteString(" ")
		}
		b.WriteString("}")
	default:
		fmt.Fprintf(b, "%q", fmt.Sprint(v.Interface()))
	}
}
