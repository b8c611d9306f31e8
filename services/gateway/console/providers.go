package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	providerv1 "github.com/authsuite/authsuite/gen/authsuite/provider/v1"
)

// The providers pages: the provider service's ProviderConfigService, the suite-wide OAuth provider
// configurations (ThingWorx Flow's LoadOAuthConfiguration, docs/reference/providers.md). A configuration file
// is uploaded as it is (the ThingWorx format of docs/examples/oauth-configurations.json, wrapped or bare)
// and sent to LoadOAuthConfiguration as its document, exactly as the REST route forwards it; the file is
// bounded by the same limit as that route (Config.MaxUpload). The load is all or nothing: the result page
// lists every entry of the file with what the API did with it, or, when it refused, each entry's problems
// and that nothing was stored. The API decides who may do what (listing needs an administrator, loading
// and deleting a system administrator).

func init() {
	Register("providers", func(m *Mux) {
		m.Get("/console/providers", listProviders)
		m.Post("/console/providers", loadProviders)
		m.Get("/console/providers/{type}/{name}", showProvider)
		m.Get("/console/providers/{type}/{name}/delete", confirmDeleteProvider)
		m.Post("/console/providers/{type}/{name}/delete", deleteProvider)
	})
}

func providerConfigs(x *Ctx) providerv1.ProviderConfigServiceClient {
	return providerv1.NewProviderConfigServiceClient(x.Provider())
}

// noProviderService answers when the gateway has no provider service.
func noProviderService(x *Ctx) bool {
	if x.Provider() == nil {
		x.Status(http.StatusServiceUnavailable, "Providers", "This gateway has no provider service.")
		return true
	}
	return false
}

type providerRow struct {
	Type, Name, Version, Updated string
	Connectable                  bool
	Connectors                   int32
	Placeholders                 []string
	Path                         string // /console/providers/<type>/<name>, escaped
}

func providerPath(typ, name string) string {
	return Prefix + "providers/" + url.PathEscape(typ) + "/" + url.PathEscape(name)
}

func providerRowOf(p *providerv1.OAuthProvider) providerRow {
	return providerRow{Type: p.GetConnectorType(), Name: p.GetOauthProvider(), Version: p.GetOauthVersion(),
		Updated: timeText(p.GetUpdateTime()), Connectable: p.GetConnectable(), Connectors: p.GetConnectorCount(),
		Placeholders: p.GetPlaceholderKeys(), Path: providerPath(p.GetConnectorType(), p.GetOauthProvider())}
}

type providersData struct {
	Items     []providerRow
	Pager     Pager
	MaxUpload string
}

func maxUploadText(x *Ctx) string {
	n := x.c.maxUpload
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// offsetFetch pages a list the API answers whole (GetOAuthConfiguration, ListConnectors) for List: the
// page token is an offset into it. all is called once per request.
func offsetFetch[T any](all func(ctx context.Context) ([]T, error)) Fetch[T] {
	var items []T
	loaded := false
	return func(ctx context.Context, token string, size int32) ([]T, string, error) {
		if !loaded {
			var err error
			if items, err = all(ctx); err != nil {
				return nil, "", err
			}
			loaded = true
		}
		off, _ := strconv.Atoi(token)
		off = min(max(off, 0), len(items))
		end := min(off+int(size), len(items))
		next := ""
		if end < len(items) {
			next = strconv.Itoa(end)
		}
		return items[off:end], next, nil
	}
}

// listProviders serves GET /console/providers?q=: the loaded providers and the upload form.
func listProviders(x *Ctx) {
	if noProviderService(x) {
		return
	}
	d, err := providersPage(x)
	if err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "providers", "Providers", d)
}

func providersPage(x *Ctx) (*providersData, error) {
	cl := providerConfigs(x)
	items, pg, err := List(x, offsetFetch(func(ctx context.Context) ([]*providerv1.OAuthProvider, error) {
		resp, err := cl.GetOAuthConfiguration(ctx, &providerv1.GetOAuthConfigurationRequest{})
		return resp.GetItems(), err
	}), func(p *providerv1.OAuthProvider, q string) bool {
		return Contains(q, p.GetConnectorType(), p.GetOauthProvider())
	})
	if err != nil {
		return nil, err
	}
	d := &providersData{Pager: pg, MaxUpload: maxUploadText(x)}
	for _, p := range items {
		d.Items = append(d.Items, providerRowOf(p))
	}
	return d, nil
}

// loadedEntry is one entry of an accepted load.
type loadedEntry struct {
	Type, Name, Action, Path string
}

type providersLoaded struct {
	Items   []loadedEntry
	Changed int
	Refusal *loadRefusal // set when the API refused the load
	Status  int
}

