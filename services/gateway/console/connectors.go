package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// The connectors page: the provider service's ConnectorService as an administrator sees it (every connector
// of the tenant, or of every tenant for a system administrator; never a token). The list is narrowed by
// tenant (query parameter tenant, by default the signed-in user's own; "all" for every tenant the API
// answers), by owner (user: a user id, picked from the tenant's users, or client:<client id>), by connector
// type and provider (passed to the API), and by the filter box. Revoking deletes the connector, which
// revokes its grant at the provider when the provider can (RFC 7009); the API decides who may.

func init() {
	Register("connectors", func(m *Mux) {
		m.Get("/console/connectors", listConnectors)
		m.Get("/console/connectors/{id}", showConnector)
		m.Get("/console/connectors/{id}/delete", confirmRevokeConnector)
		m.Post("/console/connectors/{id}/delete", revokeConnector)
	})
}

func connectorsAPI(x *Ctx) providerv1.ConnectorServiceClient {
	return providerv1.NewConnectorServiceClient(x.Provider())
}

// allTenants is the tenant value that shows every tenant's connectors the API answers.
const allTenants = "all"

// connectorScope is the list's narrowing, read from the query.
type connectorScope struct {
	Tenant, User, Type, Provider string
}

func queryValue(x *Ctx, name string) string {
	v := strings.TrimSpace(x.R.URL.Query().Get(name))
	if len(v) > 200 {
		return ""
	}
	return v
}

func connectorScopeOf(x *Ctx) connectorScope {
	return connectorScope{Tenant: scopeTenant(x), User: queryValue(x, "user"),
		Type: queryValue(x, "connectorType"), Provider: queryValue(x, "oauthProvider")}
}

func (s connectorScope) values() url.Values {
	return url.Values{"tenant": {s.Tenant}, "user": {s.User}, "connectorType": {s.Type}, "oauthProvider": {s.Provider}}
}

// path is the list's URL with this scope.
func (s connectorScope) path() string { return withQuery(Prefix+"connectors", s.values()) }

// match is the scope's tenant and owner test.
func (s connectorScope) match(c *providerv1.Connector) bool {
	return (s.Tenant == allTenants || c.GetTenantId() == s.Tenant) && (s.User == "" || c.GetOwner() == s.User)
}

type connectorRow struct {
	ID, Type, Provider, Kind, Status string
	Owner, OwnerLabel, Tenant        string
	Created, Updated, Expires        string
	Failure                          string
	Scopes                           string
	Subdomain, ResourceURL, ReturnTo string
}

func connectorRowOf(c *providerv1.Connector, names map[string]string) connectorRow {
	r := connectorRow{ID: c.GetConnectorId(), Type: c.GetConnectorType(), Provider: c.GetOauthProvider(), Kind: c.GetKind(),
		Status: c.GetStatus(), Owner: c.GetOwner(), Tenant: c.GetTenantId(), Created: timeText(c.GetCreateTime()),
		Updated: timeText(c.GetUpdateTime()), Expires: timeText(c.GetExpireTime()), Failure: c.GetFailure(),
		Scopes: strings.Join(c.GetScopes(), " "), Subdomain: c.GetSubdomain(), ResourceURL: c.GetResourceUrl(), ReturnTo: c.GetReturnTo()}
	r.OwnerLabel = r.Owner
	if id, ok := strings.CutPrefix(r.Owner, "client:"); ok {
		r.OwnerLabel = "client " + id
	} else if n := names[r.Owner]; n != "" {
		r.OwnerLabel = n
	}
	return r
}

type userOption struct {
	ID, Label string
	Selected  bool
}

type connectorsData struct {
	connectorScope
	Tenants []tenantOption
	Users   []userOption
	Items   []connectorRow
	Pager   Pager
}

// maxPickerUsers bounds the user picker (one API page); with more users, filter by user id.
const maxPickerUsers = 200

