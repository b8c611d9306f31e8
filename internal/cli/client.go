package cli

import (
	"context"
	"errors"
	"flag"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/apierror"
	"github.com/authsuite/authsuite/internal/strictjson"
)

// tenantFlag registers --tenant (AUTHSUITE_TENANT), defaulting to the system tenant.
func tenantFlag(fs *flag.FlagSet, v *string) {
	fs.StringVar(v, "tenant", access.SystemTenant, "tenant id")
}

// clientFlags are the settings a client command may change; only the flags given are applied.
type clientFlags struct {
	file   string
	id     string
	name   string
	bclURI string
	lists  map[string]*listFlag
	bools  boolFlags
	atl    secondsFlag
	rtl    secondsFlag
}

func (f *clientFlags) register(fs *flag.FlagSet, create bool) {
	if create {
		fs.StringVar(&f.id, "id", "", "deprecated: give CLIENT_ID as the argument")
		fs.StringVar(&f.file, "from-file", "", "JSON body of POST /tenants/{tenantId}/clients/ (\"-\": stdin); flags given override it")
	} else {
		fs.StringVar(&f.file, "from-file", "", "JSON body of PUT …/clients/{clientId}: replaces every setting (\"-\": stdin); flags given override it")
	}
	fs.StringVar(&f.name, "name", "", "clientName")
	fs.StringVar(&f.bclURI, "back-channel-logout-uri", "", "backChannelLogoutUri")
	f.lists = map[string]*listFlag{}
	for name, usage := range map[string]string{
		"grant-types":               "allowedGrantTypes, comma-separated: client_credentials, authorization_code, refresh_token, password",
		"scopes":                    "allowedScopes, comma-separated",
		"redirect-uris":             "redirectUris, comma-separated",
		"post-logout-redirect-uris": "postLogoutRedirectUris, comma-separated",
		"cors-origins":              "allowedCorsOrigins, comma-separated",
	} {
		l := &listFlag{}
		f.lists[name] = l
		fs.Var(l, name, usage)
	}
	f.bools = boolFlags{}
	f.bools.add(fs, "allow-offline-access", "allowOfflineAccess (default false)")
	f.bools.add(fs, "allow-remember-consent", "allowRememberConsent (default true)")
	f.bools.add(fs, "back-channel-logout-session-required", "backChannelLogoutSessionRequired (default true)")
	f.bools.add(fs, "require-client-secret", "requireClientSecret (default true; =false for a public client)")
	f.bools.add(fs, "require-consent", "requireConsent (default false)")
	f.bools.add(fs, "allow-no-pkce", "allowNoPkce (default false)")
	f.bools.add(fs, "allow-ropc", "allowRopc (default false)")
	f.bools.add(fs, "redirect-uri-prefix-matching", "redirectUriPrefixMatching (default false)")
	fs.Var(&f.atl, "access-token-lifetime", "accessTokenLifetime: seconds or a duration (default 86400)")
	fs.Var(&f.rtl, "refresh-token-lifetime", "refreshTokenLifetime: seconds or a duration (default 2592000)")
}

// clientFromFile returns the client --from-file describes, or nil without --from-file.
func (e *env) clientFromFile(path string) (*registryv1.Client, error) {
	if path == "" {
		return nil, nil
	}
	b, err := e.readInput("--from-file", path)
	if err != nil {
		return nil, err
	}
	c := &registryv1.Client{}
	if err := strictjson.Unmarshal(b, c); err != nil {
		// An unknown member is named as the REST API names it (field "allowedScope").
		if fe := (*apierror.FieldError)(nil); errors.As(err, &fe) {
			return nil, apierror.Invalid(fe.Field, "%s, in --from-file", fe.Reason)
		}
		return nil, apierror.Invalid("--from-file", "%s", clean(err.Error()))
	}
	return c, nil
}

// anyGiven reports whether a setting (or --from-file) was given.
func (f *clientFlags) anyGiven(given map[string]bool) bool {
	for _, name := range []string{"from-file", "name", "back-channel-logout-uri", "access-token-lifetime", "refresh-token-lifetime"} {
		if given[name] {
			return true
		}
	}
	for name := range f.lists {
		if given[name] {
			return true
		}
	}
	for name := range f.bools {
		if given[name] {
			return true
		}
	}
	return false
}

// apply sets the fields of c whose flags were given.
func (f *clientFlags) apply(c *registryv1.Client, given map[string]bool) {
	if f.id != "" { // create's CLIENT_ID (createID), which overrides --from-file's
		c.ClientId = f.id
	}
	if given["name"] {
		c.ClientName = f.name
	}
	if given["back-channel-logout-uri"] {
		c.BackChannelLogoutUri = f.bclURI
	}
	lists := map[string]*[]string{
		"grant-types": &c.AllowedGrantTypes, "scopes": &c.AllowedScopes, "redirect-uris": &c.RedirectUris,
		"post-logout-redirect-uris": &c.PostLogoutRedirectUris, "cors-origins": &c.AllowedCorsOrigins,
	}
	for name, field := range lists {
		if given[name] {
			*field = append([]string{}, *f.lists[name]...)
		}
	}
	b := func(name string) bool { return *f.bools[name] }
	if given["allow-offline-access"] {
		c.AllowOfflineAccess = b("allow-offline-access")
	}
	if given["allow-remember-consent"] {
		c.AllowRememberConsent = proto.Bool(b("allow-remember-consent"))
	}
	if given["back-channel-logout-session-required"] {
		c.BackChannelLogoutSessionRequired = proto.Bool(b("back-channel-logout-session-required"))
	}
	if given["require-client-secret"] {
		c.RequireClientSecret = proto.Bool(b("require-client-secret"))
		// The flag chooses between a secret and none; an update of a client stored with the other one of
		// the two switches its method with it, rather than being refused as a contradiction. Key and
		// certificate methods are left as they are.
		switch m := c.GetTokenEndpointAuthMethod(); {
		case !b("require-client-secret") && (m == "client_secret_basic" || m == "client_secret_post"):
			c.TokenEndpointAuthMethod = "none"
		case b("require-client-secret") && m == "none":
			c.TokenEndpointAuthMethod = "client_secret_basic"
		}
	}
	if given["require-consent"] {
		c.RequireConsent = b("require-consent")
	}
	if given["allow-no-pkce"] {
		c.AllowNoPkce = b("allow-no-pkce")
	}
	if given["allow-ropc"] {
		c.AllowRopc = b("allow-ropc")
	}
	if given["redirect-uri-prefix-matching"] {
		c.RedirectUriPrefixMatching = b("redirect-uri-prefix-matching")
	}
	if given["access-token-lifetime"] {
		c.AccessTokenLifetime = proto.Int32(int32(f.atl))
	}
	if given["refresh-token-lifetime"] {
		c.RefreshTokenLifetime = proto.Int32(int32(f.rtl))
	}
}

