package cli

import (
	"bytes"
	"context"
	"flag"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
	"github.com/authsuite/authsuite/internal/apierror"
)

func (e *env) provider(ctx context.Context, args []string) error {
	var connectorType, name string
	var load *providerv1.LoadOAuthConfigurationRequest
	run := func(cmd command) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error { return e.runCommand(ctx, args, cmd) }
	}
	return e.subcommand(ctx, "provider", args, map[string]func(context.Context, []string) error{
		// load takes ThingWorx Flow's LoadOAuthConfiguration file; it is all or nothing on the server.
		"load": run(command{
			name: "provider load", synopsis: "FILE.json (\"-\": stdin)", args: []string{"file"},
			check: func(pos []string, _ map[string]bool) error {
				b, err := e.readInput("FILE", pos[0])
				if err != nil {
					return err
				}
				// The file goes to the server as written: it accepts the wrapped and the bare shape and
				// names the line and column of a syntax error.
				if len(bytes.TrimSpace(b)) == 0 {
					return apierror.Invalid("FILE", "%s is empty: want the OAuth configuration JSON object", pos[0])
				}
				load = &providerv1.LoadOAuthConfigurationRequest{Document: b}
				return nil
			},
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				resp, err := providerv1.NewProviderConfigServiceClient(s.conn).LoadOAuthConfiguration(s.ctx, load)
				if err != nil {
					return err
				}
				if resp.Items == nil {
					resp.Items = []*providerv1.LoadedProvider{}
				}
				return p.list(resp, messages(resp.GetItems()), "connectorType", "oauthProvider", "action")
			},
		}),
		"list": run(command{
			name: "provider list",
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				resp, err := providerv1.NewProviderConfigServiceClient(s.conn).GetOAuthConfiguration(s.ctx, &providerv1.GetOAuthConfigurationRequest{})
				if err != nil {
					return err
				}
				if resp.Items == nil {
					resp.Items = []*providerv1.OAuthProvider{}
				}
				return p.list(resp, messages(resp.GetItems()), "connectorType", "oauthProvider", "oauthVersion", "connectable", "connectorCount", "placeholderKeys")
			},
		}),
		"delete": run(command{
			name: "provider delete", synopsis: "--connector-type TYPE --provider NAME",
			flags: func(fs *flag.FlagSet) {
				fs.StringVar(&connectorType, "connector-type", "", "connector type, e.g. google_gmail (required)")
				fs.StringVar(&name, "provider", "", "provider name (required)")
			},
			check: func([]string, map[string]bool) error {
				if connectorType == "" {
					return flagErr("--connector-type", "required")
				}
				if name == "" {
					return flagErr("--provider", "required")
				}
				return nil
			},
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				if _, err := providerv1.NewProviderConfigServiceClient(s.conn).DeleteOAuthConfiguration(s.ctx, &providerv1.DeleteOAuthConfigurationRequest{ConnectorName: connectorType, OauthProvider: name}); err != nil {
					return err
				}
				return p.done("deleted provider %s of connector type %s", name, connectorType)
			},
		}),
	})
}
