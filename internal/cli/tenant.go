package cli

import (
	"context"
	"flag"
	"time"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// adminTimeout bounds one admin command unless --timeout says otherwise.
const adminTimeout = 30 * time.Second

// listPageSize is the page size the list commands ask for; they follow next_page_token to the end.
const listPageSize = 1000

func (e *env) tenant(ctx context.Context, args []string) error {
	var id, code, name string
	tenantFlags := func(withID bool) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			if withID {
				fs.StringVar(&id, "id", "", "deprecated: give TENANT_ID as the argument")
			}
			fs.StringVar(&code, "code", "", "unique tenant code")
			fs.StringVar(&name, "name", "", "display name")
		}
	}
	run := func(cmd command) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error { return e.runCommand(ctx, args, cmd) }
	}
	return e.subcommand(ctx, "tenant", args, map[string]func(context.Context, []string) error{
		"create": run(command{
			name: "tenant create", synopsis: "[TENANT_ID] --code CODE [--name NAME] (TENANT_ID default: generated)",
			args: []string{"tenant_id"}, optional: 1, flags: tenantFlags(true),
			check: func(pos []string, given map[string]bool) (err error) {
				id, err = createID(pos[0], id, given["id"])
				return err
			},
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				resp, err := registryv1.NewTenantServiceClient(s.conn).CreateTenant(s.ctx, &registryv1.CreateTenantRequest{
					Tenant: &registryv1.Tenant{TenantId: id, Code: code, Name: name},
				})
				if err != nil {
					return err
				}
				return p.object(resp.GetTenant())
			},
		}),
		"list": run(command{
			name: "tenant list",
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				all := &registryv1.ListTenantsResponse{Items: []*registryv1.Tenant{}}
				for token := ""; ; {
					resp, err := registryv1.NewTenantServiceClient(s.conn).ListTenants(s.ctx, &registryv1.ListTenantsRequest{PageSize: listPageSize, PageToken: token})
					if err != nil {
						return err
					}
					all.Items = append(all.Items, resp.GetItems()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				return p.list(all, messages(all.Items), "tenantId", "code", "name", "createTime")
			},
		}),
		"get": run(command{
			name: "tenant get", synopsis: "TENANT_ID", args: []string{"tenant_id"},
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				resp, err := registryv1.NewTenantServiceClient(s.conn).GetTenant(s.ctx, &registryv1.GetTenantRequest{TenantId: pos[0]})
				if err != nil {
					return err
				}
				return p.object(resp.GetTenant())
			},
		}),
		// update changes the given flags and keeps the tenant's other values.
		"update": run(command{
			name: "tenant update", synopsis: "TENANT_ID [--code CODE] [--name NAME]", args: []string{"tenant_id"}, flags: tenantFlags(false),
			check: func(_ []string, given map[string]bool) error {
				if !given["code"] && !given["name"] {
					return usageErr("nothing to update: give --code and/or --name")
				}
				return nil
			},
			run: func(s *session, p printer, pos []string, given map[string]bool) error {
				cl := registryv1.NewTenantServiceClient(s.conn)
				cur, err := cl.GetTenant(s.ctx, &registryv1.GetTenantRequest{TenantId: pos[0]})
				if err != nil {
					return err
				}
				t := &registryv1.Tenant{Code: cur.GetTenant().GetCode(), Name: cur.GetTenant().GetName()}
				if given["code"] {
					t.Code = code
				}
				if given["name"] {
					t.Name = name
				}
				resp, err := cl.UpdateTenant(s.ctx, &registryv1.UpdateTenantRequest{TenantId: pos[0], Tenant: t})
				if err != nil {
					return err
				}
				return p.object(resp.GetTenant())
			},
		}),
		"delete": run(command{
			name: "tenant delete", synopsis: "TENANT_ID", args: []string{"tenant_id"},
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				if _, err := registryv1.NewTenantServiceClient(s.conn).DeleteTenant(s.ctx, &registryv1.DeleteTenantRequest{TenantId: pos[0]}); err != nil {
					return err
				}
				return p.done("deleted tenant %s", pos[0])
			},
		}),
	})
}
