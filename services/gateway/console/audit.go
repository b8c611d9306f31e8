package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	opsv1 "github.com/authsuite/authsuite/gen/authsuite/ops/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
)

// The audit page: each service's AuditService (token, registry, provider) answers its own events, newest
// first; the page asks all three with the user's token and merges their pages by time. The cursor of the
// next page keeps, per service, its API page token and how many events of that page were already shown, so
// paging is exact however the services' events interleave. A system administrator sees every tenant's
// events (or one tenant's); anyone else their own tenant's, as the API decides.

func init() {
	Register("audit", func(m *Mux) {
		m.Get("/console/audit", listAudit)
	})
}

// auditServices are the services asked, in the order their events are shown when times are equal.
var auditServices = []string{"registry", "token", "provider"}

// auditEventKinds are the kinds offered by the filter (the API takes any kind name).
var auditEventKinds = []string{
	"sign_in", "sign_in_failed", "logout", "session_ended", "consent_granted", "sudo_check",
	"tenant_created", "tenant_updated", "tenant_deleted",
	"client_created", "client_updated", "client_deleted", "secret_created", "secret_deleted", "secret_expired",
	"user_created", "user_updated", "user_disabled", "user_password_set", "user_deleted",
	"resource_created", "resource_updated", "resource_deleted", "keys_rotated",
	"provider_config_loaded", "provider_config_deleted", "provider_tokens_deleted", "connector_created", "connector_deleted",
}

type auditRow struct {
	Time, Service, Event, Tenant string
	TenantCode                   string // when the page knows the tenant's code
	Actor, Target, Outcome       string
	Reason, Remote               string
}

type auditKind struct {
	Name     string
	Selected bool
}

type auditData struct {
	Tenant  string // "" is every tenant (a system administrator's default)
	Tenants []tenantOption
	All     bool // offer "all tenants"
	Event   string
	Kinds   []auditKind
	Items   []auditRow
	Pager   Pager
	// Missing names the services that could not answer (not serving the audit API, or unavailable).
	Missing []string
}

// auditCursor is one service's position: its API page token and how many events of that page were shown;
// done once the service has no more events.
type auditCursor struct {
	token string
	skip  int
	done  bool
}

// parseAuditCursor reads "skip:token" or "-" (no more events); a missing or bad value starts at the newest.
func parseAuditCursor(s string) auditCursor {
	if s == "-" {
		return auditCursor{done: true}
	}
	n, tok, ok := strings.Cut(s, ":")
	if !ok {
		return auditCursor{}
	}
	skip, err := strconv.Atoi(n)
	if err != nil || skip < 0 || skip > 900 || len(tok) > 4096 {
		return auditCursor{}
	}
	return auditCursor{token: tok, skip: skip}
}

func (c auditCursor) String() string {
	if c.done {
		return "-"
	}
	return strconv.Itoa(c.skip) + ":" + c.token
}

func auditConn(x *Ctx, service string) grpc.ClientConnInterface {
	switch service {
	case "token":
		return x.Token()
	case "registry":
		return x.Registry()
	default:
		if p := x.Provider(); p != nil {
			return p
		}
		return nil
	}
}