// loadProviders serves POST /console/providers (multipart, the file in field "file"): LoadOAuthConfiguration
// with the file's bytes as its document, then the per-entry result.
func loadProviders(x *Ctx) {
	if noProviderService(x) {
		return
	}
	doc := x.File("file")
	if len(strings.TrimSpace(string(doc))) == 0 {
		d, err := providersPage(x)
		if err != nil {
			x.Fail(err)
			return
		}
		x.RenderProblems(http.StatusBadRequest, "providers", "Providers", d, Problems{
			Message: "Choose a configuration file to load.",
			Fields:  map[string]string{"file": "must be the OAuth configuration file: a JSON object"}})
		return
	}
	res := &providersLoaded{}
	resp, err := providerConfigs(x).LoadOAuthConfiguration(x.API(), &providerv1.LoadOAuthConfigurationRequest{Document: doc})
	if err != nil {
		if x.handled(err) {
			return
		}
		r := refusalOf(doc, err)
		res.Refusal, res.Status = &r, ProblemsOf(err).Status
		x.RenderProblems(res.Status, "providers-result", "Configuration refused", res,
			Problems{Message: "Nothing was stored: the load is all or nothing, and the API refused it."})
		return
	}
	for _, it := range resp.GetItems() {
		if len(res.Items) == maxShownEntries {
			break
		}
		res.Items = append(res.Items, loadedEntry{Type: it.GetConnectorType(), Name: it.GetOauthProvider(), Action: it.GetAction(),
			Path: providerPath(it.GetConnectorType(), it.GetOauthProvider())})
		if it.GetAction() != "unchanged" {
			res.Changed++
		}
	}
	x.Render(http.StatusOK, "providers-result", "Configuration loaded", res)
}

type providerData struct {
	providerRow
	Settings    []setting
	HeaderNames []string
}

type setting struct{ Key, Value string }

// findProvider reads the provider (type, name) from the API's list; NotFound answers the message page.
func findProvider(x *Ctx, typ, name string) (*providerv1.OAuthProvider, bool) {
	resp, err := providerConfigs(x).GetOAuthConfiguration(x.API(), &providerv1.GetOAuthConfigurationRequest{})
	if err != nil {
		x.Fail(err)
		return nil, false
	}
	for _, p := range resp.GetItems() {
		if p.GetConnectorType() == typ && p.GetOauthProvider() == name {
			return p, true
		}
	}
	x.Status(http.StatusNotFound, "Not found", fmt.Sprintf("No provider %s/%s is loaded.", typ, name))
	return nil, false
}

// maxSettingText bounds a setting's shown value.
const maxSettingText = 2000

// showProvider serves GET /console/providers/{type}/{name}: one provider's settings (never its secret:
// the API does not answer it).
func showProvider(x *Ctx) {
	if noProviderService(x) {
		return
	}
	p, ok := findProvider(x, x.R.PathValue("type"), x.R.PathValue("name"))
	if !ok {
		return
	}
	d := providerDataOf(p)
	x.Render(http.StatusOK, "provider", d.Type+"/"+d.Name, d)
}

func providerDataOf(p *providerv1.OAuthProvider) *providerData {
	d := &providerData{providerRow: providerRowOf(p), HeaderNames: p.GetValidateHeaderNames()}
	for k, v := range p.GetSettings().GetFields() {
		var text string
		if sv, ok := v.GetKind().(*structpb.Value_StringValue); ok {
			text = sv.StringValue
		} else {
			b, _ := protojson.Marshal(v)
			text = string(b)
		}
		if len(text) > maxSettingText {
			text = text[:maxSettingText] + "…"
		}
		d.Settings = append(d.Settings, setting{Key: k, Value: text})
	}
	sort.Slice(d.Settings, func(i, j int) bool { return d.Settings[i].Key < d.Settings[j].Key })
	return d
}

// confirmDeleteProvider serves GET /console/providers/{type}/{name}/delete.
func confirmDeleteProvider(x *Ctx) {
	typ, name := x.R.PathValue("type"), x.R.PathValue("name")
	x.Confirm("Delete provider", ConfirmData{
		Question: fmt.Sprintf("Delete provider %s/%s? Its pending connectors are deleted with it; while another connector uses it, the API refuses.", typ, name),
		Button:   "Delete provider", Action: providerPath(typ, name) + "/delete", Cancel: providerPath(typ, name),
	})
}

// deleteProvider serves POST /console/providers/{type}/{name}/delete: DeleteOAuthConfiguration.
func deleteProvider(x *Ctx) {
	if noProviderService(x) {
		return
	}
	typ, name := x.R.PathValue("type"), x.R.PathValue("name")
	_, err := providerConfigs(x).DeleteOAuthConfiguration(x.API(), &providerv1.DeleteOAuthConfigurationRequest{ConnectorName: typ, OauthProvider: name})
	if err != nil {
		if x.handled(err) {
			return
		}
		// Refused (in use by connectors, gone): the provider's page with the API's reason, when it is still there.
		p, ok := findProvider(x, typ, name)
		if !ok {
			return
		}
		d := providerDataOf(p)
		x.RenderProblems(ProblemsOf(err).Status, "provider", d.Type+"/"+d.Name, d, ProblemsOf(err))
		return
	}
	x.Redirect(Prefix+"providers", "Provider "+typ+"/"+name+" deleted.")
}
