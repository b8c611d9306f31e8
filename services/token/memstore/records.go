package memstore

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// Record forms of the store's types. They are private and share no memory with a caller: every value is
// copied field by field (slices and byte slices cloned) when it enters the store and again when it leaves.
// The conversions normalise the way the bbolt store's encoding does, so both backends answer alike:
// expiries are whole seconds (truncated, as the bbolt store keeps them), lists and byte strings that the
// bbolt encoding omits when empty read back as nil, and times lose their monotonic clock reading.

// wall drops the monotonic clock reading, as an encoded and decoded time does.
func wall(t time.Time) time.Time { return t.Round(0) }

// expiry is an expiry as stored: whole Unix seconds.
func expiry(t time.Time) time.Time { return time.Unix(t.Unix(), 0) }

// omitted clones b, or answers nil when it is empty (a field the bbolt encoding omits when empty).
func omitted(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// omittedList clones l, or answers nil when it is empty.
func omittedList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return slices.Clone(l)
}

type keyRec struct {
	id, alg                string
	private                []byte
	createTime, retireTime time.Time
}

func keyToRec(k token.SigningKey) *keyRec {
	return &keyRec{id: k.ID, alg: k.Alg, private: bytes.Clone(k.Private), createTime: wall(k.CreateTime), retireTime: wall(k.RetireTime)}
}

func (r *keyRec) domain() token.SigningKey {
	return token.SigningKey{ID: r.id, Alg: r.alg, Private: bytes.Clone(r.private), CreateTime: r.createTime, RetireTime: r.retireTime}
}

type interactionRec struct {
	clientID, tenantID, redirectURI string
	scopes                          []string
	state, nonce, codeChallenge     string
	prompt                          []string
	maxAge                          int64
	loginHint, responseMode         string
	userID, userName                string
	sessionID                       []byte
	logout                          bool
	expiry                          time.Time
	resources                       []string
	signIn                          token.SignInState
}

func interactionToRec(i token.Interaction) *interactionRec {
	return &interactionRec{clientID: i.ClientID, tenantID: i.TenantID, redirectURI: i.RedirectURI, scopes: slices.Clone(i.Scopes),
		state: i.State, nonce: i.Nonce, codeChallenge: i.CodeChallenge, prompt: omittedList(i.Prompt), maxAge: i.MaxAge,
		loginHint: i.LoginHint, responseMode: i.ResponseMode, userID: i.UserID, userName: i.UserName,
		sessionID: omitted(i.SessionID), logout: i.Logout, expiry: expiry(i.Expiry), resources: omittedList(i.Resources),
		signIn: asStored(i.SignInState)}
}

func (r *interactionRec) domain(id string) token.Interaction {
	return token.Interaction{ID: []byte(id), ClientID: r.clientID, TenantID: r.tenantID, RedirectURI: r.redirectURI,
		Scopes: slices.Clone(r.scopes), State: r.state, Nonce: r.nonce, CodeChallenge: r.codeChallenge,
		Prompt: slices.Clone(r.prompt), MaxAge: r.maxAge, LoginHint: r.loginHint, ResponseMode: r.responseMode,
		UserID: r.userID, UserName: r.userName, SessionID: bytes.Clone(r.sessionID), Logout: r.logout, Expiry: r.expiry,
		Resources: slices.Clone(r.resources), SignInState: r.signIn.Clone()}
}

type sessionRec struct {
	sid, userID, userName, tenantID string
	authTime                        time.Time
	clients                         []string
	expiry                          time.Time
	incarnation                     string
	authn                           token.Authn
}

func sessionToRec(s token.Session) *sessionRec {
	return &sessionRec{sid: s.SID, userID: s.UserID, userName: s.UserName, tenantID: s.TenantID, authTime: wall(s.AuthTime),
		clients: omittedList(s.Clients), expiry: expiry(s.Expiry), incarnation: s.Incarnation, authn: asStored(s.Authn)}
}

func (r *sessionRec) domain(id string) token.Session {
	return token.Session{ID: []byte(id), SID: r.sid, UserID: r.userID, UserName: r.userName, TenantID: r.tenantID,
		AuthTime: r.authTime, Clients: slices.Clone(r.clients), Expiry: r.expiry, Incarnation: r.incarnation,
		Authn: r.authn.Clone()}
}

type codeRec struct {
	clientID, tenantID, userID, redirectURI string
	scopes                                  []string
	nonce, codeChallenge, sid               string
	authTime                                time.Time
	familyID                                string
	used                                    bool
	expiry                                  time.Time
	incarnation                             string
	resources                               []string
	authn                                   token.Authn
}

