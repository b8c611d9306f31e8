package registry

import (
	"errors"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/apierror"
)

// FuzzSecretWindow checks SecretWindow (docs/reference/admin-api.md#client-secrets: startTime defaults to now, expiration between 1 day and 3
// years ahead, default 6 months) on arbitrary times a REST caller can send (protobuf Timestamps: years 1 to
// 9999) and clocks from 1970 to 2200:
//   - an accepted window is in UTC, its expiration is after its start and between now+1 day and now+3 years
//     (each with SecretClockSkew of tolerance), its start is at most 3 years ahead, a zero start became now and
//     a zero expiration became start + 6 months;
//   - a refused window yields an *apierror.FieldError naming startTime or expiration, and the reference
//     below agrees that it is invalid.
func FuzzSecretWindow(f *testing.F) {
	day := int64(24 * 3600)
	for _, s := range [][3]int64{
		{1796303673, 0, 0}, {1796303673, 1796303673 - 10*day, 1796303673 + 30*day},
		{1796303673, 0, 1796303673 + day}, {1796303673, 0, 1796303673 + day - 61},
		{1796303673, 1796303673 + 3*366*day, 0}, {1796303673, 0, 1796303673 + 3*365*day + 60},
		{1796303673, 1796303673 + 40*day, 1796303673 + 30*day}, {0, -62135596800, 253402300799},
	} {
		f.Add(s[0], int32(0), s[1], int32(0), s[2], int32(0))
	}
	const (
		minTS = -62135596800 // 0001-01-01T00:00:00Z, the protobuf Timestamp range
		maxTS = 253402300799 // 9999-12-31T23:59:59Z
	)
	f.Fuzz(func(t *testing.T, nowS int64, nowNS int32, startS int64, startNS int32, expS int64, expNS int32) {
		if nowS < 0 || nowS > 7258118400 || startS < minTS || startS > maxTS || expS < minTS || expS > maxTS ||
			nowNS < 0 || startNS < 0 || expNS < 0 || nowNS >= 1e9 || startNS >= 1e9 || expNS >= 1e9 {
			return
		}
		now := time.Unix(nowS, int64(nowNS)).In(time.FixedZone("caller", 8*3600))
		var start, exp time.Time
		if startS != 0 || startNS != 0 {
			start = time.Unix(startS, int64(startNS))
		}
		if expS != 0 || expNS != 0 {
			exp = time.Unix(expS, int64(expNS))
		}
		// The reference, written from docs/reference/admin-api.md#client-secrets.
		wantStart, wantExp := start, exp
		if wantStart.IsZero() {
			wantStart = now
		}
		if wantExp.IsZero() {
			wantExp = wantStart.AddDate(0, DefaultSecretLifetime, 0)
		}
		threeYears := now.AddDate(3, 0, 0)
		valid := !wantStart.After(threeYears) &&
			!wantExp.Before(now.Add(MinSecretLifetime-SecretClockSkew)) && !wantExp.After(threeYears.Add(SecretClockSkew)) &&
			wantExp.After(wantStart)

		gotStart, gotExp, err := SecretWindow(now, start, exp)
		if err != nil {
			var fe *apierror.FieldError
			if !errors.As(err, &fe) || (fe.Field != "startTime" && fe.Field != "expiration") {
				t.Fatalf("error %v does not name startTime or expiration", err)
			}
			if valid {
				t.Fatalf("SecretWindow(now %v, start %v, expiration %v) refused a valid window: %v", now, start, exp, err)
			}
			return
		}
		if !valid {
			t.Fatalf("SecretWindow(now %v, start %v, expiration %v) accepted %v – %v", now, start, exp, gotStart, gotExp)
		}
		if gotStart.Location() != time.UTC || gotExp.Location() != time.UTC {
			t.Fatalf("window not in UTC: %v – %v", gotStart, gotExp)
		}
		if !gotStart.Equal(wantStart) || !gotExp.Equal(wantExp) || !gotExp.After(gotStart) {
			t.Fatalf("window %v – %v, want %v – %v", gotStart, gotExp, wantStart, wantExp)
		}
		if gotExp.Sub(now) < MinSecretLifetime-SecretClockSkew || gotExp.After(now.AddDate(3, 0, 0).Add(SecretClockSkew)) {
			t.Fatalf("expiration %v out of bounds at %v", gotExp, now)
		}
	})
}
