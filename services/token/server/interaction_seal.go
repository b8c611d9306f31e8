package server

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/authsuite/authsuite/internal/suitekey"
	"github.com/authsuite/authsuite/services/token"
	"github.com/authsuite/authsuite/services/token/clients"
)

// A login page does not cost a write. Until the user submits the login form, the validated authorization
// request (OIDC Core §3.1.2.1) travels in the page as a sealed interaction id: AES-256-GCM under the suite
// keyring (suitekey.Seal: key id, random nonce, authenticated), with its expiry inside. Only the token
// service can make or open one; a changed byte makes it unopenable. It is stored as a regular interaction
// only once the user signed in and a consent page follows.
//
// A sealed id can be submitted more than once until it expires, as the login page itself can be reloaded:
// each submission needs the user's password and passes the login throttle, exactly like a new request.

const (
	// sealedInteractionPrefix starts every sealed interaction id; stored ids are 43 base64url characters
	// and never contain a dot.
	sealedInteractionPrefix = "s1."
	// maxSealedInteraction bounds what openInteraction decodes: the authorization request is at most
	// maxAuthorizeParams bytes, sealed and base64url-encoded well within this.
	maxSealedInteraction = 64 << 10
)

// sealedInteractionAAD binds sealed values to their use: a record sealed for another purpose under the
// same keyring never opens as an interaction.
var sealedInteractionAAD = []byte("authsuite token interaction v1")

// sealedInteraction is the sealed plaintext: the interaction and its expiry. Its member names are the
// format of ids already handed out, so they stay as they are.
type sealedInteraction struct {
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
	Exp           int64    `json:"exp"` // Unix seconds
	// What the login page needs of the SignInState: why the interaction exists, the languages and the
	// authentication context classes asked for. All bounded by the authorization request's parser
	// (validUILocales, parseACRValues) and by maxSealedInteraction.
	Purpose      string   `json:"purpose,omitempty"`
	DeviceCodeID []byte   `json:"device_code_id,omitempty"`
	UILocales    []string `json:"ui_locales,omitempty"`
	ACRValues    []string `json:"acr_values,omitempty"`
}

func sealedFrom(in *token.Interaction, exp int64) sealedInteraction {
	return sealedInteraction{ClientID: in.ClientID, TenantID: in.TenantID, RedirectURI: in.RedirectURI,
		Scopes: in.Scopes, State: in.State, Nonce: in.Nonce, CodeChallenge: in.CodeChallenge, Prompt: in.Prompt,
		MaxAge: in.MaxAge, LoginHint: in.LoginHint, ResponseMode: in.ResponseMode, UserID: in.UserID,
		UserName: in.UserName, SessionID: in.SessionID, Logout: in.Logout, Resources: in.Resources, Exp: exp,
		Purpose: in.Purpose, DeviceCodeID: in.DeviceCodeID, UILocales: in.UILocales, ACRValues: in.ACRValues}
}

func (si sealedInteraction) interaction() token.Interaction {
	return token.Interaction{ClientID: si.ClientID, TenantID: si.TenantID, RedirectURI: si.RedirectURI,
		Scopes: si.Scopes, State: si.State, Nonce: si.Nonce, CodeChallenge: si.CodeChallenge, Prompt: si.Prompt,
		MaxAge: si.MaxAge, LoginHint: si.LoginHint, ResponseMode: si.ResponseMode, UserID: si.UserID,
		UserName: si.UserName, SessionID: si.SessionID, Logout: si.Logout, Resources: si.Resources, Expiry: time.Unix(si.Exp, 0),
		SignInState: token.SignInState{Purpose: si.Purpose, DeviceCodeID: si.DeviceCodeID, UILocales: si.UILocales, ACRValues: si.ACRValues}}
}

func isSealedInteraction(id string) bool { return strings.HasPrefix(id, sealedInteractionPrefix) }

// sealInteraction returns the sealed id of a new (not stored) interaction, valid for InteractionLifetime.
func (s *Server) sealInteraction(in *token.Interaction) (string, error) {
	b, err := json.Marshal(sealedFrom(in, s.now().Add(InteractionLifetime).Unix()))
	if err != nil {
		return "", err
	}
	return sealedInteractionPrefix + base64.RawURLEncoding.EncodeToString(s.kr.Seal(b, sealedInteractionAAD)), nil
}

// openInteraction returns the interaction sealed in id and its client, or errInteractionGone when id was not
// made by sealInteraction under a key of the ring (tampered, truncated, another key), has expired, or names
// a client that no longer exists in its tenant. The interaction it returns is not stored (ID is nil).
func (s *Server) openInteraction(id string) (*token.Interaction, *clients.Client, error) {
	in, ok := unsealInteraction(s.kr, s.now(), id)
	if !ok {
		return nil, nil, errInteractionGone
	}
	cl, ok := s.interactionClient(in)
	if !ok {
		return nil, nil, errInteractionGone
	}
	return in, cl, nil
}

// unsealInteraction opens a sealed interaction id made under a key of kr that is still live at now. It
// never panics; it answers false for anything else.
func unsealInteraction(kr *suitekey.Keyring, now time.Time, id string) (*token.Interaction, bool) {
	if !isSealedInteraction(id) || len(id) > maxSealedInteraction {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(id[len(sealedInteractionPrefix):])
	if err != nil {
		return nil, false
	}
	plain, err := kr.Open(raw, sealedInteractionAAD)
	if err != nil {
		return nil, false
	}
	var si sealedInteraction
	// Only a sign-in to the account page has no client (token.PurposeAccount).
	if err := json.Unmarshal(plain, &si); err != nil || si.Logout || si.UserID != "" || (si.ClientID == "") != (si.Purpose == token.PurposeAccount) {
		return nil, false
	}
	in := si.interaction()
	if !now.Before(in.Expiry) {
		return nil, false
	}
	return &in, true
}
