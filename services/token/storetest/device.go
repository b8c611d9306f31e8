package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

var deviceTests = []struct {
	name string
	fn   func(t *testing.T, open func() token.Store)
}{
	{"DeviceCodeRoundTrip", testDeviceCodeRoundTrip},
	{"DeviceUserCodeUnique", testDeviceUserCodeUnique},
	{"DeviceCodeUpdate", testDeviceCodeUpdate},
	{"DeviceCodeRedeemOnce", testDeviceCodeRedeemOnce},
	{"DeviceCodeSwept", testDeviceCodeSwept},
}

func deviceCode(hash, user string, exp time.Time) token.DeviceCode {
	return token.DeviceCode{Hash: h(hash), UserCode: []byte("uc-" + user), ClientID: "tv", TenantID: "t1",
		Scopes: []string{"openid", "offline_access"}, Resources: []string{"https://api.example"}, Expiry: exp}
}

func sameDevice(t *testing.T, what string, got, want token.DeviceCode) {
	t.Helper()
	if string(got.Hash) != string(want.Hash) || string(got.UserCode) != string(want.UserCode) ||
		got.ClientID != want.ClientID || got.TenantID != want.TenantID || !slices.Equal(got.Scopes, want.Scopes) ||
		!slices.Equal(got.Resources, want.Resources) || !got.Expiry.Equal(want.Expiry) || got.Status != want.Status ||
		got.UserID != want.UserID || got.SID != want.SID || !got.AuthTime.Equal(want.AuthTime) ||
		got.Incarnation != want.Incarnation || !slices.Equal(got.AMR, want.AMR) || got.ACR != want.ACR {
		t.Errorf("%s = %+v\nwant %+v", what, got, want)
	}
}

// testDeviceCodeRoundTrip: a stored device code reads back, by its hash and by its user code, unchanged,
// after a reopen too; unknown keys are ErrNotFound; the caller's value is not kept.
func testDeviceCodeRoundTrip(t *testing.T, open func() token.Store) {
	s := open()
	dc := deviceCode("d1", "AAAA", t0().Add(10*time.Minute))
	if err := s.PutDeviceCode(ctx, dc, t0()); err != nil {
		t.Fatal(err)
	}
	dc.Scopes[0] = "changed-after-put"
	want := deviceCode("d1", "AAAA", t0().Add(10*time.Minute))
	s.Close()
	s = open()
	defer s.Close()
	got, err := s.DeviceCode(ctx, h("d1"))
	if err != nil {
		t.Fatal(err)
	}
	sameDevice(t, "DeviceCode", got, want)
	got.Scopes[0] = "changed-after-get"
	got, err = s.DeviceCodeByUserCode(ctx, []byte("uc-AAAA"))
	if err != nil {
		t.Fatal(err)
	}
	sameDevice(t, "DeviceCodeByUserCode", got, want)
	if _, err := s.DeviceCode(ctx, h("nope")); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("unknown hash: %v; want ErrNotFound", err)
	}
	if _, err := s.DeviceCodeByUserCode(ctx, []byte("uc-ZZZZ")); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("unknown user code: %v; want ErrNotFound", err)
	}
	if err := s.PutDeviceCode(ctx, token.DeviceCode{Hash: h("d2"), Expiry: t0().Add(time.Minute)}, t0()); err == nil {
		t.Error("a device code without a user code was stored")
	}
}

// testDeviceUserCodeUnique: a user code held by a live device code is refused (nothing stored); once the
// holder expired, it can be given to a new device code, and the index then finds the new one. Of racing
// puts of one user code exactly one succeeds.
func testDeviceUserCodeUnique(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	exp := t0().Add(10 * time.Minute)
	if err := s.PutDeviceCode(ctx, deviceCode("d1", "SAME", exp), t0()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDeviceCode(ctx, deviceCode("d2", "SAME", exp), t0()); !errors.Is(err, token.ErrUserCodeTaken) {
		t.Fatalf("second live holder: %v; want ErrUserCodeTaken", err)
	}
	if _, err := s.DeviceCode(ctx, h("d2")); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("the refused device code was stored: %v", err)
	}
	// At the holder's expiry it no longer holds the code.
	if err := s.PutDeviceCode(ctx, deviceCode("d3", "SAME", exp.Add(10*time.Minute)), exp); err != nil {
		t.Fatalf("after the holder expired: %v", err)
	}
	got, err := s.DeviceCodeByUserCode(ctx, []byte("uc-SAME"))
	if err != nil || string(got.Hash) != string(h("d3")) {
		t.Errorf("DeviceCodeByUserCode = %x, %v; want d3", got.Hash, err)
	}

	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.PutDeviceCode(ctx, deviceCode(string(rune('a'+i))+"race", "RACE", exp), t0())
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, token.ErrUserCodeTaken):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d racing puts of one user code succeeded; want 1", wins.Load())
	}
}

