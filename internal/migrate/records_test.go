package migrate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsuite/authsuite/internal/etcdtest"
	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/provider"
	provbolt "github.com/authsuite/authsuite/services/provider/bboltstore"
	provetcd "github.com/authsuite/authsuite/services/provider/etcdstore"
	"github.com/authsuite/authsuite/services/token"
	tokbolt "github.com/authsuite/authsuite/services/token/bboltstore"
	toketcd "github.com/authsuite/authsuite/services/token/etcdstore"
)

// same fails the test unless got and want encode to the same JSON (times compared as instants in UTC).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s on etcd:\n got %s\nwant %s", what, g, w)
	}
}

// TestMain runs the package's tests in UTC: bbolt keeps sign-in expiries as Unix seconds and reads them in
// the local zone, and TestMigrateEveryRecordKind compares records as JSON. Set before any test starts a
// goroutine that reads the clock.
func TestMain(m *testing.M) {
	time.Local = time.UTC
	os.Exit(m.Run())
}

// TestMigrateEveryRecordKind: one record of every kind the token and provider services keep, every field
// set, written to bbolt through the stores, exported and imported into etcd, reads back from the etcd stores
// exactly as bbolt exported it: sign-in state (interaction, session with its SID index, code, refresh token
// with its chain, consent, login failures) and providers, connectors (sealed grant, refresh lease) and
// pending authorizations.
func TestMigrateEveryRecordKind(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	key := func(s string) []byte { return []byte(s + "-0123456789abcdef0123456789") }

	tok, err := tokbolt.Open(filepath.Join(dir, "token.db"))
	if err != nil {
		t.Fatal(err)
	}
	in := token.Interaction{ID: key("in"), ClientID: "web", TenantID: "t", RedirectURI: "https://a.example/cb", Scopes: []string{"openid"},
		State: "st", Nonce: "n", CodeChallenge: "cc", Prompt: []string{"login"}, MaxAge: 60, LoginHint: "alice", ResponseMode: "query",
		UserID: "u", UserName: "alice", SessionID: key("se"), Expiry: exp}
	se := token.Session{ID: key("se"), SID: "sid-1", UserID: "u", UserName: "alice", TenantID: "t", AuthTime: t0, Clients: []string{"web"}, Expiry: exp, Incarnation: "inc"}
	co := token.AuthCode{Hash: key("co"), ClientID: "web", TenantID: "t", UserID: "u", RedirectURI: "https://a.example/cb", Scopes: []string{"openid"},
		Nonce: "n", CodeChallenge: "cc", SID: "sid-1", AuthTime: t0, FamilyID: "fam", Expiry: exp, Incarnation: "inc"}
	rt := token.RefreshToken{Hash: key("rt"), FamilyID: "fam", ClientID: "web", TenantID: "t", UserID: "u", Scopes: []string{"openid", "offline_access"},
		SID: "sid-1", AuthTime: t0, Used: true, Expiry: exp, Incarnation: "inc", IssueTime: t0, Successor: key("rt2"), SealedSuccessor: []byte("sealed"),
		GraceUntil: t0.Add(time.Minute), Predecessor: key("rt0")}
	cn := token.Consent{TenantID: "t", UserID: "u", ClientID: "web", Scopes: []string{"openid"}, Expiry: exp, Incarnation: "inc"}
	lf := token.LoginFailures{Key: "acct:t:u", Count: 3, Pending: 1, Last: t0, LockedUntil: t0.Add(time.Hour), Expiry: exp}
	for _, err := range []error{tok.PutInteraction(ctx, in), tok.PutSession(ctx, se), tok.PutCode(ctx, co), tok.PutRefreshToken(ctx, rt), tok.PutConsent(ctx, cn)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tok.UpdateLoginFailureSet(ctx, []string{lf.Key}, func([]token.LoginFailures) ([]token.LoginFailures, error) { return []token.LoginFailures{lf}, nil }); err != nil {
		t.Fatal(err)
	}
	tok.Close()

	prov, err := provbolt.Open(filepath.Join(dir, "provider.db"))
	if err != nil {
		t.Fatal(err)
	}
	pk := provider.ProviderKey{Type: "github", Name: "gh"}
	if err := prov.PutProviders(ctx, []provider.Provider{{ProviderKey: pk, Settings: provider.Settings{ClientID: "cid", AuthURL: "https://gh.example/auth"},
		SealedSecret: []byte("sealed-secret"), UpdateTime: t0}}); err != nil {
		t.Fatal(err)
	}
	conn := provider.Connector{ID: "conn-1", Provider: pk, Kind: provider.KindSession, TenantID: "t", Owner: "u", Status: provider.StatusActive,
		ReturnTo: "https://a.example/", Scopes: []string{"repo"}, SealedGrant: []byte("sealed-grant"), CreateTime: t0, UpdateTime: t0,
		RefreshHolder: "replica-a", RefreshUntil: t0.Add(time.Minute)}
	st := provider.AuthState{Hash: key("state"), ConnectorID: "conn-1", SealedVerifier: []byte("sealed-verifier"), Expiry: exp}
	if err := prov.CreateConnector(ctx, conn, provider.AuthState{}); err != nil {
		t.Fatal(err)
	}
	if err := prov.PutAuthState(ctx, st); err != nil {
		t.Fatal(err)
	}
	prov.Close()

	kr, _ := suitekey.Parse(suitekey.Generate())
	snaps, rec, err := ReadDir(ctx, dir, kr)
	if err != nil {
		t.Fatal(err)
	}
	cli := etcdtest.Start(t, 3).Client(t)
	if err := Import(ctx, cli, "/kinds/", "test", snaps, rec); err != nil {
		t.Fatal(err)
	}

	et, err := toketcd.Open(ctx, cli, "/kinds/")
	if err != nil {
		t.Fatal(err)
	}
	defer et.Close()
	ts := snaps.Token
	if len(ts.Interactions) != 1 || len(ts.Sessions) != 1 || len(ts.Codes) != 1 || len(ts.RefreshTokens) != 1 || len(ts.Consents) != 1 || len(ts.LoginFailures) != 1 {
		t.Fatalf("bbolt exported %v", snaps.Counts())
	}
	gotIn, err := et.Interaction(ctx, in.ID)
	same(t, "interaction", gotIn, ts.Interactions[0])
	gotSe, err2 := et.SessionBySID(ctx, "sid-1")
	same(t, "session by SID", gotSe, ts.Sessions[0])
	var gotCo token.AuthCode
	_, err3 := et.ConsumeCode(ctx, co.Hash, func(c token.AuthCode) error { gotCo = c; return context.Canceled })
	same(t, "code", gotCo, ts.Codes[0])
	gotRt, err4 := et.RefreshToken(ctx, rt.Hash)
	same(t, "refresh token", gotRt, ts.RefreshTokens[0])
	gotCn, err5 := et.Consent(ctx, "t", "u", "web")
	same(t, "consent", gotCn, ts.Consents[0])
	gotLf, err6 := et.LoginFailures(ctx, lf.Key)
	same(t, "login failures", gotLf, ts.LoginFailures[0])
	for i, err := range []error{err, err2, err4, err5, err6} {
		if err != nil {
			t.Errorf("read %d on etcd: %v", i, err)
		}
	}
	if err3 != context.Canceled {
		t.Errorf("code on etcd: %v", err3)
	}

	ep, err := provetcd.Open(ctx, cli, "/kinds/")
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	ps, err := ep.ListProviders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "providers", ps, snaps.Provider.Providers)
	gotConn, err := ep.GetConnector(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "connector", gotConn, snaps.Provider.Connectors[0])
	gotSt, err := ep.TakeAuthState(ctx, st.Hash)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "pending authorization", gotSt, snaps.Provider.AuthStates[0])
	same(t, "the exported connector", snaps.Provider.Connectors[0], conn)
}
