package token

import (
	"bytes"
	"errors"
	"slices"
	"time"
)

// ErrUserCodeTaken is returned by PutDeviceCode when a live device authorization already has the user code:
// the caller draws another one (RFC 8628 §6.1: user codes must be unique among the live ones).
var ErrUserCodeTaken = errors.New("token store: user code in use")

// Device authorization states (DeviceCode.Status).
const (
	// DevicePending (the zero value): the person has not decided yet; the device is told
	// authorization_pending (RFC 8628 §3.5).
	DevicePending = ""
	// DeviceApproved: the person approved; the next poll gets the tokens.
	DeviceApproved = "approved"
	// DeviceDenied: the person denied; polls get access_denied.
	DeviceDenied = "denied"
	// DeviceRedeemed: the tokens were issued; the device code is used up (polls get invalid_grant).
	DeviceRedeemed = "redeemed"
)

// DeviceCode is a device authorization (RFC 8628 §3.2), found by the SHA-256 of its device code, or by the
// keyed digest of its user code (DeviceCodeByUserCode). It records what the device asked for and, once a
// person approved it on the verification page, who approved and how they authenticated, so that the token
// endpoint can issue exactly once. Backends keep it as its JSON (Hash and Expiry are their key and expiry).
type DeviceCode struct {
	// Hash is the SHA-256 of the device code (a 256-bit secret).
	Hash []byte `json:"-"`
	// UserCode is the keyed digest of the normalized user code; unique among live device codes.
	UserCode []byte `json:"user_code"`
	ClientID string `json:"client_id"`
	TenantID string `json:"tenant_id"`
	// Scopes are the validated requested scopes; Resources the RFC 8707 resources (nil when none).
	Scopes    []string `json:"scopes,omitempty"`
	Resources []string `json:"resources,omitempty"`
	// Expiry is when the device code and user code stop working (expires_in).
	Expiry time.Time `json:"-"`
	// Status is DevicePending, DeviceApproved, DeviceDenied or DeviceRedeemed.
	Status string `json:"status,omitempty"`

	// The approval (set with DeviceApproved; UserID also with DeviceDenied): the user, the SSO session's
	// SID and authentication time, the account incarnation, and how the user authenticated.
	UserID      string    `json:"user_id,omitempty"`
	SID         string    `json:"sid,omitempty"`
	AuthTime    time.Time `json:"auth_time,omitzero"`
	Incarnation string    `json:"incarnation,omitempty"`
	Authn       `json:"authn,omitzero"`
}

// Clone returns a copy of d that shares no slice with it.
func (d DeviceCode) Clone() DeviceCode {
	d.Hash = bytes.Clone(d.Hash)
	d.UserCode = bytes.Clone(d.UserCode)
	d.Scopes = slices.Clone(d.Scopes)
	d.Resources = slices.Clone(d.Resources)
	d.Authn = d.Authn.Clone()
	return d
}
