package console

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// Config is what the console needs from the gateway.
type Config struct {
	// PublicURL is the suite's issuer and public base URL (no trailing slash): the console's redirect URI
	// is PublicURL + "/console/callback".
	PublicURL string
	// Secret is the gateway's secret material; the cookie keys are derived from it (HKDF). Empty: a random
	// key per process (sessions do not survive a restart or move between gateways).
	Secret string
	// Secure marks the cookies Secure and __Host- (PublicURL is https).
	Secure bool
	// Registry, Token and Provider are the gateway's connections to the services (Provider may be nil).
	Registry, Token, Provider grpc.ClientConnInterface
	// MaxUpload bounds a multipart upload (a provider configuration file); 0 means 1 MiB.
	MaxUpload int64
	Log       *slog.Logger
	Now       func() time.Time
}

// Console is the admin console's HTTP handler, mounted by the gateway at /console/.
type Console struct {
	cfg       Config
	secure    bool
	sessions  *sealer
	logins    *sealer
	flashes   *sealer
	mux       *http.ServeMux
	oauth     tokenv1.OAuthServiceClient
	lookup    registryv1.ConsoleServiceClient
	log       *slog.Logger
	now       func() time.Time
	maxUpload int64
}

// Prefix is the path the console is served under.
const Prefix = "/console/"

// Owns reports whether the console serves path: /console and everything under /console/.
func Owns(path string) bool { return path == "/console" || strings.HasPrefix(path, Prefix) }

// New builds the console and every registered page.
func New(cfg Config) (*Console, error) {
	if cfg.PublicURL == "" || cfg.Registry == nil || cfg.Token == nil {
		return nil, errors.New("console: PublicURL, Registry and Token are required")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	secret := []byte(cfg.Secret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret) // never fails (crypto/rand)
	}
	c := &Console{cfg: cfg, secure: cfg.Secure, oauth: tokenv1.NewOAuthServiceClient(cfg.Token),
		lookup: registryv1.NewConsoleServiceClient(cfg.Registry), log: cfg.Log, now: cfg.Now, maxUpload: cfg.MaxUpload}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxUpload <= 0 {
		c.maxUpload = 1 << 20
	}
	var err error
	if c.sessions, err = newSealer(secret, sessionKeyLabel, sessionCookieName); err != nil {
		return nil, err
	}
	if c.logins, err = newSealer(secret, loginKeyLabel, loginCookieName); err != nil {
		return nil, err
	}
	if c.flashes, err = newSealer(secret, flashKeyLabel, flashCookieName); err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	})
	c.mux.HandleFunc("GET /console/{$}", c.home)
	c.mux.HandleFunc("GET /console/login", c.startLogin)
	c.mux.HandleFunc("GET /console/callback", c.callback)
	c.mux.HandleFunc("POST /console/logout", c.logout)
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", staticHandler()))
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	for _, s := range sections {
		m := &Mux{c: c, section: s.Key}
		s.routes(m)
	}
	return c, nil
}

// ServeHTTP sets the console's security headers and routes the request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

// csp is the console's Content Security Policy: its own script and style files only, no inline script or
// style, no framing, forms posting to itself only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// Section is one entry of the console's navigation with the routes of its pages.
type Section struct {
	// Key names the section ("clients"); its pages live under /console/<Key>.
	Key string
	// Title is the navigation label and the list page's heading.
	Title string
}

// The navigation, in order. A section appears once its pages are registered (Register).
var navOrder = []Section{
	{"tenants", "Tenants"},
	{"clients", "Clients"},
	{"users", "Users"},
	{"providers", "Providers"},
	{"connectors", "Connectors"},
	{"keys", "Signing keys"},
	{"sessions", "Sessions"},
	{"audit", "Audit"},
}

type section struct {
	Section
	routes func(*Mux)
}

var (
	sectionsMu sync.Mutex
	sections   []section
)

// Register adds the section key's pages: routes is called once per Console to add its handlers. Call it from
// an init function of the page's file. key must be one of the navigation's keys (navOrder).
func Register(key string, routes func(*Mux)) {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	i := slices.IndexFunc(navOrder, func(s Section) bool { return s.Key == key })
	if i < 0 {
		panic("console: unknown section " + key)
	}
	sections = append(sections, section{navOrder[i], routes})
}

// navItems is the navigation of a page of section current.
func navItems(current string) []NavItem {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	var out []NavItem
	for _, s := range navOrder {
		if slices.ContainsFunc(sections, func(r section) bool { return r.Key == s.Key }) {
			out = append(out, NavItem{Title: s.Title, Href: Prefix + s.Key, Current: s.Key == current})
		}
	}
	return out
}

// NavItem is one link of the navigation.
type NavItem struct {
	Title   string
	Href    string
	Current bool
}
