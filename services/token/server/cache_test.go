package server

import (
	"context"
	"testing"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

func (e *env) known(id string) bool { _, ok := e.srv.cache.Get(id); return ok }

func TestCacheResyncsAfterStreamBreaks(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("gone", "default", allGrants, nil, 0, secretSpec{id: "g", value: "pw-gone"}))
	e.awaitRegistry()
	syncs := e.srv.cache.Syncs()

	// The stream breaks; while the token service is away a client is deleted, one is created and svc's
	// secret is replaced — none of which it is told about.
	e.reg.breakStreams(true)
	e.reg.del("gone", true)
	e.reg.putQuiet(e.reg.record("new", "default", allGrants, nil, 0, secretSpec{id: "n", value: "pw-new"}))
	e.reg.putQuiet(e.reg.record("svc", "default", allGrants, []string{"read"}, 0, secretSpec{id: "sec2", value: "rotated"}))
	// Meanwhile the old content keeps serving.
	e.mustToken("svc", svcSecret, "")
	e.mustToken("gone", "pw-gone", "")

	e.reg.allow()
	e.awaitRegistry() // the quiet changes moved the revision: only a resync reaches it
	if e.srv.cache.Syncs() <= syncs || e.known("gone") || !e.known("new") {
		t.Fatal("resync did not replace the content")
	}
	_, err := e.token("svc", svcSecret, "")
	wantOAuth(t, err, apierror.InvalidClient, 401)
	e.mustToken("svc", "rotated", "")
	e.mustToken("new", "pw-new", "")
	// Live changes flow again after the resync.
	e.reg.put(e.reg.record("later", "default", allGrants, nil, 0, secretSpec{id: "l", value: "pw-later"}))
	e.awaitRegistryWithin(time.Second)
	if !e.known("later") {
		t.Fatal("live event after reconnect not applied")
	}
}

func TestRegistryDownKnownClientsKeepWorking(t *testing.T) {
	e := newEnv(t)
	tok := e.mustToken("svc", svcSecret, "")
	e.regStop()
	for range 5 {
		if _, err := e.token("svc", svcSecret, ""); err != nil {
			t.Fatalf("registry down: %v", err)
		}
	}
	if _, err := e.check(tok); err != nil {
		t.Fatal(err)
	}
	_, err := e.token("svc", "wrong", "")
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

func TestRestartDuringRegistryOutageUsesPersistedSnapshot(t *testing.T) {
	e := newEnv(t)
	waitFor(t, 5*time.Second, "snapshot written", func() bool { return e.srv.cache.Writes() > 0 })
	writes := e.srv.cache.Writes()
	e.reg.put(e.reg.record("second", "default", allGrants, nil, 0, secretSpec{id: "s", value: "pw-second"}))
	waitFor(t, 5*time.Second, "change persisted", func() bool { return e.srv.cache.Writes() > writes })
	e.stopRun()
	e.regStop()

	e.start() // Ready comes from token.db: the registry is unreachable
	if e.srv.cache.Syncs() != 0 {
		t.Fatal("synced with a stopped registry?")
	}
	e.mustToken("svc", svcSecret, "")
	e.mustToken("second", "pw-second", "")
	_, err := e.token("ghost", "x", "")
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

func TestSnapshotWrittenOnlyWhenChanged(t *testing.T) {
	e := newEnv(t)
	waitFor(t, 5*time.Second, "snapshot written", func() bool { return e.srv.cache.Writes() > 0 })
	writes := e.srv.cache.Writes()
	syncs := e.srv.cache.Syncs()
	e.reg.breakStreams(false) // reconnect, same content
	waitFor(t, 5*time.Second, "resync", func() bool { return e.srv.cache.Syncs() > syncs })
	if err := e.srv.cache.Persist(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.srv.cache.Writes() != writes {
		t.Fatalf("identical snapshot rewritten (%d → %d writes)", writes, e.srv.cache.Writes())
	}
}

func TestSecretAndClientDeletionTakeEffectWithinASecond(t *testing.T) {
	e := newEnv(t)
	e.mustToken("svc", svcSecret, "")
	start := time.Now()
	e.reg.put(e.reg.record("svc", "default", allGrants, []string{"read"}, 0)) // secret deleted
	e.awaitRegistryWithin(time.Second)
	_, err := e.token("svc", svcSecret, "")
	wantOAuth(t, err, apierror.InvalidClient, 401)
	t.Logf("secret deletion effective after %v", time.Since(start))

	e.reg.put(e.reg.record("svc", "default", allGrants, []string{"read"}, 0, secretSpec{id: "n", value: "pw-n"}))
	e.awaitRegistryWithin(time.Second)
	e.mustToken("svc", "pw-n", "")
	e.reg.del("svc", false)
	e.awaitRegistryWithin(time.Second)
	_, err = e.token("svc", "pw-n", "")
	wantOAuth(t, err, apierror.InvalidClient, 401)
}

func TestSecretUsesFlushedInBatches(t *testing.T) {
	e := newEnv(t)
	e.reg.put(e.reg.record("svc", "default", allGrants, []string{"read"}, 0,
		secretSpec{id: "sec1", value: svcSecret}, secretSpec{id: "sec2", value: "pw-two"}))
	e.awaitRegistry()
	for range 20 {
		e.mustToken("svc", svcSecret, "")
	}
	e.clock.Advance(time.Minute)
	last := e.clock.Now()
	e.mustToken("svc", "pw-two", "")
	if n := len(e.reg.useCalls()); n != 0 {
		t.Fatalf("%d RecordSecretUse calls before any flush; want none per request", n)
	}
	if err := e.srv.uses.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := e.reg.useCalls()
	if len(calls) != 1 || len(calls[0]) != 2 {
		t.Fatalf("calls = %v; want one call with two uses", calls)
	}
	for _, u := range calls[0] {
		if u.GetClientId() != "svc" || (u.GetSecretId() == "sec2" && !u.GetUsedTime().AsTime().Equal(last)) {
			t.Fatalf("use %v", u)
		}
	}
	// Nothing pending: no call.
	e.srv.uses.Flush(context.Background())
	if len(e.reg.useCalls()) != 1 {
		t.Fatal("empty flush called the registry")
	}
}

func TestSecretUsesFlushOnScheduleAndRetry(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.SecretUseFlushInterval = 20 * time.Millisecond })
	e.mustToken("svc", svcSecret, "")
	waitFor(t, 5*time.Second, "scheduled flush", func() bool { return len(e.reg.useCalls()) == 1 })

	// The registry refuses: the use is kept and delivered by a later flush.
	e.reg.failUses(true)
	e.mustToken("svc", svcSecret, "")
	waitFor(t, 5*time.Second, "failed flush attempt", func() bool { return e.reg.useAttempts() >= 2 })
	e.reg.failUses(false)
	waitFor(t, 5*time.Second, "retried flush", func() bool { return len(e.reg.useCalls()) == 2 })
	if u := e.reg.useCalls()[1]; len(u) != 1 || u[0].GetSecretId() != "sec1" {
		t.Fatalf("retried uses %v", u)
	}
}

var _ = registryv1.SecretUse{}
