package storetest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// DifferentialSeeds are inputs of Differential that reach every operation and the interesting meetings of
// records (replaced records, shared SIDs, rotations within and after a grace window).
var DifferentialSeeds = [][]byte{
	{},
	{0, 0, 1, 1, 0, 2, 0, 1, 0},
	{3, 0, 1, 2, 7, 1, 5, 0, 2, 7, 2, 17, 3, 7, 2},
	{10, 0, 0, 1, 11, 0, 1, 2, 1, 11, 0, 2, 3, 2, 11, 1, 3, 1, 4, 11, 0, 4, 2, 5, 12, 0},
	{8, 1, 2, 9, 1, 1, 9, 1, 0, 9, 1, 0, 9, 2, 0},
	{15, 3, 1, 2, 15, 3, 0, 0, 16, 1, 16, 2, 15, 2, 5, 1},
	{3, 0, 0, 0, 3, 1, 0, 1, 18, 0, 7, 0, 10, 0, 0, 0, 10, 1, 1, 0, 19, 0, 12, 0, 12, 1},
	{20, 0, 1, 20, 1, 3, 20, 0, 4, 21, 22, 2, 21, 23, 2, 23, 0, 24, 25, 1, 26, 25, 0, 26},
	{13, 0, 13, 5, 14, 0, 14, 1, 17, 9, 14, 0},
}

// Differential runs one sequence of operations, decoded from in, on every store of stores (fresh ones),
// and fails at the first operation they answer differently: another error class, or other values (times
// compared as instants, nil and empty lists told apart). Keys, SIDs and times are drawn from small sets so
// that operations meet: replaced records, shared SIDs, rotations within and after a grace window,
// sub-second expiries, oversized and empty keys. Inputs longer than 400 bytes are skipped.
func Differential(t *testing.T, in []byte, names []string, stores ...token.Store) {
	if len(in) > 400 {
		return
	}
	r := &opReader{in: in}
	for step := 0; !r.done(); step++ {
		apply, name := r.op(r.next())
		if apply == nil {
			continue
		}
		first := apply(stores[0])
		for i, s := range stores[1:] {
			if got := apply(s); got != first {
				t.Fatalf("step %d %s:\n%s: %s\n%s: %s", step, name, names[0], first, names[i+1], got)
			}
		}
	}
}

var (
	base    = time.Unix(1_700_000_000, 0).UTC()
	errBoom = errors.New("boom")
)

// DifferentialBase is the instant the times of Differential are drawn around.
var DifferentialBase = base

// key is one of a few record keys; 6 is empty and 7 is oversized (both refused when stored).
func dkey(i byte) []byte {
	switch i % 8 {
	case 6:
		return nil
	case 7:
		return bytes.Repeat([]byte{'k'}, 513)
	}
	return bytes.Repeat([]byte{'a' + i%8}, 32)
}

