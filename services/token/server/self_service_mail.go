package server

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
	"github.com/authsuite/authsuite/internal/audit"
	"github.com/authsuite/authsuite/internal/i18n"
	"github.com/authsuite/authsuite/internal/mail"
)

// Throttling of self-service (see throttle.go for reserve/settle). Every request counts as a failure that
// is never cleared (it is settled as outcomeWrong), so the policies bound how many mails one account can be
// sent and how many requests one network can make; the account policy never locks (a lock would let a
// stranger keep a user from resetting their password).
const (
	// kindMailAccount keys the link mails sent to one account (reset and verification).
	kindMailAccount = "mailacct"
	// kindSelfServiceAddress keys the self-service requests of one remote address (forgot password,
	// registration).
	kindSelfServiceAddress = "ssaddr"
)

var (
	// mailAccountPolicy: 3 mails at once, then one per 5 minutes growing to one per hour, forgotten after a day.
	mailAccountPolicy = throttlePolicy{Free: 3, Base: 5 * time.Minute, MaxDelay: time.Hour, Window: 24 * time.Hour}
	// selfServiceAddressPolicy: 10 requests at once, then one per 30 s growing to one per 15 minutes.
	selfServiceAddressPolicy = throttlePolicy{Free: 10, Base: 30 * time.Second, MaxDelay: 15 * time.Minute, Window: time.Hour}
)

// selfServicePolicy is the policy of a self-service key, and whether key is one.
func selfServicePolicy(key string) (throttlePolicy, bool) {
	switch {
	case strings.HasPrefix(key, kindMailAccount+":"):
		return mailAccountPolicy, true
	case strings.HasPrefix(key, kindSelfServiceAddress+":"):
		return selfServiceAddressPolicy, true
	}
	return throttlePolicy{}, false
}

func mailAccountKey(tenantID, userID string) string {
	return throttleKey(kindMailAccount, tenantID, userID)
}

func selfServiceAddressKey(addr string) string {
	if addr == "" {
		return ""
	}
	return throttleKey(kindSelfServiceAddress, addr)
}

// countRequest counts one request on keys and reports whether it may go ahead (nil) or the refusal.
func (s *Server) countRequest(ctx context.Context, keys ...string) (*refusal, error) {
	keys = presentKeys(keys)
	if len(keys) == 0 {
		return nil, nil
	}
	ref, err := s.reserve(ctx, keys)
	if err != nil || ref != nil {
		return ref, err
	}
	return nil, s.settle(ctx, keys, outcomeWrong)
}

// tooManyRequests is the answer to a request its address may not make now (RESOURCE_EXHAUSTED).
func tooManyRequests(r *refusal) error {
	return status.Errorf(codes.ResourceExhausted, "too many requests from your network; wait %s before trying again", roundUp(r.wait))
}

// mailJobTimeout bounds one background mail job: its registry calls and the delivery (mail.Timeout).
const mailJobTimeout = 30 * time.Second

// newMailOutbox is the outbox of the self-service mails: sent after the request was answered, at most
// mail.DefaultConcurrency at once, at most mail.DefaultQueue waiting (more are dropped and logged).
func newMailOutbox(deps Deps) *mail.Outbox {
	return mail.NewOutbox(mail.OutboxOptions{Log: deps.Log})
}

// defaultMailer is the Mailer when Deps has none: SMTP with the system's roots.
func defaultMailer() Mailer { return mail.SMTP{} }

// linkMail is a link mail to compose.
type linkMail struct {
	kind     string // linkReset or linkVerify
	settings *registryv1.SignInSettings
	user     *registryv1.User
	to       string
	link     string
	locale   string
}

// compose returns the subject and body of m in its language (the page's, else the tenant's default), from
// the mail catalogue (internal/i18n, locales/*/mail.json).
func (m linkMail) compose() (subject, body string) {
	l := i18n.For(i18n.Match([]string{m.locale}, "", m.settings.GetDefaultLocale()))
	brand := m.settings.GetBranding().GetDisplayName()
	if brand == "" {
		brand = m.settings.GetTenantName()
	}
	if brand == "" {
		brand = "authsuite"
	}
	args := []any{"brand", brand, "name", displayName(m.user), "login", m.user.GetLoginName(), "link", m.link}
	return l.T("mail."+m.kind+".subject", args...), l.T("mail."+m.kind+".body", args...)
}

// send delivers m now (in a background job). Failures are logged without the link.
func (s *Server) sendLinkMail(ctx context.Context, m linkMail) {
	subject, body := m.compose()
	if err := s.deps.Mailer.Send(ctx, m.settings.GetSmtp(), m.to, subject, body); err != nil {
		s.log.Warn("self-service mail not delivered", "kind", m.kind, "tenant", m.settings.GetTenantId(),
			"user_id", m.user.GetUserId(), "err", err)
		return
	}
	s.auditSelfService("mail_sent", audit.OutcomeSuccess, m.settings.GetTenantId(), m.user.GetUserId(), nil, slog.String("kind", m.kind))
}