// tenantUsers is one page of the tenant's users for the picker and the owner names; nil when the API
// refuses or the scope is every tenant.
func tenantUsers(x *Ctx, tenant, current string) ([]userOption, map[string]string) {
	if tenant == allTenants {
		return nil, nil
	}
	resp, err := registryv1.NewUserServiceClient(x.Registry()).ListUsers(x.API(), &registryv1.ListUsersRequest{TenantId: tenant, PageSize: maxPickerUsers})
	if err != nil {
		return nil, nil
	}
	names := map[string]string{}
	var out []userOption
	found := current == ""
	for _, u := range resp.GetItems() {
		names[u.GetUserId()] = u.GetLoginName()
		sel := u.GetUserId() == current
		found = found || sel
		out = append(out, userOption{ID: u.GetUserId(), Label: u.GetLoginName(), Selected: sel})
	}
	if !found {
		out = append(out, userOption{ID: current, Label: current, Selected: true})
	}
	return out, names
}

// listConnectors serves GET /console/connectors?tenant=&user=&connectorType=&oauthProvider=&q=.
func listConnectors(x *Ctx) {
	if noProviderService(x) {
		return
	}
	d := connectorsData{connectorScope: connectorScopeOf(x)}
	cl := connectorsAPI(x)
	items, pg, err := List(x, offsetFetch(func(ctx context.Context) ([]*providerv1.Connector, error) {
		resp, err := cl.ListConnectors(ctx, &providerv1.ListConnectorsRequest{ConnectorType: d.Type, OauthProvider: d.Provider})
		if err != nil {
			return nil, err
		}
		var out []*providerv1.Connector
		for _, c := range resp.GetItems() {
			if d.match(c) {
				out = append(out, c)
			}
		}
		return out, nil
	}), func(c *providerv1.Connector, q string) bool {
		return Contains(q, c.GetConnectorId(), c.GetConnectorType(), c.GetOauthProvider(), c.GetStatus(), c.GetOwner(), c.GetKind())
	})
	if err != nil {
		x.Fail(err)
		return
	}
	d.Pager = scoped(pg, d.values())
	var names map[string]string
	d.Users, names = tenantUsers(x, d.Tenant, d.User)
	for _, c := range items {
		d.Items = append(d.Items, connectorRowOf(c, names))
	}
	d.Tenants = tenantOptions(x, d.Tenant)
	x.Render(http.StatusOK, "connectors", "Connectors", &d)
}

type connectorData struct {
	connectorRow
	Back string
}

// showConnector serves GET /console/connectors/{id}: GetConnector (never a token).
func showConnector(x *Ctx) {
	if noProviderService(x) {
		return
	}
	resp, err := connectorsAPI(x).GetConnector(x.API(), &providerv1.GetConnectorRequest{ConnectorId: x.R.PathValue("id")})
	if err != nil {
		x.Fail(err)
		return
	}
	c := resp.GetConnector()
	_, names := tenantUsers(x, c.GetTenantId(), "")
	d := connectorData{connectorRow: connectorRowOf(c, names), Back: connectorScopeOf(x).path()}
	x.Render(http.StatusOK, "connector", "Connector", &d)
}

// confirmRevokeConnector serves GET /console/connectors/{id}/delete (with the list's query, kept).
func confirmRevokeConnector(x *Ctx) {
	id, s := x.R.PathValue("id"), connectorScopeOf(x)
	x.Confirm("Revoke connector", ConfirmData{
		Question: "Revoke connector " + id + "? Its grant is deleted (and revoked at the provider when the provider allows), and whatever uses the connector must be authorized again.",
		Button:   "Revoke connector", Action: withQuery(Prefix+"connectors/"+url.PathEscape(id)+"/delete", s.values()), Cancel: s.path(),
	})
}

// revokeConnector serves POST /console/connectors/{id}/delete: DeleteConnector.
func revokeConnector(x *Ctx) {
	if noProviderService(x) {
		return
	}
	id := x.R.PathValue("id")
	if _, err := connectorsAPI(x).DeleteConnector(x.API(), &providerv1.DeleteConnectorRequest{ConnectorId: id}); err != nil {
		x.Fail(err)
		return
	}
	x.Redirect(connectorScopeOf(x).path(), "Connector "+id+" revoked.")
}
