package console

import (
	"net/url"
	"sort"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// Tenant scope of the users, sessions and audit pages: the query parameter tenant names the tenant a page
// shows, by default the signed-in user's own. A system administrator gets a picker of tenants; anyone else
// may still name another tenant in the URL, and the API refuses it (shown as the 403 page).

// scopeTenant is the tenant a request is about.
func scopeTenant(x *Ctx) string {
	if t := strings.TrimSpace(x.R.URL.Query().Get("tenant")); t != "" && len(t) <= 200 {
		return t
	}
	return x.Session.TenantID
}

// listQuery is the filter box's value as List reads it (trimmed, at most 200 bytes), for APIs that filter
// on their side.
func listQuery(x *Ctx) string {
	q := strings.TrimSpace(x.R.URL.Query().Get("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	return q
}

// tenantOption is one entry of the tenant picker.
type tenantOption struct {
	ID, Code, Label string
	Selected        bool
}

// maxPickerTenants bounds the picker: a system administrator with more tenants types the id in the URL or
// follows the tenants page's links.
const maxPickerTenants = 200

// tenantOptions lists the tenants a system administrator may pick (one API page), with current selected;
// nil for anyone else or when the API refuses (the page then shows only its own tenant).
func tenantOptions(x *Ctx, current string) []tenantOption {
	if !x.Session.System {
		return nil
	}
	resp, err := registryv1.NewTenantServiceClient(x.Registry()).ListTenants(x.API(), &registryv1.ListTenantsRequest{PageSize: maxPickerTenants})
	if err != nil {
		return nil
	}
	var out []tenantOption
	found := false
	for _, t := range resp.GetItems() {
		sel := t.GetTenantId() == current
		found = found || sel
		out = append(out, tenantOption{ID: t.GetTenantId(), Code: t.GetCode(), Label: t.GetCode() + " — " + t.GetName(), Selected: sel})
	}
	if !found {
		out = append(out, tenantOption{ID: current, Label: current, Selected: true})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// withQuery adds the values of extra (when not empty) to the query of a console URL: the pager's links keep
// the page's tenant and other filters.
func withQuery(u string, extra url.Values) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	for k, vs := range extra {
		for _, v := range vs {
			if v != "" {
				q.Set(k, v)
			}
		}
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// scoped is pg with its links keeping extra.
func scoped(pg Pager, extra url.Values) Pager {
	pg.First, pg.Next = withQuery(pg.First, extra), withQuery(pg.Next, extra)
	return pg
}

// splitList reads a list typed into one input: items separated by commas, spaces or new lines, empty items
// dropped, order kept (the API reports duplicates and bad names by index).
func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if len(f) == 0 {
		return []string{}
	}
	return f
}

// parseAttributes reads "name=value" lines (the value may contain "="; blank lines are skipped). A line
// without "=" is reported by its 1-based number.
func parseAttributes(s string) (map[string]string, int) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, i + 1
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, 0
}

// formatAttributes is the inverse of parseAttributes, sorted by name.
func formatAttributes(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

// listErrors merges the API's messages about the items of a list field typed into one input ("roles[1]",
// "attributes.bad key") into one message for that input, naming the item.
func listErrors(fields map[string]string, name string, items []string) string {
	var msgs []string
	if m := fields[name]; m != "" {
		msgs = append(msgs, m)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, name)
		if !ok || rest == "" {
			continue
		}
		switch rest[0] {
		case '[':
			var label string
			if i, ok := indexOf(rest); ok && i < len(items) {
				label = "“" + items[i] + "”: "
			}
			msgs = append(msgs, label+fields[k])
		case '.':
			msgs = append(msgs, "“"+rest[1:]+"”: "+fields[k])
		}
	}
	return strings.Join(msgs, " ")
}

// indexOf reads the index of "[3]..." .
func indexOf(s string) (int, bool) {
	end := strings.IndexByte(s, ']')
	if end < 2 {
		return 0, false
	}
	n := 0
	for _, c := range s[1:end] {
		if c < '0' || c > '9' || n > 1<<20 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