// listAudit serves GET /console/audit?tenant=&event=&registry=&token=&provider=.
func listAudit(x *Ctx) {
	q := x.R.URL.Query()
	d := auditData{Event: strings.TrimSpace(q.Get("event"))}
	if len(d.Event) > 100 {
		d.Event = d.Event[:100]
	}
	switch t := strings.TrimSpace(q.Get("tenant")); {
	case t != "" && len(t) <= 200:
		d.Tenant = t
	case !x.Session.System:
		d.Tenant = x.Session.TenantID
	}
	for _, k := range auditEventKinds {
		d.Kinds = append(d.Kinds, auditKind{Name: k, Selected: k == d.Event})
	}
	if d.Event != "" && !containsString(auditEventKinds, d.Event) {
		d.Kinds = append(d.Kinds, auditKind{Name: d.Event, Selected: true})
	}
	if x.Session.System {
		d.All = true
		if d.Tenant != "" {
			d.Tenants = tenantOptions(x, d.Tenant)
		} else {
			d.Tenants = tenantOptions(x, x.Session.TenantID)
			for i := range d.Tenants {
				d.Tenants[i].Selected = false
			}
		}
	}

	type source struct {
		service string
		cur     auditCursor
		items   []*opsv1.AuditEvent
		next    string
		used    int
	}
	var srcs []*source
	var refused error
	for _, svc := range auditServices {
		s := &source{service: svc, cur: parseAuditCursor(q.Get(svc))}
		srcs = append(srcs, s)
		if s.cur.done {
			continue
		}
		conn := auditConn(x, svc)
		if conn == nil {
			s.cur.done = true
			continue
		}
		resp, err := opsv1.NewAuditServiceClient(conn).ListAuditEvents(x.API(), &opsv1.ListAuditEventsRequest{
			Service: svc, TenantId: d.Tenant, Event: d.Event, PageSize: int32(DefaultPageSize + s.cur.skip), PageToken: s.cur.token})
		if err != nil {
			switch apistatus.Of(err).Code {
			case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument:
				refused = err
			default:
				d.Missing = append(d.Missing, svc)
			}
			s.cur.done = true
			continue
		}
		items := resp.GetItems()
		s.items = items[min(s.cur.skip, len(items)):]
		s.next = resp.GetNextPageToken()
	}
	if refused != nil {
		x.Fail(refused)
		return
	}
	// Merge newest first: take the newest head of the services' pages until a page is full or a service
	// whose page ran out may still hold newer events on its next page (then stop: the cursor resumes there).
	for len(d.Items) < DefaultPageSize {
		var best *source
		for _, s := range srcs {
			if s.used < len(s.items) && (best == nil || s.items[s.used].GetTime().AsTime().After(best.items[best.used].GetTime().AsTime())) {
				best = s
			}
		}
		if best == nil {
			break
		}
		stop := false
		for _, s := range srcs {
			if s.used == len(s.items) && s.next != "" && !s.cur.done {
				stop = true // its next page may be newer than best's head
			}
		}
		if stop {
			break
		}
		d.Items = append(d.Items, auditRowOf(best.items[best.used]))
		best.used++
	}
	next := url.Values{}
	more := false
	tenantCodes := map[string]string{x.Session.TenantID: x.Session.TenantCode}
	for _, t := range d.Tenants {
		if t.Code != "" {
			tenantCodes[t.ID] = t.Code
		}
	}
	for i := range d.Items {
		if c := tenantCodes[d.Items[i].Tenant]; c != "" {
			d.Items[i].TenantCode = c
		}
	}
	for _, s := range srcs {
		switch {
		case s.cur.done:
			next.Set(s.service, "-")
		case s.used < len(s.items):
			next.Set(s.service, auditCursor{token: s.cur.token, skip: s.cur.skip + s.used}.String())
			more = true
		case s.next != "":
			next.Set(s.service, auditCursor{token: s.next}.String())
			more = true
		default:
			next.Set(s.service, "-")
		}
	}
	base := url.Values{}
	if d.Tenant != "" && (x.Session.System || q.Get("tenant") != "") {
		base.Set("tenant", d.Tenant)
	}
	if d.Event != "" {
		base.Set("event", d.Event)
	}
	if more {
		for k, v := range base {
			next[k] = v
		}
		d.Pager.Next = Prefix + "audit?" + next.Encode()
	}
	for _, s := range auditServices {
		if q.Get(s) != "" {
			d.Pager.First = Prefix + "audit"
			if len(base) > 0 {
				d.Pager.First += "?" + base.Encode()
			}
			break
		}
	}
	x.Render(http.StatusOK, "audit", "Audit", &d)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func auditRowOf(e *opsv1.AuditEvent) auditRow {
	r := auditRow{Service: e.GetService(), Event: e.GetEvent(), Tenant: e.GetTenantId(), Outcome: e.GetOutcome(),
		Reason: e.GetReason(), Remote: e.GetRemoteAddr()}
	if e.GetTime() != nil {
		r.Time = e.GetTime().AsTime().UTC().Format(time.DateTime + " UTC")
	}
	var actor []string
	if a := e.GetActor(); a != nil {
		if a.GetUserId() != "" {
			actor = append(actor, "user "+a.GetUserId())
		}
		if a.GetClientId() != "" {
			actor = append(actor, "client "+a.GetClientId())
		}
		if a.GetActingFor() != "" {
			actor = append(actor, "of tenant "+a.GetActingFor())
		}
	}
	r.Actor = strings.Join(actor, ", ")
	if t := e.GetTarget(); t != nil && (t.GetKind() != "" || t.GetId() != "") {
		r.Target = strings.TrimSpace(t.GetKind() + " " + t.GetId())
	}
	return r
}
