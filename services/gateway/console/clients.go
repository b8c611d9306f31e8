package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// The clients pages: ClientService of one tenant, the tenant in the path (/console/clients/<tenant>/...) so
// the pager and the filter, which keep only the path, stay in it. /console/clients (or ?tenant=) sends the
// browser to the signed-in user's tenant, or the one picked. The create form's path segment "~new" cannot be a
// client id ([A-Za-z0-9._:-]).

func init() {
	Register("clients", func(m *Mux) {
		m.Get("/console/clients", chooseClientsTenant)
		m.Get("/console/clients/{tenant}", listClients)
		m.Get("/console/clients/{tenant}/~new", newClient)
		m.Post("/console/clients/{tenant}/~new", createClient)
		m.Get("/console/clients/{tenant}/{id}", showClient)
		m.Post("/console/clients/{tenant}/{id}", updateClient)
		m.Get("/console/clients/{tenant}/{id}/delete", confirmDeleteClient)
		m.Post("/console/clients/{tenant}/{id}/delete", deleteClient)
	})
}

func clientsAPI(x *Ctx) registryv1.ClientServiceClient {
	return registryv1.NewClientServiceClient(x.Registry())
}

// clientsPath is the path of tenant's client list, with more path segments (each escaped) appended.
func clientsPath(tenant string, more ...string) string {
	p := Prefix + "clients/" + url.PathEscape(tenant)
	for _, s := range more {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// chooseClientsTenant serves GET /console/clients: the list of ?tenant=, or of the user's own tenant.
func chooseClientsTenant(x *Ctx) {
	t := strings.TrimSpace(x.R.URL.Query().Get("tenant"))
	if t == "" {
		t = x.Session.TenantID
	}
	http.Redirect(x.W, x.R, clientsPath(t), http.StatusSeeOther)
}

type clientRow struct {
	ID, Name, Method string
	Grants           []string
}

type tenantChoice struct {
	ID, Label string
	Selected  bool
}

type clientsData struct {
	Tenant  string
	Tenants []tenantChoice // the picker, for a system administrator; empty otherwise
	Items   []clientRow
	Pager   Pager
	Presets []preset
}

// maxTenantChoices bounds the tenant picker; a tenant beyond it is reached with ?tenant=.
const maxTenantChoices = 200

// tenantChoices is the tenant picker of a system administrator: the first tenants ListTenants answers (the
// current one added when it is not among them). Nothing for anyone else, or when the API refuses.
func tenantChoices(x *Ctx, current string) []tenantChoice {
	if !x.Session.System {
		return nil
	}
	resp, err := tenants(x).ListTenants(x.API(), &registryv1.ListTenantsRequest{PageSize: maxTenantChoices})
	if err != nil {
		return nil
	}
	var out []tenantChoice
	found := false
	for _, t := range resp.GetItems() {
		sel := t.GetTenantId() == current
		found = found || sel
		out = append(out, tenantChoice{ID: t.GetTenantId(), Label: t.GetCode() + " — " + t.GetName(), Selected: sel})
	}
	if !found {
		out = append(out, tenantChoice{ID: current, Label: current, Selected: true})
	}
	return out
}

// grantLabels are the grant types the console offers, in the order it sends them.
var grantLabels = []struct{ Value, Label string }{
	{"client_credentials", "Client credentials"},
	{"authorization_code", "Authorization code"},
	{"refresh_token", "Refresh token"},
	{"password", "Password (ROPC)"},
	{"urn:ietf:params:oauth:grant-type:token-exchange", "Token exchange (RFC 8693)"},
	{"urn:ietf:params:oauth:grant-type:device_code", "Device code (RFC 8628)"},
}

func grantLabel(g string) string {
	for _, l := range grantLabels {
		if l.Value == g {
			return l.Label
		}
	}
	return g
}

func clientRowOf(c *registryv1.Client) clientRow {
	r := clientRow{ID: c.GetClientId(), Name: c.GetClientName(), Method: c.GetTokenEndpointAuthMethod()}
	for _, g := range c.GetAllowedGrantTypes() {
		r.Grants = append(r.Grants, grantLabel(g))
	}
	return r
}

// clientMatches is the list's filter as the API applies it: client_id or client_name, ignoring case.
func clientMatches(c *registryv1.Client, q string) bool {
	return Contains(q, c.GetClientId(), c.GetClientName())
}

// listClients serves GET /console/clients/{tenant}: one page of ListClients, filtered by ?q=.
func listClients(x *Ctx) {
	tenant := x.R.PathValue("tenant")
	cl := clientsAPI(x)
	// The API filters (client_id or client_name containing the text, ignoring case), so a filtered page reads
	// matching clients only, however many the tenant has; the console's match then keeps all of them.
	filter := strings.TrimSpace(x.R.URL.Query().Get("q"))
	if len(filter) > 200 {
		filter = filter[:200] // as List clips it
	}
	items, pg, err := List(x, func(ctx context.Context, token string, size int32) ([]*registryv1.Client, string, error) {
		resp, err := cl.ListClients(ctx, &registryv1.ListClientsRequest{TenantId: tenant, PageSize: size, PageToken: token, Filter: filter})
		return resp.GetItems(), resp.GetNextPageToken(), err
	}, clientMatches)
	if err != nil {
		x.Fail(err)
		return
	}
	d := &clientsData{Tenant: tenant, Pager: pg, Presets: presets, Tenants: tenantChoices(x, tenant)}
	for _, c := range items {
		d.Items = append(d.Items, clientRowOf(c))
	}
	x.Render(http.StatusOK, "clients", "Clients", d)
}

// clientPage is the data of the client form page ("clients-edit"), for a new client or an existing one.
type clientPage struct {
	Tenant  string
	New     bool
	Preset  string
	Presets []preset
	Client  clientRow // the stored client (edit only)
	Created string
	Updated string
	Form    clientForm
	Grants  []grantChoice
	Methods []methodChoice
}

type grantChoice struct {
	Value, Label, ID string
	Checked          bool
}

type methodChoice struct {
	Value, Label string
	Selected     bool
}

var methodLabels = []struct{ Value, Label string }{
	{"client_secret_basic", "client_secret_basic — a secret (HTTP Basic or form)"},
	{"client_secret_post", "client_secret_post — a secret in the form"},
	{"private_key_jwt", "private_key_jwt — a JWT signed with the client's key (RFC 7523)"},
	{"tls_client_auth", "tls_client_auth — a CA-issued certificate (RFC 8705)"},
	{"self_signed_tls_client_auth", "self_signed_tls_client_auth — a self-signed certificate (RFC 8705)"},
	{"none", "none — a public client"},
}

func newClientPage(tenant string, f clientForm) *clientPage {
	p := &clientPage{Tenant: tenant, Form: f}
	for i, g := range grantLabels {
		p.Grants = append(p.Grants, grantChoice{Value: g.Value, Label: g.Label, ID: "f-grant-" + strconv.Itoa(i), Checked: contains(f.GrantTypes, g.Value)})
	}
	known := false
	for _, m := range methodLabels {
		sel := m.Value == f.AuthMethod
		known = known || sel
		p.Methods = append(p.Methods, methodChoice{Value: m.Value, Label: m.Label, Selected: sel})
	}
	if !known && f.AuthMethod != "" {
		p.Methods = append(p.Methods, methodChoice{Value: f.AuthMethod, Label: f.AuthMethod, Selected: true})
	}
	return p
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// newClient serves GET /console/clients/{tenant}/~new?preset=: the form, pre-filled by the preset.
func newClient(x *Ctx) {
	tenant := x.R.PathValue("tenant")
	pr := presetNamed(x.R.URL.Query().Get("preset"))
	p := newClientPage(tenant, pr.Form)
	p.New, p.Preset, p.Presets = true, pr.Key, presets
	x.Render(http.StatusOK, "clients-edit", "New client", p)
}

// createClient serves POST /console/clients/{tenant}/~new: CreateClient with the form; the form again,
// as typed, with the API's messages next to the fields when it refuses.
func createClient(x *Ctx) {
	tenant := x.R.PathValue("tenant")
	f := clientFormOf(x.Form())
	retry := func(err error, parse map[string]string) {
		p := newClientPage(tenant, f)
		p.New, p.Preset, p.Presets = true, x.Form().Get("preset"), presets
		x.retryClientForm("New client", p, err, parse)
	}
	c, perr := f.client()
	if len(perr) > 0 {
		retry(nil, perr)
		return
	}
	resp, err := clientsAPI(x).CreateClient(x.API(), &registryv1.CreateClientRequest{TenantId: tenant, Client: c})
	if err != nil {
		retry(err, nil)
		return
	}
	id := resp.GetClient().GetClientId()
	x.Redirect(clientsPath(tenant, id), "Client "+id+" created.")
}

func (x *Ctx) getClient(tenant, id string) (*registryv1.Client, error) {
	resp, err := clientsAPI(x).GetClient(x.API(), &registryv1.GetClientRequest{TenantId: tenant, ClientId: id})
	return resp.GetClient(), err
}

func editPage(tenant string, c *registryv1.Client, f clientForm) *clientPage {
	p := newClientPage(tenant, f)
	p.Client = clientRowOf(c)
	if c.GetCreateTime() != nil {
		p.Created = c.GetCreateTime().AsTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	if c.GetUpdateTime() != nil {
		p.Updated = c.GetUpdateTime().AsTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	return p
}

// showClient serves GET /console/clients/{tenant}/{id}: the client and its form.
func showClient(x *Ctx) {
	tenant := x.R.PathValue("tenant")
	c, err := x.getClient(tenant, x.R.PathValue("id"))
	if err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "clients-edit", "Client "+c.GetClientId(), editPage(tenant, c, formOfClient(c)))
}

// updateClient serves POST /console/clients/{tenant}/{id}: UpdateClient with every field of the form.
func updateClient(x *Ctx) {
	tenant, id := x.R.PathValue("tenant"), x.R.PathValue("id")
	f := clientFormOf(x.Form())
	f.ID = id
	retry := func(err error, parse map[string]string) {
		cur, gerr := x.getClient(tenant, id)
		if gerr != nil {
			x.Fail(gerr)
			return
		}
		x.retryClientForm("Client "+id, editPage(tenant, cur, f), err, parse)
	}
	c, perr := f.client()
	if len(perr) > 0 {
		retry(nil, perr)
		return
	}
	if _, err := clientsAPI(x).UpdateClient(x.API(), &registryv1.UpdateClientRequest{TenantId: tenant, ClientId: id, Client: c}); err != nil {
		retry(err, nil)
		return
	}
	x.Redirect(clientsPath(tenant, id), "Client "+id+" saved.")
}

// retryClientForm shows the client form again: with the API's refusal err, or with the problems the console
// found reading the form (parse: field → message) before calling.
func (x *Ctx) retryClientForm(title string, p *clientPage, err error, parse map[string]string) {
	if err != nil {
		if x.handled(err) {
			return
		}
		pr := ProblemsOf(err)
		pr.Fields = groupFieldErrors(pr.Fields)
		x.RenderProblems(pr.Status, "clients-edit", title, p, pr)
		return
	}
	x.RenderProblems(http.StatusBadRequest, "clients-edit", title, p, Problems{Status: http.StatusBadRequest,
		Message: "Some fields could not be read: see the messages next to them.", Fields: parse})
}

// confirmDeleteClient serves GET /console/clients/{tenant}/{id}/delete.
func confirmDeleteClient(x *Ctx) {
	tenant, id := x.R.PathValue("tenant"), x.R.PathValue("id")
	c, err := x.getClient(tenant, id)
	if err != nil {
		x.Fail(err)
		return
	}
	q := "Delete client " + c.GetClientId()
	if c.GetClientName() != "" {
		q += " (" + c.GetClientName() + ")"
	}
	x.Confirm("Delete client "+c.GetClientId(), ConfirmData{
		Question: q + " with all its secrets? Its tokens stop working. This cannot be undone.",
		Button:   "Delete client", Action: clientsPath(tenant, id, "delete"), Cancel: clientsPath(tenant, id),
	})
}

// deleteClient serves POST /console/clients/{tenant}/{id}/delete: DeleteClient.
func deleteClient(x *Ctx) {
	tenant, id := x.R.PathValue("tenant"), x.R.PathValue("id")
	if _, err := clientsAPI(x).DeleteClient(x.API(), &registryv1.DeleteClientRequest{TenantId: tenant, ClientId: id}); err != nil {
		x.Fail(err)
		return
	}
	x.Redirect(clientsPath(tenant), "Client "+id+" deleted.")
}