func codeToRec(c token.AuthCode) *codeRec {
	return &codeRec{clientID: c.ClientID, tenantID: c.TenantID, userID: c.UserID, redirectURI: c.RedirectURI,
		scopes: slices.Clone(c.Scopes), nonce: c.Nonce, codeChallenge: c.CodeChallenge, sid: c.SID, authTime: wall(c.AuthTime),
		familyID: c.FamilyID, used: c.Used, expiry: expiry(c.Expiry), incarnation: c.Incarnation, resources: omittedList(c.Resources),
		authn: asStored(c.Authn)}
}

func (r *codeRec) domain(hash string) token.AuthCode {
	return token.AuthCode{Hash: []byte(hash), ClientID: r.clientID, TenantID: r.tenantID, UserID: r.userID,
		RedirectURI: r.redirectURI, Scopes: slices.Clone(r.scopes), Nonce: r.nonce, CodeChallenge: r.codeChallenge,
		SID: r.sid, AuthTime: r.authTime, FamilyID: r.familyID, Used: r.used, Expiry: r.expiry, Incarnation: r.incarnation,
		Resources: slices.Clone(r.resources), Authn: r.authn.Clone()}
}

type refreshRec struct {
	familyID, clientID, tenantID, userID string
	scopes                               []string
	sid                                  string
	authTime                             time.Time
	used                                 bool
	expiry                               time.Time
	incarnation                          string
	issueTime                            time.Time
	successor, sealedSuccessor           []byte
	graceUntil                           time.Time
	predecessor                          []byte
	resources                            []string
	authn                                token.Authn
}

func refreshToRec(t token.RefreshToken) *refreshRec {
	return &refreshRec{familyID: t.FamilyID, clientID: t.ClientID, tenantID: t.TenantID, userID: t.UserID,
		scopes: slices.Clone(t.Scopes), sid: t.SID, authTime: wall(t.AuthTime), used: t.Used, expiry: expiry(t.Expiry),
		incarnation: t.Incarnation, issueTime: wall(t.IssueTime), successor: omitted(t.Successor),
		sealedSuccessor: omitted(t.SealedSuccessor), graceUntil: wall(t.GraceUntil), predecessor: omitted(t.Predecessor),
		resources: omittedList(t.Resources), authn: asStored(t.Authn)}
}

func (r *refreshRec) domain(hash string) token.RefreshToken {
	return token.RefreshToken{Hash: []byte(hash), FamilyID: r.familyID, ClientID: r.clientID, TenantID: r.tenantID,
		UserID: r.userID, Scopes: slices.Clone(r.scopes), SID: r.sid, AuthTime: r.authTime, Used: r.used, Expiry: r.expiry,
		Incarnation: r.incarnation, IssueTime: r.issueTime, Successor: bytes.Clone(r.successor),
		SealedSuccessor: bytes.Clone(r.sealedSuccessor), GraceUntil: r.graceUntil, Predecessor: bytes.Clone(r.predecessor),
		Resources: slices.Clone(r.resources), Authn: r.authn.Clone()}
}

type consentRec struct {
	tenantID, userID, clientID string
	scopes                     []string
	expiry                     time.Time
	incarnation                string
}

func consentToRec(c token.Consent) *consentRec {
	return &consentRec{tenantID: c.TenantID, userID: c.UserID, clientID: c.ClientID, scopes: slices.Clone(c.Scopes),
		expiry: expiry(c.Expiry), incarnation: c.Incarnation}
}

func (r *consentRec) domain() token.Consent {
	return token.Consent{TenantID: r.tenantID, UserID: r.userID, ClientID: r.clientID, Scopes: slices.Clone(r.scopes),
		Expiry: r.expiry, Incarnation: r.incarnation}
}

type failuresRec struct {
	count, pending    int
	last, lockedUntil time.Time
	expiry            time.Time
}

func failuresToRec(f token.LoginFailures) *failuresRec {
	return &failuresRec{count: f.Count, pending: f.Pending, last: wall(f.Last), lockedUntil: wall(f.LockedUntil), expiry: expiry(f.Expiry)}
}

func (r *failuresRec) domain(key string) token.LoginFailures {
	return token.LoginFailures{Key: key, Count: r.count, Pending: r.pending, Last: r.last, LockedUntil: r.lockedUntil, Expiry: r.expiry}
}

// sidEntry is an entry of the session-by-SID index: the session's key and the expiry it was written with.
type sidEntry struct {
	id     string
	expiry time.Time
}

// asStored returns v as the durable stores give it back: through its own JSON encoding, so that empty lists
// read back as nil there and here alike. v's types marshal without error (plain strings, byte and string
// slices).
func asStored[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // unreachable for the types stored here
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
