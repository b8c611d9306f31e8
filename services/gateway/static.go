package gateway

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
	"net/http"
	"strings"
)

// The gateway's static files: the one script of the browser pages (static/webauthn.js, the passkey
// ceremonies). Pages load it from the gateway's own origin, so a Content-Security-Policy of script-src
// 'self' allows it and nothing else (no inline script, no CDN).

//go:embed static/webauthn.js
var webauthnJS []byte

// webauthnVersion is the script's content hash; pages link it as /static/webauthn.js?v=<version>, so a
// browser may keep it for a year (immutable) and a new build is fetched under a new URL.
var webauthnVersion = func() string {
	h := sha256.Sum256(webauthnJS)
	return hex.EncodeToString(h[:8])
}()

// webauthnScriptPath is the path of the script.
const webauthnScriptPath = "/static/webauthn.js"

func init() {
	// {{template "webauthn-script"}}: the <script> element of a page that runs a passkey ceremony. The page
	// must be sent with passkeyPageHeaders (script-src 'self').
	template.Must(pages.New("webauthn-script").Parse(`<script src="` + webauthnScriptPath + `?v=` + webauthnVersion + `" defer></script>`))
}

// staticScript serves GET /static/webauthn.js: JavaScript, UTF-8, never sniffed; cached for a year when
// asked for by its current version, else for five minutes; ETag is the version.
func staticScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	etag := `"` + webauthnVersion + `"`
	h.Set("ETag", etag)
	if r.URL.Query().Get("v") == webauthnVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(webauthnJS)
}

// passkeyPageHeaders are pageHeaders (no-store, no framing, no referrer) for a page that runs a passkey
// ceremony: its CSP also allows scripts from the gateway's origin (script-src 'self'), which serves only
// static/webauthn.js; inline script stays refused.
func passkeyPageHeaders(h http.Header) {
	pageHeaders(h)
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src") {
		csp = strings.Replace(csp, "default-src 'none';", "default-src 'none'; script-src 'self';", 1)
	}
	h.Set("Content-Security-Policy", csp)
}