func (e *env) client(ctx context.Context, args []string) error {
	var tenant string
	var f clientFlags
	run := func(cmd command) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error { return e.runCommand(ctx, args, cmd) }
	}
	withTenant := func(extra func(fs *flag.FlagSet)) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			tenantFlag(fs, &tenant)
			if extra != nil {
				extra(fs)
			}
		}
	}
	var fromFile *registryv1.Client
	readFile := func([]string, map[string]bool) (err error) {
		fromFile, err = e.clientFromFile(f.file)
		return err
	}
	return e.subcommand(ctx, "client", args, map[string]func(context.Context, []string) error{
		"create": run(command{
			name: "client create", synopsis: "[CLIENT_ID] [--tenant T] [--from-file FILE.json] [settings] (without CLIENT_ID: the file's clientId)",
			args: []string{"client_id"}, optional: 1,
			flags: withTenant(func(fs *flag.FlagSet) { f.register(fs, true) }),
			check: func(pos []string, given map[string]bool) (err error) {
				if f.id, err = createID(pos[0], f.id, given["id"]); err != nil {
					return err
				}
				if f.id == "" && !given["from-file"] {
					return usageErr("missing argument CLIENT_ID")
				}
				return readFile(pos, given)
			},
			run: func(s *session, p printer, _ []string, given map[string]bool) error {
				c := fromFile
				if c == nil {
					c = &registryv1.Client{}
				}
				f.apply(c, given)
				resp, err := registryv1.NewClientServiceClient(s.conn).CreateClient(s.ctx, &registryv1.CreateClientRequest{TenantId: tenant, Client: c})
				if err != nil {
					return err
				}
				return p.object(resp.GetClient())
			},
		}),
		"list": run(command{
			name: "client list", synopsis: "[--tenant T]", flags: withTenant(nil),
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				all := &registryv1.ListClientsResponse{Items: []*registryv1.Client{}}
				for token := ""; ; {
					resp, err := registryv1.NewClientServiceClient(s.conn).ListClients(s.ctx, &registryv1.ListClientsRequest{TenantId: tenant, PageSize: listPageSize, PageToken: token})
					if err != nil {
						return err
					}
					all.Items = append(all.Items, resp.GetItems()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				return p.list(all, messages(all.Items), "clientId", "clientName", "allowedGrantTypes", "allowedScopes", "requireClientSecret")
			},
		}),
		"get": run(command{
			name: "client get", synopsis: "CLIENT_ID [--tenant T]", args: []string{"client_id"}, flags: withTenant(nil),
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				resp, err := registryv1.NewClientServiceClient(s.conn).GetClient(s.ctx, &registryv1.GetClientRequest{TenantId: tenant, ClientId: pos[0]})
				if err != nil {
					return err
				}
				return p.object(resp.GetClient())
			},
		}),
		// update applies the flags given to the current settings; --from-file replaces them all first.
		"update": run(command{
			name: "client update", synopsis: "CLIENT_ID [--tenant T] [--from-file FILE.json] [settings]", args: []string{"client_id"},
			flags: withTenant(func(fs *flag.FlagSet) { f.register(fs, false) }),
			check: func(_ []string, given map[string]bool) error {
				if !f.anyGiven(given) {
					return usageErr("nothing to update: give --from-file or a setting flag")
				}
				return readFile(nil, given)
			},
			run: func(s *session, p printer, pos []string, given map[string]bool) error {
				cl := registryv1.NewClientServiceClient(s.conn)
				c := fromFile
				if c == nil {
					cur, err := cl.GetClient(s.ctx, &registryv1.GetClientRequest{TenantId: tenant, ClientId: pos[0]})
					if err != nil {
						return err
					}
					c = cur.GetClient()
					c.TenantId, c.CreateTime, c.UpdateTime = "", nil, nil // output only
				}
				f.apply(c, given)
				resp, err := cl.UpdateClient(s.ctx, &registryv1.UpdateClientRequest{TenantId: tenant, ClientId: pos[0], Client: c})
				if err != nil {
					return err
				}
				return p.object(resp.GetClient())
			},
		}),
		"delete": run(command{
			name: "client delete", synopsis: "CLIENT_ID [--tenant T]", args: []string{"client_id"}, flags: withTenant(nil),
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				if _, err := registryv1.NewClientServiceClient(s.conn).DeleteClient(s.ctx, &registryv1.DeleteClientRequest{TenantId: tenant, ClientId: pos[0]}); err != nil {
					return err
				}
				return p.done("deleted client %s", pos[0])
			},
		}),
	})
}
