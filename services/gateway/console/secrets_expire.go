package console

import (
	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Expiring a secret ends it now (ExpireClientSecret) and keeps it listed with its last use, unlike
// deleting it: the list still tells which secret a client used until when. Like delete, a GET shows the
// confirmation and its form POSTs (with the CSRF token) the action.

func init() {
	Register("clients", func(m *Mux) {
		m.Get("/console/clients/{tenant}/{id}/secrets/{secret}/expire", confirmExpireSecret)
		m.Post("/console/clients/{tenant}/{id}/secrets/{secret}/expire", expireSecret)
	})
}

// confirmExpireSecret serves GET /console/clients/{tenant}/{id}/secrets/{secret}/expire.
func confirmExpireSecret(x *Ctx) {
	tenant, id, sid := x.R.PathValue("tenant"), x.R.PathValue("id"), x.R.PathValue("secret")
	resp, err := clientsAPI(x).ListClientSecrets(x.API(), &registryv1.ListClientSecretsRequest{TenantId: tenant, ClientId: id})
	if err != nil {
		x.Fail(err)
		return
	}
	what := "secret " + sid
	for _, s := range resp.GetItems() {
		if s.GetSecretId() == sid {
			what = "the secret starting " + s.GetValueDisplay() + "…"
			if s.GetDescription() != "" {
				what += " (" + s.GetDescription() + ")"
			}
		}
	}
	x.Confirm("Expire secret", ConfirmData{
		Question: "Expire " + what + " of client " + id + " now? The client can no longer authenticate with it; it stays listed.",
		Button:   "Expire secret", Action: clientsPath(tenant, id, "secrets", sid, "expire"), Cancel: clientsPath(tenant, id, "secrets"),
	})
}

// expireSecret serves POST /console/clients/{tenant}/{id}/secrets/{secret}/expire: ExpireClientSecret.
func expireSecret(x *Ctx) {
	tenant, id, sid := x.R.PathValue("tenant"), x.R.PathValue("id"), x.R.PathValue("secret")
	if _, err := clientsAPI(x).ExpireClientSecret(x.API(), &registryv1.ExpireClientSecretRequest{TenantId: tenant, ClientId: id, SecretId: sid}); err != nil {
		x.Fail(err)
		return
	}
	x.Redirect(clientsPath(tenant, id, "secrets"), "Secret expired.")
}
