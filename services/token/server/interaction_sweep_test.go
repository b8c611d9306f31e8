package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// TestExpiredSignInRecordsAreSweptPromptly: an expired interaction is deleted by the
// frequent sweep (SweepInterval), not left until the hourly maintenance; a live one stays.
func TestExpiredSignInRecordsAreSweptPromptly(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.SweepInterval = 20 * time.Millisecond })
	ctx := context.Background()
	now := e.clock.Now()
	expired := token.Interaction{ID: digest("old"), ClientID: "svc", TenantID: "default", Expiry: now.Add(time.Minute)}
	live := token.Interaction{ID: digest("new"), ClientID: "svc", TenantID: "default", Expiry: now.Add(time.Hour)}
	for _, in := range []token.Interaction{expired, live} {
		if err := e.st.PutInteraction(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(2 * time.Minute)
	waitFor(t, 5*time.Second, "expired interaction swept", func() bool {
		_, err := e.st.Interaction(ctx, expired.ID)
		return errors.Is(err, token.ErrNotFound)
	})
	if _, err := e.st.Interaction(ctx, live.ID); err != nil {
		t.Fatalf("the live interaction was swept: %v", err)
	}
}
