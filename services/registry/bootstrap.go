package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authsuite/authsuite/internal/access"
	"github.com/authsuite/authsuite/internal/suitekey"
)

// BootstrapOptions configures Bootstrap. Secret is the admin client's secret (AUTHSUITE_BOOTSTRAP_SECRET);
// when empty one is generated and written once to Out. Password, when set (AUTHSUITE_BOOTSTRAP_PASSWORD),
// also creates user "admin". Now defaults to time.Now.
type BootstrapOptions struct {
	Secret   string
	Password string
	Out      io.Writer
	Now      func() time.Time
}

// Bootstrap IDs and names (docs/reference.md#bootstrap).
const (
	BootstrapClientID  = "admin"
	BootstrapLoginName = "admin"
)

// Bootstrap populates an empty registry (one without any tenant): tenant "default" (code "default", name
// "System"), client "admin" (grant client_credentials, scopes "adminapi sudo") with one secret valid for 3
// years, and, when opts.Password is set, user "admin" with role tenant_admin. Everything is written in one
// transaction (Store.Seed), so a crash leaves either nothing or everything. On a registry that has a tenant
// it changes nothing and prints nothing, so it is safe to call on every start. The generated secret is
// printed as "bootstrap: admin client secret: …" to opts.Out only after the commit; it is never logged.
func Bootstrap(ctx context.Context, store Store, keyring *suitekey.Keyring, opts BootstrapOptions) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	now := opts.Now().UTC()
	if tenants, _, err := store.ListTenants(ctx, ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	} else if len(tenants) > 0 {
		return nil // already bootstrapped: change nothing
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
	done, err := store.Seed(ctx, []Tenant{tenant}, []Client{client}, users)
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
