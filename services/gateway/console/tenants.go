package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/apistatus"
	"google.golang.org/grpc/codes"
)

// The tenants pages: TenantService, which only the system tenant's administrators may use. A tenant
// administrator, whom ListTenants refuses, sees their own tenant, read-only.

func init() {
	Register("tenants", func(m *Mux) {
		m.Get("/console/tenants", listTenants)
		m.Post("/console/tenants", createTenant)
		m.Get("/console/tenants/{id}", showTenant)
		m.Post("/console/tenants/{id}", updateTenant)
		m.Get("/console/tenants/{id}/delete", confirmDeleteTenant)
		m.Post("/console/tenants/{id}/delete", deleteTenant)
	})
}

type tenantRow struct {
	ID, Code, Name string
	Created        string
}

func tenantRowOf(t *registryv1.Tenant) tenantRow {
	r := tenantRow{ID: t.GetTenantId(), Code: t.GetCode(), Name: t.GetName()}
	if t.GetCreateTime() != nil {
		r.Created = t.GetCreateTime().AsTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	return r
}

type tenantsData struct {
	Items   []tenantRow
	Pager   Pager
	Own     bool // a tenant administrator's view of their own tenant
	New     tenantRow
	CanEdit bool
}

func tenants(x *Ctx) registryv1.TenantServiceClient {
	return registryv1.NewTenantServiceClient(x.Registry())
}

func (d *tenantsData) load(x *Ctx) error {
	cl := tenants(x)
	items, pg, err := List(x, func(ctx context.Context, token string, size int32) ([]*registryv1.Tenant, string, error) {
		resp, err := cl.ListTenants(ctx, &registryv1.ListTenantsRequest{PageSize: size, PageToken: token})
		return resp.GetItems(), resp.GetNextPageToken(), err
	}, func(t *registryv1.Tenant, q string) bool {
		return Contains(q, t.GetTenantId(), t.GetCode(), t.GetName())
	})
	if apistatus.Of(err).Code == codes.PermissionDenied && !x.Session.System {
		// Not a system administrator: the tenant API refuses them. Their own tenant, as the sign-in
		// established it (the tenant whose console client signed them in), is all they see.
		d.Items, d.Own = []tenantRow{{ID: x.Session.TenantID, Code: x.Session.TenantCode}}, true
		return nil
	}
	if err != nil {
		return err
	}
	d.Pager, d.CanEdit = pg, true
	for _, t := range items {
		d.Items = append(d.Items, tenantRowOf(t))
	}
	return nil
}

// listTenants serves GET /console/tenants.
func listTenants(x *Ctx) {
	var d tenantsData
	if err := d.load(x); err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "tenants", "Tenants", &d)
}

// createTenant serves POST /console/tenants: CreateTenant; the list again with the API's messages when it
// refuses.
func createTenant(x *Ctx) {
	f := x.Form()
	in := &registryv1.Tenant{TenantId: strings.TrimSpace(f.Get("tenantId")), Code: strings.TrimSpace(f.Get("code")), Name: strings.TrimSpace(f.Get("name"))}
	resp, err := tenants(x).CreateTenant(x.API(), &registryv1.CreateTenantRequest{Tenant: in})
	if err != nil {
		d := tenantsData{New: tenantRow{ID: in.TenantId, Code: in.Code, Name: in.Name}}
		if lerr := d.load(x); lerr != nil {
			x.Fail(lerr)
			return
		}
		x.Retry("tenants", "Tenants", &d, err)
		return
	}
	t := resp.GetTenant()
	x.Redirect(Prefix+"tenants/"+url.PathEscape(t.GetTenantId()), "Tenant "+t.GetCode()+" created.")
}

type tenantData struct {
	Tenant  tenantRow
	Edit    tenantRow // the form's values
	CanEdit bool
}

// showTenant serves GET /console/tenants/{id}.
func showTenant(x *Ctx) {
	resp, err := tenants(x).GetTenant(x.API(), &registryv1.GetTenantRequest{TenantId: x.R.PathValue("id")})
	if err != nil {
		x.Fail(err)
		return
	}
	t := tenantRowOf(resp.GetTenant())
	x.Render(http.StatusOK, "tenant", "Tenant "+t.Code, &tenantData{Tenant: t, Edit: t, CanEdit: x.Session.System})
}

// updateTenant serves POST /console/tenants/{id}: UpdateTenant.
func updateTenant(x *Ctx) {
	id := x.R.PathValue("id")
	f := x.Form()
	in := &registryv1.Tenant{TenantId: id, Code: strings.TrimSpace(f.Get("code")), Name: strings.TrimSpace(f.Get("name"))}
	resp, err := tenants(x).UpdateTenant(x.API(), &registryv1.UpdateTenantRequest{TenantId: id, Tenant: in})
	if err != nil {
		cur, gerr := tenants(x).GetTenant(x.API(), &registryv1.GetTenantRequest{TenantId: id})
		if gerr != nil {
			x.Fail(gerr)
			return
		}
		t := tenantRowOf(cur.GetTenant())
		x.Retry("tenant", "Tenant "+t.Code, &tenantData{Tenant: t, Edit: tenantRow{ID: id, Code: in.Code, Name: in.Name}, CanEdit: true}, err)
		return
	}
	x.Redirect(Prefix+"tenants/"+url.PathEscape(id), "Tenant "+resp.GetTenant().GetCode()+" saved.")
}

// confirmDeleteTenant serves GET /console/tenants/{id}/delete.
func confirmDeleteTenant(x *Ctx) {
	id := x.R.PathValue("id")
	resp, err := tenants(x).GetTenant(x.API(), &registryv1.GetTenantRequest{TenantId: id})
	if err != nil {
		x.Fail(err)
		return
	}
	path := Prefix + "tenants/" + url.PathEscape(id)
	x.Confirm("Delete tenant "+resp.GetTenant().GetCode(), ConfirmData{
		Question: "Delete tenant " + resp.GetTenant().GetCode() + " (" + resp.GetTenant().GetName() + ") with all its clients, users and API resources? This cannot be undone.",
		Button:   "Delete tenant", Action: path + "/delete", Cancel: path,
	})
}

// deleteTenant serves POST /console/tenants/{id}/delete: DeleteTenant.
func deleteTenant(x *Ctx) {
	id := x.R.PathValue("id")
	if _, err := tenants(x).DeleteTenant(x.API(), &registryv1.DeleteTenantRequest{TenantId: id}); err != nil {
		x.Fail(err)
		return
	}
	x.Redirect(Prefix+"tenants", "Tenant deleted.")
}