// at is one of a few instants around base, some between whole seconds.
func dat(i byte) time.Time {
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
			return show(s.PutInteraction(ctx, token.Interaction{ID: dkey(a), ClientID: str("c", b), Scopes: []string{"openid"}, Prompt: []string{}, MaxAge: -1, Expiry: dat(b)}))
		}, "PutInteraction"
	case 1:
		take(1)
		return func(s token.Store) string { return show(s.Interaction(ctx, dkey(a))) }, "Interaction"
	case 2:
		take(1)
		return func(s token.Store) string { return show(s.DeleteInteraction(ctx, dkey(a))) }, "DeleteInteraction"
	case 3:
		take(3)
		return func(s token.Store) string {
			return show(s.PutSession(ctx, token.Session{ID: dkey(a), SID: str("sid", b), TenantID: "t", UserID: str("u", c%2), Incarnation: str("i", c/2%2),
				Clients: []string{}, AuthTime: dat(c), Expiry: dat(b + c)}))
		}, "PutSession"
	case 4:
		take(1)
		return func(s token.Store) string { return show(s.Session(ctx, dkey(a))) }, "Session"
	case 5:
		take(2)
		return func(s token.Store) string {
			return show(s.UpdateSession(ctx, dkey(a), func(o token.Session) (token.Session, error) {
				if b%4 == 3 {
					return token.Session{}, errBoom
				}
				o.SID, o.Clients, o.Expiry = str("sid", b), append(o.Clients, "x"), dat(b)
				o.ID = dkey(b) // cannot change the key
				return o, nil
			}))
		}, "UpdateSession"
	case 6:
		take(1)
		return func(s token.Store) string { return show(s.DeleteSession(ctx, dkey(a))) }, "DeleteSession"
	case 7:
		take(1)
		return func(s token.Store) string { return show(s.SessionBySID(ctx, str("sid", a))) }, "SessionBySID"
	case 8:
		take(2)
		return func(s token.Store) string {
			return show(s.PutCode(ctx, token.AuthCode{Hash: dkey(a), ClientID: "web", FamilyID: str("f", b), Scopes: nil, Used: b%7 == 6, Expiry: dat(b)}))
		}, "PutCode"
	case 9:
		take(2)
		return func(s token.Store) string {
			return show(s.ConsumeCode(ctx, dkey(a), func(c token.AuthCode) error {
				if b%3 == 2 {
					return errBoom
				}
				return nil
			}))
		}, "ConsumeCode"
	case 10:
		take(3)
		return func(s token.Store) string {
			return show(s.PutRefreshToken(ctx, token.RefreshToken{Hash: dkey(a), FamilyID: str("f", b), TenantID: "t", UserID: str("u", c%2),
				Incarnation: str("i", c/2%2), Scopes: []string{"openid"}, Used: c%9 == 8, Expiry: dat(b + 8), IssueTime: dat(c)}))
		}, "PutRefreshToken"
	case 11:
		take(4)
		return func(s token.Store) string {
			g := token.RefreshGrace{Now: dat(b), Window: time.Duration(c%4) * time.Second, Sealed: []byte(str("sealed", d))}
			return show(s.RotateRefreshTokenGrace(ctx, dkey(a), g, func(o token.RefreshToken) (token.RefreshToken, error) {
				if d%6 == 5 {
					return token.RefreshToken{}, errBoom
				}
				o.Hash, o.Scopes = dkey(c/4), append(o.Scopes, "x")
				return o, nil
			}))
		}, "RotateRefreshTokenGrace"
	case 12:
		take(1)
		return func(s token.Store) string { return show(s.RefreshToken(ctx, dkey(a))) }, "RefreshToken"
	case 13:
		take(1)
		return func(s token.Store) string {
			return show(s.PutConsent(ctx, token.Consent{TenantID: str("t", a), UserID: str("u", a/5), ClientID: "web", Scopes: []string{"openid"}, Expiry: dat(a)}))
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
					fs[i].Count, fs[i].Expiry, fs[i].Last = int(b%3)+fs[i].Count*int(c%2), dat(b), dat(c)
					if c%3 == 2 {
						fs[i].LockedUntil = dat(c)
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
		return func(s token.Store) string { return show(s.SweepExpired(ctx, dat(a))) }, "SweepExpired"
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
			return show(s.Revoke(ctx, token.Revocation{JTI: str("j", a), Expiry: dat(b)}))
		}, "Revoke"
	case 21:
		return func(s token.Store) string {
			got, err := s.Revocations(ctx)
			slices.SortFunc(got, func(x, y token.Revocation) int { return cmp.Compare(x.JTI, y.JTI) })
			return show(got, err)
		}, "Revocations"
	case 22:
		take(1)
		return func(s token.Store) string { return show(s.SweepRevocations(ctx, dat(a))) }, "SweepRevocations"
	case 23:
		take(1)
		return func(s token.Store) string {
			return show(s.UpdateKeys(ctx, func(old []token.SigningKey) ([]token.SigningKey, error) {
				switch a % 4 {
				case 0:
					return nil, errBoom
				case 1:
					return append(old, token.SigningKey{ID: str("kid", a), Alg: "ES256", Private: []byte{}, CreateTime: dat(a / 4)}), nil
				case 2:
					if len(old) > 0 {
						old[0].RetireTime = dat(a)
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
