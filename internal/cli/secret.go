package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

func (e *env) secret(ctx context.Context, args []string) error {
	var tenant, client, description string
	start, expiration := &timeFlag{now: time.Now}, &timeFlag{now: time.Now}
	run := func(cmd command) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error { return e.runCommand(ctx, args, cmd) }
	}
	flags := func(extra func(fs *flag.FlagSet)) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			tenantFlag(fs, &tenant)
			fs.StringVar(&client, "client", "", "client id (required)")
			if extra != nil {
				extra(fs)
			}
		}
	}
	needClient := func([]string, map[string]bool) error {
		if client == "" {
			return flagErr("--client", "required: the client whose secrets to manage")
		}
		return nil
	}
	return e.subcommand(ctx, "secret", args, map[string]func(context.Context, []string) error{
		// create prints the secret's value: the only time it can be seen.
		"create": run(command{
			name: "secret create", synopsis: "--client ID [--tenant T] [--description D] [--start-time T] [--expiration T]",
			flags: flags(func(fs *flag.FlagSet) {
				fs.StringVar(&description, "description", "", "a note to tell secrets apart")
				fs.Var(start, "start-time", "from when it is accepted: RFC 3339 or a duration from now (default now)")
				fs.Var(expiration, "expiration", "until when it is accepted: RFC 3339 or a duration from now, 1 day to 3 years ahead (default 6 months)")
			}),
			check: needClient,
			run: func(s *session, p printer, _ []string, given map[string]bool) error {
				sec := &registryv1.ClientSecret{Description: description}
				if given["start-time"] {
					sec.StartTime = timestamppb.New(start.t)
				}
				if given["expiration"] {
					sec.Expiration = timestamppb.New(expiration.t)
				}
				resp, err := registryv1.NewClientServiceClient(s.conn).CreateClientSecret(s.ctx, &registryv1.CreateClientSecretRequest{TenantId: tenant, ClientId: client, Secret: sec})
				if err != nil {
					return err
				}
				if err := p.object(resp.GetSecret()); err != nil {
					return err
				}
				fmt.Fprintln(e.io.Stderr, "The secret's value is shown only now: store it.")
				return nil
			},
		}),
		"list": run(command{
			name: "secret list", synopsis: "--client ID [--tenant T]", flags: flags(nil), check: needClient,
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				resp, err := registryv1.NewClientServiceClient(s.conn).ListClientSecrets(s.ctx, &registryv1.ListClientSecretsRequest{TenantId: tenant, ClientId: client})
				if err != nil {
					return err
				}
				if resp.Items == nil {
					resp.Items = []*registryv1.ClientSecret{}
				}
				return p.list(resp, messages(resp.GetItems()), "secretId", "description", "valueDisplay", "startTime", "expiration", "lastUsed")
			},
		}),
		"delete": run(command{
			name: "secret delete", synopsis: "SECRET_ID --client ID [--tenant T]", args: []string{"secret_id"}, flags: flags(nil), check: needClient,
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				if _, err := registryv1.NewClientServiceClient(s.conn).DeleteClientSecret(s.ctx, &registryv1.DeleteClientSecretRequest{TenantId: tenant, ClientId: client, SecretId: pos[0]}); err != nil {
					return err
				}
				return p.done("deleted secret %s of client %s", pos[0], client)
			},
		}),
	})
}
