package registry

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// BootstrapOptions configures Bootstrap. Secret is the admin client's secret (AUTHSUITE_BOOTSTRAP_SECRET);
// when empty one is generated and written once to Out. Password, when set (AUTHSUITE_BOOTSTRAP_PASSWORD),
// also creates user "admin". Log receives the warnings about settings an already bootstrapped registry
// ignores (nil: discarded). Now defaults to time.Now.
type BootstrapOptions struct {
	Secret   string
	Password string
	Out      io.Writer
	Log      *slog.Logger
	Now      func() time.Time
	// PublicURL, when set, also creates the system tenant's admin console client "console" (ConsoleClient).
	PublicURL string
}

// The warnings of a start whose bootstrap settings the data no longer reflects. They name the variable,
// never its value.
const (
	IgnoredSecretWarning   = "AUTHSUITE_BOOTSTRAP_SECRET is ignored: the data directory is already bootstrapped"
	IgnoredPasswordWarning = "AUTHSUITE_BOOTSTRAP_PASSWORD is ignored: the data directory is already bootstrapped"
)

// Bootstrap IDs and names (docs/reference.md#bootstrap).
const (
	BootstrapClientID  = "admin"
	BootstrapLoginName = "admin"
)

// Bootstrap populates an empty registry (one without any tenant): tenant "default" (code "default", name
// "System"), client "admin" (grant client_credentials, scopes "adminapi sudo") with one secret valid for 3
// years, and, when opts.Password is set, user "admin" with role tenant_admin. Everything is written in one
// transaction (Store.Seed), so a crash leaves either nothing or everything. On a registry that has a tenant
// it changes nothing and prints nothing, so it is safe to call on every start; there, a given secret that is
// not one of the admin client's secrets, or a given password that is not user admin's, logs one warning each
// (IgnoredSecretWarning, IgnoredPasswordWarning), since changing them no longer changes anything. The
// generated secret is printed as "bootstrap: admin client secret: …" to opts.Out only after the commit;
// it is never logged, nor is a given secret or password.
func Bootstrap(ctx context.Context, store Store, keyring *suitekey.Keyring, opts BootstrapOptions) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	now := opts.Now().UTC()
	if tenants, _, err := store.ListTenants(ctx, ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	} else if len(tenants) > 0 {
		warnIgnored(ctx, store, keyring, opts) // already bootstrapped: change nothing
		return nil
	}
	value, generated := opts.Secret, false
	if value == "" {
		if opts.Out == nil {
			return errors.New("bootstrap: no secret given and nowhere to print a generated one")
		}
		value, _ = NewSecretValue()
		generated = true
	}
	if opts.Password != "" {
		if err := ValidatePassword(opts.Password); err != nil {
			return fmt.Errorf("bootstrap password: %w", err)
		}
	}
	keyID, sum := keyring.Digest(SecretDigestPurpose, []byte(value))
	tenant := Tenant{ID: access.SystemTenant, Code: access.SystemTenant, Name: "System", CreateTime: now}
	client := DefaultClient()
	client.ID = BootstrapClientID
	client.Name = "Administration"
	client.TenantID = tenant.ID
	client.AllowedGrantTypes = []string{GrantClientCredentials}
	client.AllowedScopes = []string{access.ScopeAdminAPI, access.ScopeSudo}
	client.CreateTime, client.UpdateTime = now, now
	client.Secrets = []Secret{{
		ID:           NewID(),
		Description:  "bootstrap",
		KeyID:        keyID,
		Digest:       sum,
		ValueDisplay: DisplayPrefix(value),
		StartTime:    now,
		Expiration:   now.AddDate(3, 0, 0),
	}}
	if err := ValidateClient(client); err != nil {
		return fmt.Errorf("bootstrap client: %w", err)
	}
	clients := []Client{client}
	if opts.PublicURL != "" {
		clients = append(clients, ConsoleClient(tenant, opts.PublicURL, now))
	}
	var users []User
	if opts.Password != "" {
		users = append(users, User{
			ID:           NewID(),
			TenantID:     tenant.ID,
			LoginName:    BootstrapLoginName,
			DisplayName:  "Administrator",
			PasswordHash: HashPassword(opts.Password),
			Roles:        []string{access.RoleTenantAdmin},
			CreateTime:   now,
			UpdateTime:   now,
		})
	}
	done, err := store.Seed(ctx, []Tenant{tenant}, clients, users)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if done && generated {
		if _, err := fmt.Fprintf(opts.Out, "bootstrap: admin client secret: %s\n", value); err != nil {
			return fmt.Errorf("bootstrap: print the admin secret: %w", err)
		}
	}
	return nil
}

// warnIgnored logs one warning for each bootstrap setting given to an already bootstrapped registry that the
// data does not reflect: a secret none of the admin client's secrets verifies (or no admin client), a
// password user admin of the system tenant does not have (or no such user). A read failure counts as not
// reflected: the warning then says what an operator must check anyway. When the master key opens none of
// the admin client's secret digests (a wrong key, which start-up reports on its own) it cannot tell, and
// says nothing about the secret.
func warnIgnored(ctx context.Context, store Store, keyring *suitekey.Keyring, opts BootstrapOptions) {
	if opts.Log == nil {
		return
	}
	if opts.Secret != "" {
		known, decidable := false, true
		if c, err := store.GetClient(ctx, BootstrapClientID); err == nil && len(c.Secrets) > 0 {
			decidable = false
			for _, sec := range c.Secrets {
				m := keyring.MAC(SecretDigestPurpose, sec.KeyID, []byte(opts.Secret))
				decidable = decidable || m != nil
				if m != nil && hmac.Equal(m, sec.Digest) {
					known = true
					break
				}
			}
		}
		if decidable && !known {
			opts.Log.Warn(IgnoredSecretWarning)
		}
	}
	if opts.Password != "" {
		u, err := store.FindUser(ctx, access.SystemTenant, access.Selector{Kind: access.ByLoginName, Value: BootstrapLoginName})
		if err != nil || !u.VerifyPassword(opts.Password) {
			opts.Log.Warn(IgnoredPasswordWarning)
		}
	}
}
