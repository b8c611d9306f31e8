package bboltstore

import (
	"time"

	"github.com/authsuite/authsuite/services/token"
)

// The stored forms of the sign-in records. Their JSON member names, their order and their omitempty rules
// are the file format: files written by earlier builds (which encoded the domain types themselves) must read
// back identically, and records written now must read in those builds. The key and the expiry are not in
// the JSON: the key is the bucket key, the expiry the record's 8-byte prefix (encodeRecord).

type interactionRecord struct {
	ClientID      string   `json:"client_id"`
	TenantID      string   `json:"tenant_id"`
	RedirectURI   string   `json:"redirect_uri"`
	Scopes        []string `json:"scopes"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge,omitempty"`
	Prompt        []string `json:"prompt,omitempty"`
	MaxAge        int64    `json:"max_age"`
	LoginHint     string   `json:"login_hint,omitempty"`
	ResponseMode  string   `json:"response_mode,omitempty"`
	UserID        string   `json:"user_id,omitempty"`
	UserName      string   `json:"user_name,omitempty"`
	SessionID     []byte   `json:"session_id,omitempty"`
	Logout        bool     `json:"logout,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	// SignIn is kept as the domain type's own JSON (token.SignInState carries the member names).
	SignIn token.SignInState `json:"sign_in,omitzero"`
}

func interactionToRecord(i token.Interaction) interactionRecord {
	return interactionRecord{ClientID: i.ClientID, TenantID: i.TenantID, RedirectURI: i.RedirectURI, Scopes: i.Scopes,
		State: i.State, Nonce: i.Nonce, CodeChallenge: i.CodeChallenge, Prompt: i.Prompt, MaxAge: i.MaxAge,
		LoginHint: i.LoginHint, ResponseMode: i.ResponseMode, UserID: i.UserID, UserName: i.UserName,
		SessionID: i.SessionID, Logout: i.Logout, Resources: i.Resources, SignIn: i.SignInState}
}

func (r interactionRecord) domain(id []byte, exp time.Time) token.Interaction {
	return token.Interaction{ID: id, ClientID: r.ClientID, TenantID: r.TenantID, RedirectURI: r.RedirectURI,
		Scopes: r.Scopes, State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, Prompt: r.Prompt,
		MaxAge: r.MaxAge, LoginHint: r.LoginHint, ResponseMode: r.ResponseMode, UserID: r.UserID,
		UserName: r.UserName, SessionID: r.SessionID, Logout: r.Logout, Resources: r.Resources, Expiry: exp,
		SignInState: r.SignIn}
}

type sessionRecord struct {
	SID         string      `json:"sid"`
	UserID      string      `json:"user_id"`
	UserName    string      `json:"user_name,omitempty"`
	TenantID    string      `json:"tenant_id"`
	AuthTime    time.Time   `json:"auth_time"`
	Clients     []string    `json:"clients,omitempty"`
	Incarnation string      `json:"incarnation,omitempty"`
	Authn       token.Authn `json:"authn,omitzero"`
}

func sessionToRecord(s token.Session) sessionRecord {
	return sessionRecord{SID: s.SID, UserID: s.UserID, UserName: s.UserName, TenantID: s.TenantID,
		AuthTime: s.AuthTime, Clients: s.Clients, Incarnation: s.Incarnation, Authn: s.Authn}
}

func (r sessionRecord) domain(id []byte, exp time.Time) token.Session {
	return token.Session{ID: id, SID: r.SID, UserID: r.UserID, UserName: r.UserName, TenantID: r.TenantID,
		AuthTime: r.AuthTime, Clients: r.Clients, Expiry: exp, Incarnation: r.Incarnation, Authn: r.Authn}
}

type codeRecord struct {
	ClientID      string      `json:"client_id"`
	TenantID      string      `json:"tenant_id"`
	UserID        string      `json:"user_id"`
	RedirectURI   string      `json:"redirect_uri"`
	Scopes        []string    `json:"scopes"`
	Nonce         string      `json:"nonce,omitempty"`
	CodeChallenge string      `json:"code_challenge,omitempty"`
	SID           string      `json:"sid"`
	AuthTime      time.Time   `json:"auth_time"`
	FamilyID      string      `json:"family_id"`
	Used          bool        `json:"used,omitempty"`
	Incarnation   string      `json:"incarnation,omitempty"`
	Resources     []string    `json:"resources,omitempty"`
	Authn         token.Authn `json:"authn,omitzero"`
}

func codeToRecord(c token.AuthCode) codeRecord {
	return codeRecord{ClientID: c.ClientID, TenantID: c.TenantID, UserID: c.UserID, RedirectURI: c.RedirectURI,
		Scopes: c.Scopes, Nonce: c.Nonce, CodeChallenge: c.CodeChallenge, SID: c.SID, AuthTime: c.AuthTime,
		FamilyID: c.FamilyID, Used: c.Used, Incarnation: c.Incarnation, Resources: c.Resources, Authn: c.Authn}
}

func (r codeRecord) domain(hash []byte, exp time.Time) token.AuthCode {
	return token.AuthCode{Hash: hash, ClientID: r.ClientID, TenantID: r.TenantID, UserID: r.UserID,
		RedirectURI: r.RedirectURI, Scopes: r.Scopes, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, SID: r.SID,
		AuthTime: r.AuthTime, FamilyID: r.FamilyID, Used: r.Used, Expiry: exp, Incarnation: r.Incarnation, Resources: r.Resources,
		Authn: r.Authn}
}

type refreshRecord struct {
	FamilyID        string      `json:"family_id"`
	ClientID        string      `json:"client_id"`
	TenantID        string      `json:"tenant_id"`
	UserID          string      `json:"user_id"`
	Scopes          []string    `json:"scopes"`
	SID             string      `json:"sid,omitempty"`
	AuthTime        time.Time   `json:"auth_time"`
	Used            bool        `json:"used,omitempty"`
	Incarnation     string      `json:"incarnation,omitempty"`
	IssueTime       time.Time   `json:"issue_time,omitzero"`
	Successor       []byte      `json:"successor,omitempty"`
	SealedSuccessor []byte      `json:"sealed_successor,omitempty"`
	GraceUntil      time.Time   `json:"grace_until,omitzero"`
	Predecessor     []byte      `json:"predecessor,omitempty"`
	Resources       []string    `json:"resources,omitempty"`
	Authn           token.Authn `json:"authn,omitzero"`
}

func refreshToRecord(t token.RefreshToken) refreshRecord {
	return refreshRecord{FamilyID: t.FamilyID, ClientID: t.ClientID, TenantID: t.TenantID, UserID: t.UserID,
		Scopes: t.Scopes, SID: t.SID, AuthTime: t.AuthTime, Used: t.Used, Incarnation: t.Incarnation,
		IssueTime: t.IssueTime, Successor: t.Successor, SealedSuccessor: t.SealedSuccessor, GraceUntil: t.GraceUntil,
		Predecessor: t.Predecessor, Resources: t.Resources, Authn: t.Authn}
}

func (r refreshRecord) domain(hash []byte, exp time.Time) token.RefreshToken {
	return token.RefreshToken{Hash: hash, FamilyID: r.FamilyID, ClientID: r.ClientID, TenantID: r.TenantID,
		UserID: r.UserID, Scopes: r.Scopes, SID: r.SID, AuthTime: r.AuthTime, Used: r.Used, Expiry: exp,
		Incarnation: r.Incarnation, IssueTime: r.IssueTime, Successor: r.Successor,
		SealedSuccessor: r.SealedSuccessor, GraceUntil: r.GraceUntil, Predecessor: r.Predecessor, Resources: r.Resources,
		Authn: r.Authn}
}

type consentRecord struct {
	TenantID    string   `json:"tenant_id"`
	UserID      string   `json:"user_id"`
	ClientID    string   `json:"client_id"`
	Scopes      []string `json:"scopes"`
	Incarnation string   `json:"incarnation,omitempty"`
}

func consentToRecord(c token.Consent) consentRecord {
	return consentRecord{TenantID: c.TenantID, UserID: c.UserID, ClientID: c.ClientID, Scopes: c.Scopes,
		Incarnation: c.Incarnation}
}

func (r consentRecord) domain(exp time.Time) token.Consent {
	return token.Consent{TenantID: r.TenantID, UserID: r.UserID, ClientID: r.ClientID, Scopes: r.Scopes,
		Expiry: exp, Incarnation: r.Incarnation}
}

type failuresRecord struct {
	Count       int       `json:"count"`
	Pending     int       `json:"pending,omitzero"`
	Last        time.Time `json:"last"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

func failuresToRecord(f token.LoginFailures) failuresRecord {
	return failuresRecord{Count: f.Count, Pending: f.Pending, Last: f.Last, LockedUntil: f.LockedUntil}
}

func (r failuresRecord) domain(key string, exp time.Time) token.LoginFailures {
	return token.LoginFailures{Key: key, Count: r.Count, Pending: r.Pending, Last: r.Last, LockedUntil: r.LockedUntil,
		Expiry: exp}
}
