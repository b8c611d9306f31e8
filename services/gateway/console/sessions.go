package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	tokenv1 "github.com/authsuite/authsuite/gen/authsuite/token/v1"
)

// The sessions page: the token service's SessionService, a tenant's SSO sessions (the tenant of the query
// parameter tenant, by default the signed-in user's), or one user's (user=, linked from the user's page).
// Ending a session asks first; the API ends it as RP-initiated logout does.

func init() {
	Register("sessions", func(m *Mux) {
		m.Get("/console/sessions", listSessions)
		m.Get("/console/sessions/{sid}/end", confirmEndSession)
		m.Post("/console/sessions/{sid}/end", endSession)
	})
}

func ssoSessions(x *Ctx) tokenv1.SessionServiceClient {
	return tokenv1.NewSessionServiceClient(x.Token())
}

type sessionRow struct {
	Sid, UserID, LoginName string
	AuthTime, Expires      string
	Clients                string
}

func sessionRowOf(s *tokenv1.SsoSession) sessionRow {
	return sessionRow{Sid: s.GetSid(), UserID: s.GetUserId(), LoginName: s.GetLoginName(), AuthTime: keyTime(s.GetAuthTime()),
		Expires: keyTime(s.GetExpireTime()), Clients: strings.Join(s.GetClientIds(), ", ")}
}

type sessionsData struct {
	Tenant  string
	Tenants []tenantOption
	User    string // "" for every user's sessions
	Items   []sessionRow
	Pager   Pager
}

// sessionUser is the user= filter of the request.
func sessionUser(x *Ctx) string {
	u := strings.TrimSpace(x.R.URL.Query().Get("user"))
	if len(u) > 200 {
		return ""
	}
	return u
}

// listSessions serves GET /console/sessions?tenant=&user=&q=.
func listSessions(x *Ctx) {
	d := sessionsData{Tenant: scopeTenant(x), User: sessionUser(x)}
	cl := ssoSessions(x)
	items, pg, err := List(x, func(ctx context.Context, token string, size int32) ([]*tokenv1.SsoSession, string, error) {
		resp, err := cl.ListSessions(ctx, &tokenv1.ListSessionsRequest{TenantId: d.Tenant, UserId: d.User, PageSize: size, PageToken: token})
		return resp.GetItems(), resp.GetNextPageToken(), err
	}, func(s *tokenv1.SsoSession, q string) bool {
		return Contains(q, s.GetSid(), s.GetUserId(), s.GetLoginName(), strings.Join(s.GetClientIds(), " "))
	})
	if err != nil {
		x.Fail(err)
		return
	}
	d.Pager = scoped(pg, url.Values{"tenant": {x.R.URL.Query().Get("tenant")}, "user": {d.User}})
	for _, s := range items {
		d.Items = append(d.Items, sessionRowOf(s))
	}
	d.Tenants = tenantOptions(x, d.Tenant)
	x.Render(http.StatusOK, "sessions", "Sessions", &d)
}

// sessionsPath is the list the session pages return to.
func sessionsPath(tenant, user string) string {
	v := url.Values{"tenant": {tenant}}
	if user != "" {
		v.Set("user", user)
	}
	return Prefix + "sessions?" + v.Encode()
}

// confirmEndSession serves GET /console/sessions/{sid}/end?tenant=&user=.
func confirmEndSession(x *Ctx) {
	tenant, user, sid := scopeTenant(x), sessionUser(x), x.R.PathValue("sid")
	v := url.Values{"tenant": {tenant}}
	if user != "" {
		v.Set("user", user)
	}
	x.Confirm("End session", ConfirmData{
		Question: "End session " + sid + "? The browser that holds it must sign in again, and the refresh tokens issued in it stop working.",
		Button:   "End session", Action: Prefix + "sessions/" + url.PathEscape(sid) + "/end?" + v.Encode(), Cancel: sessionsPath(tenant, user),
	})
}

// endSession serves POST /console/sessions/{sid}/end?tenant=&user=: EndSession.
func endSession(x *Ctx) {
	tenant, user, sid := scopeTenant(x), sessionUser(x), x.R.PathValue("sid")
	resp, err := ssoSessions(x).EndSsoSession(x.API(), &tokenv1.EndSsoSessionRequest{TenantId: tenant, Sid: sid})
	if err != nil {
		x.Fail(err)
		return
	}
	who := resp.GetSession().GetLoginName()
	if who == "" {
		who = resp.GetSession().GetUserId()
	}
	x.Redirect(sessionsPath(tenant, user), "Session of "+who+" ended.")
}
