package e2e

import (
	"net"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// WebAuthn (passkey) tests: a suite whose issuer is a host name, and Chromium's virtual authenticator
// driven over the DevTools protocol (the WebAuthn domain).

// startLocalhostSuite starts a suite whose issuer is http://localhost:<port>. WebAuthn needs the relying
// party id to be a domain (W3C WebAuthn §5.1.4.1; an IP address is refused) and allows plain http only on
// localhost. The suite first starts on 127.0.0.1:0 to learn its port, then restarts on the same address
// with the issuer set: no port is guessed.
func startLocalhostSuite(t *testing.T) *suite {
	t.Helper()
	s := startSuite(t)
	_, port, err := net.SplitHostPort(s.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	s.args = append(s.args, "--issuer", "http://localhost:"+port)
	s.start()
	if s.base != "http://localhost:"+port {
		t.Fatalf("issuer %q", s.base)
	}
	return s
}

// virtualAuthenticator adds a platform authenticator to the browser of b (CTAP2, internal transport,
// resident keys, user verification that succeeds, presence simulated): what a laptop's built-in passkey
// provider looks like to a page. It answers the authenticator's id.
func virtualAuthenticator(t *testing.T, b *consoleBrowser) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// authenticatorCredentials lists the credentials the virtual authenticator holds.
func authenticatorCredentials(t *testing.T, b *consoleBrowser, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}
