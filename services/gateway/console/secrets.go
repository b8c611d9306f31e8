package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// The secrets of a client: list (never a value), create, delete. A created secret's value is in exactly one
// response, the page answering the POST that created it: it is not stored in the session, a cookie or a
// URL, and the console's pages are no-store, so reloading (a GET of the same path: the list) or going back
// does not show it again. To stop a secret at once, expire it (secrets_expire.go) or delete it.
//
// A browser's reload of the page showing a value offers to send the form again. The form carries the state
// of the secret list it was shown with (a digest of the secret ids, keyed by the session's CSRF token), and
// the console creates a secret only when the list is still in that state, so a form sent twice creates one
// secret: the second answer says so and shows no value.

func init() {
	Register("clients", func(m *Mux) {
		m.Get("/console/clients/{tenant}/{id}/secrets", listSecrets)
		m.Post("/console/clients/{tenant}/{id}/secrets", createSecret)
		m.Get("/console/clients/{tenant}/{id}/secrets/{secret}/delete", confirmDeleteSecret)
		m.Post("/console/clients/{tenant}/{id}/secrets/{secret}/delete", deleteSecret)
	})
}

type secretRow struct {
	ID, Description, Display    string
	Start, Expiration, LastUsed string
	Expired                     bool
}

type secretsData struct {
	Tenant, ClientID, ClientName string
	Items                        []secretRow
	Description, Expiration      string // the create form's values
	MinDate, MaxDate             string
	State                        string // the list's state, sent back by the create form
}

type secretCreated struct {
	Tenant, ClientID string
	Secret           secretRow
	Value            string
}

func timeText(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format("2006-01-02 15:04 UTC")
}

func secretRowOf(s *registryv1.ClientSecret, now time.Time) secretRow {
	r := secretRow{ID: s.GetSecretId(), Description: s.GetDescription(), Display: s.GetValueDisplay(),
		Start: timeText(s.GetStartTime()), Expiration: timeText(s.GetExpiration()), LastUsed: timeText(s.GetLastUsed())}
	r.Expired = s.GetExpiration() != nil && !s.GetExpiration().AsTime().After(now)
	return r
}

// loadSecrets fills d with the client and its secrets.
func (d *secretsData) load(x *Ctx) error {
	c, err := x.getClient(d.Tenant, d.ClientID)
	if err != nil {
		return err
	}
	d.ClientName = c.GetClientName()
	resp, err := clientsAPI(x).ListClientSecrets(x.API(), &registryv1.ListClientSecretsRequest{TenantId: d.Tenant, ClientId: d.ClientID})
	if err != nil {
		return err
	}
	now := x.c.now()
	d.State = secretsState(x.Session.CSRF, d.Tenant, d.ClientID, resp.GetItems())
	for _, s := range resp.GetItems() {
		d.Items = append(d.Items, secretRowOf(s, now))
	}
	// The API accepts expirations from 1 day to 3 years ahead; the date picker offers that range.
	d.MinDate = now.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	d.MaxDate = now.UTC().AddDate(3, 0, -1).Format(time.DateOnly)
	return nil
}

// listSecrets serves GET /console/clients/{tenant}/{id}/secrets.
func listSecrets(x *Ctx) {
	d := &secretsData{Tenant: x.R.PathValue("tenant"), ClientID: x.R.PathValue("id")}
	if err := d.load(x); err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "secrets", "Secrets of "+d.ClientID, d)
}

// secretsState is the digest of a client's secret list that the create form carries: the secret ids in the
// API's order, keyed by the session's CSRF token, so it is the same only for the same list in the same session.
func secretsState(csrf, tenant, client string, items []*registryv1.ClientSecret) string {
	m := hmac.New(sha256.New, []byte(csrf))
	for _, s := range append([]string{tenant, client}, secretIDs(items)...) {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

func secretIDs(items []*registryv1.ClientSecret) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = s.GetSecretId()
	}
	return out
}

// parseExpiration reads the form's date (YYYY-MM-DD): the secret is accepted through the end of that day,
// UTC. Empty: the API's default.
func parseExpiration(s string) (*timestamppb.Timestamp, bool) {
	if s == "" {
		return nil, true
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return nil, false
	}
	return timestamppb.New(d.Add(24*time.Hour - time.Second)), true
}

// createSecret serves POST /console/clients/{tenant}/{id}/secrets: CreateClientSecret, answered with the
// one page that shows the value.
func createSecret(x *Ctx) {
	tenant, id := x.R.PathValue("tenant"), x.R.PathValue("id")
	f := x.Form()
	in := &registryv1.ClientSecret{Description: strings.TrimSpace(f.Get("description"))}
	expText := strings.TrimSpace(f.Get("expiration"))
	retry := func(p Problems) {
		d := &secretsData{Tenant: tenant, ClientID: id, Description: in.Description, Expiration: expText}
		if err := d.load(x); err != nil {
			x.Fail(err)
			return
		}
		x.RenderProblems(p.Status, "secrets", "Secrets of "+id, d, p)
	}
	cur, err := clientsAPI(x).ListClientSecrets(x.API(), &registryv1.ListClientSecretsRequest{TenantId: tenant, ClientId: id})
	if err != nil {
		x.Fail(err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("state")), []byte(secretsState(x.Session.CSRF, tenant, id, cur.GetItems()))) != 1 {
		retry(Problems{Status: http.StatusConflict, Message: "The secrets changed after this form was shown (was it sent twice?): no secret was created. " +
			"Check the list below and create one again if you need it."})
		return
	}
	exp, ok := parseExpiration(expText)
	if !ok {
		retry(Problems{Status: http.StatusBadRequest, Message: "The expiration is not a date.",
			Fields: map[string]string{"expiration": "must be a date (YYYY-MM-DD)"}})
		return
	}
	in.Expiration = exp
	resp, err := clientsAPI(x).CreateClientSecret(x.API(), &registryv1.CreateClientSecretRequest{TenantId: tenant, ClientId: id, Secret: in})
	if err != nil {
		if x.handled(err) {
			return
		}
		retry(ProblemsOf(err))
		return
	}
	s := resp.GetSecret()
	x.Render(http.StatusCreated, "secret-created", "Secret created", &secretCreated{Tenant: tenant, ClientID: id,
		Secret: secretRowOf(s, x.c.now()), Value: s.GetValue()})
}

// confirmDeleteSecret serves GET /console/clients/{tenant}/{id}/secrets/{secret}/delete.
func confirmDeleteSecret(x *Ctx) {
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
	back := clientsPath(tenant, id, "secrets")
	x.Confirm("Delete secret", ConfirmData{
		Question: "Delete " + what + " of client " + id + "? The client can no longer authenticate with it.",
		Button:   "Delete secret", Action: clientsPath(tenant, id, "secrets", sid, "delete"), Cancel: back,
	})
}

// deleteSecret serves POST /console/clients/{tenant}/{id}/secrets/{secret}/delete: DeleteClientSecret.
func deleteSecret(x *Ctx) {
	tenant, id, sid := x.R.PathValue("tenant"), x.R.PathValue("id"), x.R.PathValue("secret")
	if _, err := clientsAPI(x).DeleteClientSecret(x.API(), &registryv1.DeleteClientSecretRequest{TenantId: tenant, ClientId: id, SecretId: sid}); err != nil {
		x.Fail(err)
		return
	}
	x.Redirect(clientsPath(tenant, id, "secrets"), "Secret deleted.")
}
