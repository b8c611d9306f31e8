package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/apistatus"
)

// Mux adds a section's routes to the console. Every handler it adds runs for a signed-in user only: without
// a valid session the browser goes to the sign-in page (and comes back after it).
type Mux struct {
	c       *Console
	section string
}

// Handler serves one console request.
type Handler func(x *Ctx)

// Get serves GET pattern (a net/http.ServeMux pattern path under /console/, e.g. "/console/clients/{id}").
func (m *Mux) Get(pattern string, h Handler) { m.handle(http.MethodGet, pattern, h) }

// Post serves POST pattern. The form is read (at most maxFormBytes, or a multipart body of at most
// Config.MaxUpload) and its CSRF token checked before h runs: h reads it with x.Form().
func (m *Mux) Post(pattern string, h Handler) { m.handle(http.MethodPost, pattern, h) }

func (m *Mux) handle(method, pattern string, h Handler) {
	c, section := m.c, m.section
	c.mux.HandleFunc(method+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
		s := c.session(r)
		if s == nil {
			if method == http.MethodGet {
				c.signInAgain(w, r, r.URL.RequestURI())
			} else {
				c.signInAgain(w, r, "")
			}
			return
		}
		x := &Ctx{W: w, R: r, Session: s, c: c, section: section}
		if method == http.MethodPost && !x.readForm() {
			return
		}
		h(x)
	})
}

// Ctx is one request of a signed-in user.
type Ctx struct {
	W       http.ResponseWriter
	R       *http.Request
	Session *Session
	c       *Console
	section string
	form    url.Values
	files   map[string][]byte
}

// API is the context of a gRPC call made for the signed-in user: the request's context carrying the user's
// access token as "authorization: Bearer" metadata, exactly as the REST gateway forwards it, so the API's
// own authorization decides every call.
func (x *Ctx) API() context.Context {
	return metadata.AppendToOutgoingContext(x.R.Context(), "authorization", "Bearer "+x.Session.AccessToken)
}

// Registry, Token and Provider are the connections to the services; build clients on them
// (registryv1.NewClientServiceClient(x.Registry())). Provider is nil when the gateway has none.
func (x *Ctx) Registry() grpc.ClientConnInterface { return x.c.cfg.Registry }
func (x *Ctx) Token() grpc.ClientConnInterface    { return x.c.cfg.Token }
func (x *Ctx) Provider() grpc.ClientConnInterface { return x.c.cfg.Provider }

// Form is the POST form (CSRF already checked). Values are valid UTF-8.
func (x *Ctx) Form() url.Values { return x.form }

// File is the content of the uploaded file of field name in a multipart form, or nil.
func (x *Ctx) File(name string) []byte { return x.files[name] }

// maxFormBytes bounds a url-encoded form.
const maxFormBytes = 64 << 10

// readForm reads the POST body and checks its CSRF token; on failure it answers and reports false.
func (x *Ctx) readForm() bool {
	if !x.c.sameOrigin(x.R) {
		x.Status(http.StatusForbidden, "Refused", "The form was not sent from the console.")
		return false
	}
	mt, params, _ := mime.ParseMediaType(x.R.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(io.LimitReader(x.R.Body, maxFormBytes+1))
		if err != nil || len(body) > maxFormBytes {
			x.Status(http.StatusRequestEntityTooLarge, "Too large", "The form is larger than 64 KiB.")
			return false
		}
		if x.form, err = url.ParseQuery(string(body)); err != nil {
			x.Status(http.StatusBadRequest, "Bad form", "The form is not valid form encoding.")
			return false
		}
	case "multipart/form-data":
		if params["boundary"] == "" {
			x.Status(http.StatusBadRequest, "Bad form", "The form has no boundary.")
			return false
		}
		if !x.readMultipart(params["boundary"]) {
			return false
		}
	default:
		x.Status(http.StatusUnsupportedMediaType, "Bad form", "Forms must be url-encoded or multipart.")
		return false
	}
	for k, vs := range x.form {
		if !utf8.ValidString(k) {
			x.Status(http.StatusBadRequest, "Bad form", "The form must be UTF-8.")
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				x.Status(http.StatusBadRequest, "Bad form", "The form must be UTF-8.")
				return false
			}
		}
	}
	if subtle.ConstantTimeCompare([]byte(x.form.Get("csrf")), []byte(x.Session.CSRF)) != 1 {
		x.Status(http.StatusForbidden, "Refused", "The form's CSRF token is missing or stale: reload the page and try again.")
		return false
	}
	return true
}