// auditSelfService records a self-service event of userID in tenantID (the audit log and its line; never a
// token, password or typed login).
func (s *Server) auditSelfService(event, outcome, tenantID, userID string, b *tokenv1.Browser, attrs ...slog.Attr) {
	e := audit.Event{Event: event, TenantID: tenantID, Outcome: outcome, Actor: audit.Actor{UserID: userID},
		Target: audit.Target{Kind: "user", ID: userID}, RemoteAddr: clip(b.GetRemoteAddr()), Line: audit.Line{Attrs: attrs}}
	s.deps.Audit.Record(context.Background(), e)
}

// linkURL is the page a link token opens: issuer + path + "?token=" + tok.
func (s *Server) linkURL(path, tok string) string {
	return s.issuer + path + "?" + url.Values{"token": {tok}}.Encode()
}

// mailPasswordReset is the background half of RequestPasswordReset: it finds the tenant (by id, else by
// code) and the enabled user the login names (login name, else e-mail address), counts the mail against the
// account's budget, and mails a reset link bound to the account's incarnation and password stamp. Whatever
// stops it (no such tenant or user, no address, no mail server, the budget spent) is logged without the
// typed login and changes nothing.
func (s *Server) mailPasswordReset(ctx context.Context, tenant, login, locale string) {
	ctx, cancel := context.WithTimeout(ctx, mailJobTimeout)
	defer cancel()
	if s.factors == nil {
		return
	}
	tenantID, err := s.lookupTenant(ctx, tenant)
	if err != nil {
		return
	}
	st, err := s.settings.get(ctx, tenantID)
	if err != nil || st.GetSmtp().GetHost() == "" {
		return
	}
	u := s.findEnabledUser(ctx, tenantID, login)
	if u == nil {
		return
	}
	if ref, err := s.countRequest(ctx, mailAccountKey(tenantID, u.GetUserId())); err != nil || ref != nil {
		s.auditSelfService("password_reset_mail", audit.OutcomeDenied, tenantID, u.GetUserId(), nil, slog.String("reason", "throttled"))
		return
	}
	f, err := s.factors.GetFactors(ctx, &registryv1.GetFactorsRequest{TenantId: tenantID, UserId: u.GetUserId()})
	if err != nil || f.GetUser().GetDisabled() || f.GetUser().GetEmail() == "" || f.GetPasswordStamp() == "" {
		return
	}
	tok, _ := makeLink(s.kr, linkClaims{Kind: linkReset, TenantID: tenantID, UserID: u.GetUserId(), Incarnation: f.GetIncarnation(),
		PasswordStamp: f.GetPasswordStamp()}, s.now())
	s.sendLinkMail(ctx, linkMail{kind: linkReset, settings: st, user: f.GetUser(), to: f.GetUser().GetEmail(),
		link: s.linkURL("/account/reset", tok), locale: locale})
}

// lookupTenant finds a tenant by id, else by code.
func (s *Server) lookupTenant(ctx context.Context, tenant string) (string, error) {
	resp, err := s.reg.LookupTenant(ctx, &registryv1.LookupTenantRequest{TenantId: tenant})
	if status.Code(err) == codes.NotFound {
		resp, err = s.reg.LookupTenant(ctx, &registryv1.LookupTenantRequest{TenantCode: tenant})
	}
	if err != nil {
		return "", err
	}
	return resp.GetTenantId(), nil
}

// findEnabledUser resolves login as sign-in does (the login name, else the e-mail address when it has an
// "@"); nil when it names no enabled user.
func (s *Server) findEnabledUser(ctx context.Context, tenantID, login string) *registryv1.User {
	selectors := []string{"loginName:" + login}
	if strings.Contains(login, "@") {
		selectors = append(selectors, "email:"+login)
	}
	for _, sel := range selectors {
		resp, err := s.reg.ResolveUser(ctx, &registryv1.ResolveUserRequest{Selector: sel, TenantId: tenantID})
		if err == nil && !resp.GetUser().GetDisabled() {
			return resp.GetUser()
		}
		if c := status.Code(err); c != codes.NotFound && c != codes.InvalidArgument && c != codes.PermissionDenied {
			s.log.Warn("password reset: registry ResolveUser", "tenant", tenantID, "err", err)
			return nil
		}
	}
	return nil
}

// mailVerification queues a verification link for u's current address (e-mail, at incarnation inc).
func (s *Server) mailVerification(st *registryv1.SignInSettings, u *registryv1.User, inc, email, locale string) bool {
	tok, _ := makeLink(s.kr, linkClaims{Kind: linkVerify, TenantID: st.GetTenantId(), UserID: u.GetUserId(), Incarnation: inc,
		Email: email}, s.now())
	m := linkMail{kind: linkVerify, settings: st, user: u, to: email, link: s.linkURL("/account/verify-email", tok), locale: locale}
	return s.mailq.Go(linkVerify, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, mailJobTimeout)
		defer cancel()
		s.sendLinkMail(ctx, m)
	})
}

// errNoMailServer is answered when the tenant sends no mail.
var errNoMailServer = errors.New("the tenant sends no mail")
