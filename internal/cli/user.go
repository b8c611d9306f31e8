package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// PasswordEnv is the environment variable a user's password may come from instead of --password-stdin.
const PasswordEnv = "AUTHSUITE_USER_PASSWORD"

// userFlags are the profile settings a user command may change; only the flags given are applied.
type userFlags struct {
	id, loginName, email, mobile, displayName string
	roles                                     listFlag
	disabled                                  bool
	emailVerified, phoneVerified              bool
	passwordStdin                             bool
}

func (f *userFlags) register(fs *flag.FlagSet, create bool) {
	if create {
		fs.StringVar(&f.id, "id", "", "user id, the uid of sudo=uid:… (default: generated)")
	}
	fs.StringVar(&f.loginName, "login-name", "", "loginName, unique in the tenant")
	fs.StringVar(&f.email, "email", "", "email, unique in the tenant when set")
	fs.StringVar(&f.mobile, "mobile", "", "mobile, unique in the tenant when set")
	fs.StringVar(&f.displayName, "display-name", "", "displayName")
	fs.Var(&f.roles, "roles", "roles, comma-separated (e.g. tenant_admin)")
	fs.BoolVar(&f.disabled, "disabled", false, "a disabled user cannot sign in or be impersonated")
	fs.BoolVar(&f.emailVerified, "email-verified", false, "the email is verified (claim email_verified); update: a new email without this flag resets it")
	fs.BoolVar(&f.phoneVerified, "phone-verified", false, "the mobile is verified (claim phone_number_verified); update: a new mobile without this flag resets it")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of stdin (create: or set "+PasswordEnv+")")
}

var userSettings = []string{"login-name", "email", "mobile", "display-name", "roles", "disabled", "email-verified", "phone-verified", "password-stdin"}

func (f *userFlags) apply(u *registryv1.User, given map[string]bool) {
	if given["id"] {
		u.UserId = f.id
	}
	if given["login-name"] {
		u.LoginName = f.loginName
	}
	if given["email"] {
		u.Email = f.email
	}
	if given["mobile"] {
		u.Mobile = f.mobile
	}
	if given["display-name"] {
		u.DisplayName = f.displayName
	}
	if given["roles"] {
		u.Roles = append([]string{}, f.roles...)
	}
	if given["disabled"] {
		u.Disabled = f.disabled
	}
	if given["email-verified"] {
		u.EmailVerified = proto.Bool(f.emailVerified)
	}
	if given["phone-verified"] {
		u.PhoneVerified = proto.Bool(f.phoneVerified)
	}
}

// password returns the password from stdin (--password-stdin) or, when fromEnv, AUTHSUITE_USER_PASSWORD;
// nil when neither is given. It is never echoed or printed.
func (e *env) password(fromStdin, fromEnv bool) (*string, error) {
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(e.io.Stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, flagErr("--password-stdin", "cannot read stdin: %v", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return nil, flagErr("--password-stdin", "stdin holds no password")
		}
		return &pw, nil
	}
	if pw, ok := e.vars[PasswordEnv]; ok && fromEnv {
		if pw == "" {
			return nil, flagErr(PasswordEnv, "is empty")
		}
		return &pw, nil
	}
	return nil, nil
}