func (x *Ctx) readMultipart(boundary string) bool {
	x.R.Body = http.MaxBytesReader(x.W, x.R.Body, x.c.maxUpload+maxFormBytes)
	mr, err := x.R.MultipartReader()
	if err != nil {
		x.Status(http.StatusBadRequest, "Bad form", "The form is not valid multipart.")
		return false
	}
	_ = boundary
	x.form, x.files = url.Values{}, map[string][]byte{}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil || parts >= 100 {
			x.Status(http.StatusBadRequest, "Bad form", "The form is not valid multipart, or too large.")
			return false
		}
		limit := int64(maxFormBytes)
		if p.FileName() != "" {
			limit = x.c.maxUpload
		}
		b, err := io.ReadAll(io.LimitReader(p, limit+1))
		if err != nil || int64(len(b)) > limit {
			x.Status(http.StatusRequestEntityTooLarge, "Too large", fmt.Sprintf("A part of the form is larger than %d bytes.", limit))
			return false
		}
		if p.FileName() != "" {
			x.files[p.FormName()] = b
		} else {
			x.form.Add(p.FormName(), string(b))
		}
	}
}

// sameOrigin refuses a POST whose Origin (or, without one, Sec-Fetch-Site) says another site sent it: a
// second line behind the CSRF token.
func (c *Console) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return o == originOf(c.cfg.PublicURL)
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin" || site == "none"
}

func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// View is what every page template gets: the page's own Data plus the layout's facts. Templates read field
// errors with {{$.Err "fieldName"}} (the API's REST field name, e.g. "redirectUris[1]").
type View struct {
	Title   string
	User    *Session
	Nav     []NavItem
	CSRF    string
	Flash   string
	Problem string
	Fields  map[string]string
	Data    any
}

// Err is the API's message for field, or "".
func (v View) Err(field string) string { return v.Fields[field] }

// Render writes the page template name (templates/pages/<name>.html) inside the layout with status.
func (x *Ctx) Render(status int, name, title string, data any) {
	x.RenderProblems(status, name, title, data, Problems{})
}

// RenderProblems is Render showing p: its Message at the top of the page, its Fields next to the inputs
// of those names.
func (x *Ctx) RenderProblems(status int, name, title string, data any, p Problems) {
	v := View{Title: title, User: x.Session, Nav: navItems(x.section), CSRF: x.Session.CSRF, Flash: x.c.takeFlash(x.W, x.R),
		Problem: p.Message, Fields: p.Fields, Data: data}
	x.c.render(x.W, status, name, v)
}

// Retry renders a form page again after the API refused err: the status the API's code maps to, the
// message and field errors of err.
func (x *Ctx) Retry(name, title string, data any, err error) {
	if x.handled(err) {
		return
	}
	p := ProblemsOf(err)
	p.Message = "Not saved. " + p.Message
	x.RenderProblems(p.Status, name, title, data, p)
}

// Redirect ends a successful POST: the browser GETs path (POST-redirect-GET), which shows flash once.
func (x *Ctx) Redirect(path, flash string) {
	if flash != "" {
		x.c.setFlash(x.W, flash)
	}
	http.Redirect(x.W, x.R, path, http.StatusSeeOther)
}

// Fail answers a request whose API call failed as a whole: 401 signs in again, 403 shows the refusal
// page, anything else an error page with the API's message.
func (x *Ctx) Fail(err error) {
	if x.handled(err) {
		return
	}
	p := ProblemsOf(err)
	title := http.StatusText(p.Status)
	x.Status(p.Status, title, p.Message)
}

// handled answers the errors no page shows inline: the session's token no longer works (sign in again)
// and refusals (403 page).
func (x *Ctx) handled(err error) bool {
	switch apistatus.Of(err).Code {
	case codes.Unauthenticated:
		x.c.clearCookie(x.W, sessionCookieName)
		ret := ""
		if x.R.Method == http.MethodGet {
			ret = x.R.URL.RequestURI()
		}
		x.c.signInAgain(x.W, x.R, ret)
		return true
	case codes.PermissionDenied:
		x.c.forbidden(x.W, x.Session, ProblemsOf(err).Message, "")
		return true
	}
	return false
}

// Status writes a message page with status.
func (x *Ctx) Status(status int, title, message string) {
	v := View{Title: title, User: x.Session, Nav: navItems(x.section), Data: message}
	if x.Session != nil {
		v.CSRF = x.Session.CSRF
	}
	x.c.render(x.W, status, "message", v)
}

// Problems is an API error as a page shows it.
type Problems struct {
	Status  int               // the HTTP status the API's code maps to
	Message string            // the page-level message
	Fields  map[string]string // REST field name → the API's message about it
}

