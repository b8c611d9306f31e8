package bboltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/bboltstore"
)

// The records below are byte for byte what earlier builds wrote (they encoded the domain types' JSON): one
// record with every member set and one with none, per bucket. TestRecordFormat holds the store to them in
// both directions, so files written by earlier builds read identically and earlier builds read what this one
// writes.
var (
	formatTime = time.Unix(1_700_000_000, 123_000_000).UTC()
	formatExp  = time.Unix(1_700_003_600, 0)
)

type formatCase struct {
	name   string
	bucket string
	key    string
	raw    string // the JSON after the 8-byte expiry
	put    func(s *bboltstore.Store) error
	get    func(s *bboltstore.Store) (any, error)
	want   any
}

func formatCases() []formatCase {
	k := []byte("key-0123456789abcdef0123456789ab")
	ctx := context.Background()
	full := formatTime
	fullInteraction := token.Interaction{ID: k, ClientID: "c1", TenantID: "t1", RedirectURI: "https://rp.example/cb",
		Scopes: []string{"openid", "email"}, State: "st", Nonce: "n", CodeChallenge: "cc", Prompt: []string{"login"},
		MaxAge: 300, LoginHint: "lh", ResponseMode: "form_post", UserID: "u1", UserName: "alice",
		SessionID: []byte{1, 2, 3}, Logout: true, Expiry: formatExp}
	emptyInteraction := token.Interaction{ID: k, MaxAge: -1, Expiry: formatExp}
	fullSession := token.Session{ID: k, SID: "sid1", UserID: "u1", UserName: "alice", TenantID: "t1", AuthTime: full,
		Clients: []string{"c1", "c2"}, Expiry: formatExp, Incarnation: "inc1"}
	emptySession := token.Session{ID: k, Expiry: formatExp, AuthTime: time.Time{}}
	fullCode := token.AuthCode{Hash: k, ClientID: "c1", TenantID: "t1", UserID: "u1", RedirectURI: "https://rp.example/cb",
		Scopes: []string{"openid"}, Nonce: "n", CodeChallenge: "cc", SID: "sid1", AuthTime: full, FamilyID: "f1",
		Used: true, Expiry: formatExp, Incarnation: "inc1"}
	emptyCode := token.AuthCode{Hash: k, Expiry: formatExp}
	fullRefresh := token.RefreshToken{Hash: k, FamilyID: "f1", ClientID: "c1", TenantID: "t1", UserID: "u1",
		Scopes: []string{"openid", "offline_access"}, SID: "sid1", AuthTime: full, Used: true, Expiry: formatExp,
		Incarnation: "inc1", IssueTime: full, Successor: []byte("succ"), SealedSuccessor: []byte("sealed"),
		GraceUntil: full, Predecessor: []byte("pred")}
	emptyRefresh := token.RefreshToken{Hash: k, Expiry: formatExp}
	fullConsent := token.Consent{TenantID: "t1", UserID: "u1", ClientID: "c1", Scopes: []string{"openid"},
		Expiry: formatExp, Incarnation: "inc1"}
	fullFailures := token.LoginFailures{Key: string(k), Count: 3, Pending: 1, Last: full, LockedUntil: full, Expiry: formatExp}
	emptyFailures := token.LoginFailures{Key: string(k), Count: 0, Expiry: formatExp}
	// A record with Count 0 and no lock is deleted rather than stored, so the empty one is written raw only.
	setFailures := func(f token.LoginFailures) func(s *bboltstore.Store) error {
		return func(s *bboltstore.Store) error {
			_, err := s.UpdateLoginFailureSet(ctx, []string{f.Key}, func([]token.LoginFailures) ([]token.LoginFailures, error) {
				return []token.LoginFailures{f}, nil
			})
			return err
		}
	}
	return []formatCase{
		{"interaction", "interactions", string(k),
			`{"client_id":"c1","tenant_id":"t1","redirect_uri":"https://rp.example/cb","scopes":["openid","email"],"state":"st","nonce":"n","code_challenge":"cc","prompt":["login"],"max_age":300,"login_hint":"lh","response_mode":"form_post","user_id":"u1","user_name":"alice","session_id":"AQID","logout":true}`,
			func(s *bboltstore.Store) error { return s.PutInteraction(ctx, fullInteraction) },
			func(s *bboltstore.Store) (any, error) { return s.Interaction(ctx, k) }, fullInteraction},
		{"empty interaction", "interactions", string(k),
			`{"client_id":"","tenant_id":"","redirect_uri":"","scopes":null,"max_age":-1}`,
			func(s *bboltstore.Store) error { return s.PutInteraction(ctx, emptyInteraction) },
			func(s *bboltstore.Store) (any, error) { return s.Interaction(ctx, k) }, emptyInteraction},
		{"session", "sessions", string(k),
			`{"sid":"sid1","user_id":"u1","user_name":"alice","tenant_id":"t1","auth_time":"2023-11-14T22:13:20.123Z","clients":["c1","c2"],"incarnation":"inc1"}`,
			func(s *bboltstore.Store) error { return s.PutSession(ctx, fullSession) },
			func(s *bboltstore.Store) (any, error) { return s.Session(ctx, k) }, fullSession},
		{"empty session", "sessions", string(k),
			`{"sid":"","user_id":"","tenant_id":"","auth_time":"0001-01-01T00:00:00Z"}`,
			func(s *bboltstore.Store) error { return s.PutSession(ctx, emptySession) },
			func(s *bboltstore.Store) (any, error) { return s.Session(ctx, k) }, emptySession},
		{"code", "auth_codes", string(k),
			`{"client_id":"c1","tenant_id":"t1","user_id":"u1","redirect_uri":"https://rp.example/cb","scopes":["openid"],"nonce":"n","code_challenge":"cc","sid":"sid1","auth_time":"2023-11-14T22:13:20.123Z","family_id":"f1","used":true,"incarnation":"inc1"}`,
			func(s *bboltstore.Store) error { return s.PutCode(ctx, fullCode) },
			func(s *bboltstore.Store) (any, error) {
				return s.ConsumeCode(ctx, k, func(token.AuthCode) error { return nil }) // used: answers the code
			}, fullCode},
		{"empty code", "auth_codes", string(k),
			`{"client_id":"","tenant_id":"","user_id":"","redirect_uri":"","scopes":null,"sid":"","auth_time":"0001-01-01T00:00:00Z","family_id":""}`,
			func(s *bboltstore.Store) error { return s.PutCode(ctx, emptyCode) },
			nil, nil},
		{"refresh token", "refresh_tokens", string(k),
			`{"family_id":"f1","client_id":"c1","tenant_id":"t1","user_id":"u1","scopes":["openid","offline_access"],"sid":"sid1","auth_time":"2023-11-14T22:13:20.123Z","used":true,"incarnation":"inc1","issue_time":"2023-11-14T22:13:20.123Z","successor":"c3VjYw==","sealed_successor":"c2VhbGVk","grace_until":"2023-11-14T22:13:20.123Z","predecessor":"cHJlZA=="}`,
			func(s *bboltstore.Store) error { return s.PutRefreshToken(ctx, fullRefresh) },
			func(s *bboltstore.Store) (any, error) { return s.RefreshToken(ctx, k) }, fullRefresh},
		{"empty refresh token", "refresh_tokens", string(k),
			`{"family_id":"","client_id":"","tenant_id":"","user_id":"","scopes":null,"auth_time":"0001-01-01T00:00:00Z"}`,
			func(s *bboltstore.Store) error { return s.PutRefreshToken(ctx, emptyRefresh) },
			func(s *bboltstore.Store) (any, error) { return s.RefreshToken(ctx, k) }, emptyRefresh},
		{"consent", "consents", "t1\x00u1\x00c1",
			`{"tenant_id":"t1","user_id":"u1","client_id":"c1","scopes":["openid"],"incarnation":"inc1"}`,
			func(s *bboltstore.Store) error { return s.PutConsent(ctx, fullConsent) },
			func(s *bboltstore.Store) (any, error) { return s.Consent(ctx, "t1", "u1", "c1") }, fullConsent},
		{"login failures", "login_failures", string(k),
			`{"count":3,"pending":1,"last":"2023-11-14T22:13:20.123Z","locked_until":"2023-11-14T22:13:20.123Z"}`,
			setFailures(fullFailures),
			func(s *bboltstore.Store) (any, error) { return s.LoginFailures(ctx, string(k)) }, fullFailures},
		{"empty login failures", "login_failures", string(k),
			`{"count":0,"last":"0001-01-01T00:00:00Z"}`,
			nil,
			func(s *bboltstore.Store) (any, error) { return s.LoginFailures(ctx, string(k)) }, emptyFailures},
	}
}

