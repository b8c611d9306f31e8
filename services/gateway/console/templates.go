package console

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Templates: templates/layout.html defines "layout" and the shared partials ("field", "filter", "pager",
// "csrf"); each templates/pages/<name>.html defines "content" and is rendered by name. Static files are
// served from /console/static/ (no inline script or style anywhere: the CSP forbids them).

//go:embed templates/*.html templates/pages/*.html
var templateFiles embed.FS

//go:embed static/*
var staticFiles embed.FS

var funcs = template.FuncMap{
	// field builds the "field" partial's argument: {{template "field" (field $ "code" "Code" "text" .Code)}}.
	"field": func(v View, name, label, typ string, value any) FieldView {
		return FieldView{Name: name, Label: label, Type: typ, Value: value, Error: v.Err(name)}
	},
	// time renders a time in UTC, or "—" for the zero time.
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}

// FieldView is one labelled input with the API's message about it.
type FieldView struct {
	Name, Label, Type string
	Value             any
	Error             string
}

var pageTemplates = func() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	pages, err := fs.Glob(templateFiles, "templates/pages/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, p := range pages {
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFiles, p))
		out[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return out
}()

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The assets are part of the binary: cacheable for a while, revalidated after.
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Del("Pragma")
		files.ServeHTTP(w, r)
	})
}
