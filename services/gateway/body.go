package gateway

import (
	"io"
	"net/http"
	"strings"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

// Request bodies are bounded before anything reads them (issue: a 200 MB body grew the process by 888 MB):
//   - a body larger than the route's limit is refused with 413 (RFC 9110 §15.5.14) in the usual error
//     shape, at once when Content-Length says so, else as soon as the limit is crossed;
//   - a JSON body that may exceed authFirstBytes (declared larger, or of unknown length) is read only after
//     its bearer token checked out: an anonymous client can make the gateway buffer authFirstBytes at most.
//     The form endpoints under /connect/ read at most maxFormBytes (ParseForm) and authenticate clients
//     from the form, so they are exempt.

// Default body limits.
const (
	DefaultMaxBodyBytes = 1 << 20
	// authFirstBytes: larger JSON bodies need a valid bearer token before they are read.
	authFirstBytes = 64 << 10
)

// providerConfigLoadPath is the one route whose limit is set apart (LoadOAuthConfiguration files).
const providerConfigLoadPath = "/Thingworx/Subsystems/WorkflowSubsystem/Services/LoadOAuthConfiguration"

// WithBodyLimits sets the largest request body (0: DefaultMaxBodyBytes) and the largest
// LoadOAuthConfiguration body (0: the same as max).
func WithBodyLimits(max, providerConfig int64) Option {
	return func(g *Gateway) { g.maxBody, g.maxProviderConfig = max, providerConfig }
}

func (g *Gateway) bodyLimit(path string) int64 {
	limit := g.maxBody
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if path == providerConfigLoadPath && g.maxProviderConfig > 0 {
		limit = g.maxProviderConfig
	}
	return limit
}

// limitedBody is a request body cut at its route's limit; exceeded records that the client sent more, so
// that the error writer answers 413 whoever read the body.
type limitedBody struct {
	io.ReadCloser
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := err.(*http.MaxBytesError); ok {
		b.exceeded = true
	}
	return n, err
}

// bodyTooLarge reports whether r's body was cut at its limit.
func bodyTooLarge(r *http.Request) bool {
	b, ok := r.Body.(*limitedBody)
	return ok && b.exceeded
}

// limitBody bounds r's body (see above). It reports false when it answered the request itself: 413 for a
// declared length over the limit, 401 for a large body without a valid bearer token.
func (g *Gateway) limitBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	limit := g.bodyLimit(r.URL.Path)
	if r.ContentLength > limit {
		g.tooLarge(w, r, limit)
		return false
	}
	if (r.ContentLength < 0 || r.ContentLength > authFirstBytes) && !strings.HasPrefix(r.URL.Path, "/connect/") && !g.bearerValid(r) {
		g.writeError(w, r, apierror.OAuthWithStatus(http.StatusUnauthorized, apierror.InvalidToken,
			"a request body larger than %d bytes needs a valid access token", authFirstBytes))
		return false
	}
	r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit)}
	return true
}

func (g *Gateway) tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Connection", "close") // the rest of the body is not read
	g.writeError(w, r, apierror.OAuthWithStatus(http.StatusRequestEntityTooLarge, apierror.InvalidRequest,
		"the request body is larger than %d bytes", limit))
}

// bearerValid reports whether r carries a bearer access token (RFC 6750 §2.1) the token service accepts.
func (g *Gateway) bearerValid(r *http.Request) bool {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return false
	}
	_, err := g.simple.CheckToken(r.Context(), &tokenv1.CheckTokenRequest{Token: tok})
	return err == nil
}