// testDeviceCodeUpdate: an update stores what it returns except Hash, UserCode and Expiry; an update that
// fails changes nothing and is answered with the record it saw.
func testDeviceCodeUpdate(t *testing.T, open func() token.Store) {
	s := open()
	exp := t0().Add(10 * time.Minute)
	if err := s.PutDeviceCode(ctx, deviceCode("d1", "UPDT", exp), t0()); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	seen, err := s.UpdateDeviceCode(ctx, h("d1"), func(dc token.DeviceCode) (token.DeviceCode, error) {
		dc.Status = token.DeviceDenied
		return dc, boom
	})
	if !errors.Is(err, boom) || seen.Status != token.DevicePending || string(seen.Hash) != string(h("d1")) {
		t.Fatalf("failed update = %+v, %v; want the pending record and boom", seen, err)
	}
	want := deviceCode("d1", "UPDT", exp)
	want.Status, want.UserID, want.SID, want.AuthTime, want.Incarnation = token.DeviceApproved, "u1", "sid1", t0(), "inc1"
	want.Authn = token.Authn{AMR: []string{"pwd", "otp", "mfa"}, ACR: "urn:mfa"}
	got, err := s.UpdateDeviceCode(ctx, h("d1"), func(dc token.DeviceCode) (token.DeviceCode, error) {
		if dc.Status != token.DevicePending {
			t.Errorf("update saw %q; want pending", dc.Status)
		}
		n := want.Clone()
		n.Hash, n.UserCode, n.Expiry = h("other"), []byte("uc-OTHER"), exp.Add(time.Hour) // cannot change
		return n, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameDevice(t, "UpdateDeviceCode", got, want)
	s.Close()
	s = open()
	defer s.Close()
	got, err = s.DeviceCodeByUserCode(ctx, []byte("uc-UPDT"))
	if err != nil {
		t.Fatal(err)
	}
	sameDevice(t, "after reopen", got, want)
	if _, err := s.UpdateDeviceCode(ctx, h("nope"), func(dc token.DeviceCode) (token.DeviceCode, error) { return dc, nil }); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("unknown: %v; want ErrNotFound", err)
	}
}

// testDeviceCodeRedeemOnce: of concurrent redemptions (an update moving approved to redeemed, refusing any
// other status) exactly one succeeds.
func testDeviceCodeRedeemOnce(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	dc := deviceCode("d1", "ONCE", t0().Add(10*time.Minute))
	dc.Status = token.DeviceApproved
	if err := s.PutDeviceCode(ctx, dc, t0()); err != nil {
		t.Fatal(err)
	}
	used := errors.New("used")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateDeviceCode(ctx, h("d1"), func(dc token.DeviceCode) (token.DeviceCode, error) {
				if dc.Status != token.DeviceApproved {
					return dc, used
				}
				dc.Status = token.DeviceRedeemed
				return dc, nil
			})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, used):
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d redemptions succeeded; want 1", wins.Load())
	}
}

// testDeviceCodeSwept: a sweep after the expiry deletes the device code and its user code index entry
// (two records); before it, nothing.
func testDeviceCodeSwept(t *testing.T, open func() token.Store) {
	s := open()
	defer s.Close()
	exp := t0().Add(time.Minute)
	if err := s.PutDeviceCode(ctx, deviceCode("d1", "SWEP", exp), t0()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepExpired(ctx, exp); err != nil || n != 0 {
		t.Fatalf("sweep at expiry: %d, %v; want 0", n, err)
	}
	if n, err := s.SweepExpired(ctx, exp.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("sweep after expiry: %d, %v; want 2", n, err)
	}
	if _, err := s.DeviceCode(ctx, h("d1")); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("after the sweep: %v", err)
	}
	if _, err := s.DeviceCodeByUserCode(ctx, []byte("uc-SWEP")); !errors.Is(err, token.ErrNotFound) {
		t.Errorf("index after the sweep: %v", err)
	}
}