func rawRecord(json string) []byte {
	out := make([]byte, 8, 8+len(json))
	binary.BigEndian.PutUint64(out, uint64(formatExp.Unix()))
	return append(out, json...)
}

// TestRecordFormat: a record as earlier builds wrote it reads back as the domain value, and writing that
// value stores the very same bytes.
func TestRecordFormat(t *testing.T) {
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token.db")
			s, err := bboltstore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tc.get != nil {
				if err := s.DB().Update(func(tx *bolt.Tx) error {
					return tx.Bucket([]byte(tc.bucket)).Put([]byte(tc.key), rawRecord(tc.raw))
				}); err != nil {
					t.Fatal(err)
				}
				got, err := tc.get(s)
				if err != nil && !(tc.name == "code" && errors.Is(err, token.ErrUsed)) {
					t.Fatalf("read: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("read %+v\nwant %+v", got, tc.want)
				}
			}
			if tc.put == nil {
				return
			}
			if err := s.DB().Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(tc.bucket)).Delete([]byte(tc.key)) }); err != nil {
				t.Fatal(err)
			}
			if err := tc.put(s); err != nil {
				t.Fatalf("write: %v", err)
			}
			var stored []byte
			s.DB().View(func(tx *bolt.Tx) error {
				stored = bytes.Clone(tx.Bucket([]byte(tc.bucket)).Get([]byte(tc.key)))
				return nil
			})
			if want := rawRecord(tc.raw); !bytes.Equal(stored, want) {
				t.Fatalf("wrote %q\nwant  %q", stored, want)
			}
		})
	}
}