func (e *env) user(ctx context.Context, args []string) error {
	var tenant string
	var f userFlags
	var pw *string
	run := func(cmd command) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error { return e.runCommand(ctx, args, cmd) }
	}
	flags := func(extra func(fs *flag.FlagSet)) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			tenantFlag(fs, &tenant)
			if extra != nil {
				extra(fs)
			}
		}
	}
	// The variable sets the password of new users only: an update changes it only when asked to.
	readPassword := func(create bool) func([]string, map[string]bool) error {
		return func([]string, map[string]bool) (err error) {
			pw, err = e.password(f.passwordStdin, create)
			return err
		}
	}
	return e.subcommand(ctx, "user", args, map[string]func(context.Context, []string) error{
		"create": run(command{
			name: "user create", synopsis: "--login-name NAME [--tenant T] [--password-stdin] [profile flags]",
			flags: flags(func(fs *flag.FlagSet) { f.register(fs, true) }), check: readPassword(true),
			run: func(s *session, p printer, _ []string, given map[string]bool) error {
				u := &registryv1.User{Password: pw}
				f.apply(u, given)
				resp, err := registryv1.NewUserServiceClient(s.conn).CreateUser(s.ctx, &registryv1.CreateUserRequest{TenantId: tenant, User: u})
				if err != nil {
					return err
				}
				return p.object(resp.GetUser())
			},
		}),
		"list": run(command{
			name: "user list", synopsis: "[--tenant T]", flags: flags(nil),
			run: func(s *session, p printer, _ []string, _ map[string]bool) error {
				all := &registryv1.ListUsersResponse{Items: []*registryv1.User{}}
				for token := ""; ; {
					resp, err := registryv1.NewUserServiceClient(s.conn).ListUsers(s.ctx, &registryv1.ListUsersRequest{TenantId: tenant, PageSize: listPageSize, PageToken: token})
					if err != nil {
						return err
					}
					all.Items = append(all.Items, resp.GetItems()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				return p.list(all, messages(all.Items), "userId", "loginName", "email", "displayName", "roles", "disabled")
			},
		}),
		"get": run(command{
			name: "user get", synopsis: "USER_ID [--tenant T]", args: []string{"user_id"}, flags: flags(nil),
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				resp, err := registryv1.NewUserServiceClient(s.conn).GetUser(s.ctx, &registryv1.GetUserRequest{TenantId: tenant, UserId: pos[0]})
				if err != nil {
					return err
				}
				return p.object(resp.GetUser())
			},
		}),
		// update applies the flags given to the current profile; the password changes only when given.
		"update": run(command{
			name: "user update", synopsis: "USER_ID [--tenant T] [--password-stdin] [profile flags]", args: []string{"user_id"},
			flags: flags(func(fs *flag.FlagSet) { f.register(fs, false) }),
			check: func(_ []string, given map[string]bool) error {
				if err := readPassword(false)(nil, given); err != nil {
					return err
				}
				for _, name := range userSettings {
					if given[name] {
						return nil
					}
				}
				if pw != nil {
					return nil
				}
				return usageErr("nothing to update: give a profile flag or --password-stdin")
			},
			run: func(s *session, p printer, pos []string, given map[string]bool) error {
				cl := registryv1.NewUserServiceClient(s.conn)
				cur, err := cl.GetUser(s.ctx, &registryv1.GetUserRequest{TenantId: tenant, UserId: pos[0]})
				if err != nil {
					return err
				}
				u := cur.GetUser()
				u.TenantId, u.CreateTime, u.UpdateTime, u.Password = "", nil, nil, nil // output only
				// Unstated, the server keeps each flag while its address stays and resets it when the address changes.
				u.EmailVerified, u.PhoneVerified = nil, nil
				f.apply(u, given)
				if pw != nil {
					u.Password = proto.String(*pw)
				}
				resp, err := cl.UpdateUser(s.ctx, &registryv1.UpdateUserRequest{TenantId: tenant, UserId: pos[0], User: u})
				if err != nil {
					return err
				}
				return p.object(resp.GetUser())
			},
		}),
		"delete": run(command{
			name: "user delete", synopsis: "USER_ID [--tenant T]", args: []string{"user_id"}, flags: flags(nil),
			run: func(s *session, p printer, pos []string, _ map[string]bool) error {
				if _, err := registryv1.NewUserServiceClient(s.conn).DeleteUser(s.ctx, &registryv1.DeleteUserRequest{TenantId: tenant, UserId: pos[0]}); err != nil {
					return err
				}
				return p.done("deleted user %s", pos[0])
			},
		}),
	})
}