// ProblemsOf reads an API error (a gRPC status from a service, or a domain error): its field errors (the
// ErrorInfo field, every BadRequest violation) and a message without gRPC code names. Internal errors say
// only "internal error".
func ProblemsOf(err error) Problems {
	info := apistatus.Of(err)
	p := Problems{Status: info.HTTPStatus, Message: info.Message, Fields: map[string]string{}}
	if p.Status == 0 {
		p.Status = apistatus.HTTPStatus(info.Code)
	}
	if info.Code == codes.Internal || info.Code == codes.Unknown {
		p.Message = "internal error"
	}
	if info.Field != "" {
		p.Fields[info.Field] = strings.TrimPrefix(info.Message, info.Field+": ")
	}
	for _, v := range info.Violations {
		if _, ok := p.Fields[v.Field]; !ok || len(info.Violations) > 1 {
			p.Fields[v.Field] = v.Description
		}
	}
	if info.Code == codes.NotFound || info.Code == codes.AlreadyExists || info.Code == codes.FailedPrecondition {
		p.Message = apierror.Text(errors.New(info.Message))
	}
	return p
}

// Paging and filtering: lists are paged by the API (page_token) and filtered by the console on its side of
// the gateway, never in the browser. The URL carries the cursor: page (the API's page token) and skip (how
// many items of that API page were already shown), and q, the filter.

// DefaultPageSize is how many rows a list shows.
const DefaultPageSize = 50

// maxScan bounds how many items one filtered request reads from the API before it offers "more".
const maxScan = 20000

// Pager is the paging state of a shown list, for the "pager" template.
type Pager struct {
	Q     string
	Next  string // URL of the next page, "" on the last
	First string // URL of the first page, "" when showing it
	// Partial: the filter stopped reading after maxScan items; Next continues the search.
	Partial bool
}

// Fetch reads one page of a list from the API: at most size items after token, and the next token.
type Fetch[T any] func(ctx context.Context, token string, size int32) (items []T, next string, err error)

// List shows one page of a list: DefaultPageSize items from the cursor of the request's query, those that
// match q (the filter box) when q is set. match decides a filter match (case-insensitive substring tests
// with Contains are the convention).
func List[T any](x *Ctx, fetch Fetch[T], match func(item T, q string) bool) ([]T, Pager, error) {
	q := strings.TrimSpace(x.R.URL.Query().Get("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	token := x.R.URL.Query().Get("page")
	skip, _ := strconv.Atoi(x.R.URL.Query().Get("skip"))
	skip = max(skip, 0)
	pg := Pager{Q: q}
	if token != "" || skip > 0 {
		pg.First = pageURL(x.R.URL.Path, q, "", 0)
	}
	ctx := x.API()
	if q == "" && skip == 0 {
		items, next, err := fetch(ctx, token, DefaultPageSize)
		if err != nil {
			return nil, pg, err
		}
		if next != "" {
			pg.Next = pageURL(x.R.URL.Path, q, next, 0)
		}
		return items, pg, nil
	}
	var out []T
	scanned := 0
	for {
		items, next, err := fetch(ctx, token, 1000)
		if err != nil {
			return nil, pg, err
		}
		for i := skip; i < len(items); i++ {
			if q == "" || match(items[i], q) {
				out = append(out, items[i])
				if len(out) == DefaultPageSize {
					if i+1 < len(items) {
						pg.Next = pageURL(x.R.URL.Path, q, token, i+1)
					} else if next != "" {
						pg.Next = pageURL(x.R.URL.Path, q, next, 0)
					}
					return out, pg, nil
				}
			}
		}
		scanned += len(items) - min(skip, len(items))
		skip = 0
		if next == "" {
			return out, pg, nil
		}
		token = next
		if scanned >= maxScan {
			pg.Next, pg.Partial = pageURL(x.R.URL.Path, q, token, 0), true
			return out, pg, nil
		}
	}
}

// Contains reports whether any of fields contains q, ignoring case: the filter of the console's lists.
func Contains(q string, fields ...string) bool {
	q = strings.ToLower(q)
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

func pageURL(path, q, token string, skip int) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if token != "" {
		v.Set("page", token)
	}
	if skip > 0 {
		v.Set("skip", strconv.Itoa(skip))
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// render executes page name in the layout into a buffer first, so a template failure never sends half a
// page.
func (c *Console) render(w http.ResponseWriter, status int, name string, v View) {
	t, ok := pageTemplates[name]
	if !ok {
		c.log.Error("console: no such page template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ConfirmData is the argument of the "confirm" page.
type ConfirmData struct {
	Question string // e.g. `Delete tenant "acme" with all its clients and users?`
	Button   string // e.g. "Delete tenant"
	Action   string // the POST target
	Cancel   string // where Cancel leads
}

// Confirm shows the confirmation page of a destructive action: a GET of ".../delete" renders it, and its
// form POSTs to d.Action (with the CSRF token). Works without JavaScript.
func (x *Ctx) Confirm(title string, d ConfirmData) {
	x.Render(http.StatusOK, "confirm", title, d)
}
