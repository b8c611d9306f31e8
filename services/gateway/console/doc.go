// Package console is authsuite's admin console: server-rendered HTML pages under /console/ of the REST
// gateway, for system and tenant administrators. It holds no authority of its own: a user signs in through
// authsuite's OpenID Connect (signin.go), and every page calls the same gRPC APIs the REST paths call, with
// that user's access token, so the admin API's authorization decides everything.
//
// # Writing a page
//
// A section (nav entry) is one Go file, its templates, and nothing else:
//
//	// clients.go
//	func init() {
//		Register("clients", func(m *Mux) {
//			m.Get("/console/clients", listClients)          // GET: show
//			m.Post("/console/clients", createClient)        // POST: change, then x.Redirect
//			m.Get("/console/clients/{id}/delete", confirmDeleteClient)
//			m.Post("/console/clients/{id}/delete", deleteClient)
//		})
//	}
//
// The section keys are fixed in navOrder (tenants, clients, users, providers, connectors, keys, sessions,
// audit); a section shows in the navigation once registered. Handlers get a *Ctx of a signed-in user (a
// request without a valid session never reaches them: the browser is sent to sign in and comes back):
//
//   - Call APIs with x.API() as the context, on clients built on x.Registry(), x.Token() or x.Provider():
//     registryv1.NewClientServiceClient(x.Registry()).ListClients(x.API(), req). Never decide permissions
//     in the console: call, and show what the API answers. x.Session.System (the API answered ListTenants at
//     sign-in) and x.Session.TenantID may only choose defaults and what to offer.
//   - Read lists with List(x, fetch, match): server-side paging through the API's page_token and the filter
//     box (?q=) with Contains for match; render .Pager with {{template "filter" .Data.Pager}} and
//     {{template "pager" .Data.Pager}}.
//   - POST handlers: the form is already read and its CSRF token checked: read x.Form() (and x.File(name) for
//     a multipart upload, at most Config.MaxUpload). Every <form method="post"> must contain
//     {{template "csrf" $}}. On success answer x.Redirect(path, flash) (POST-redirect-GET; the flash shows
//     once). When the API refuses, answer x.Retry(page, title, data, err): the same page again with the
//     API's status, its message at the top and each field's message next to the input of that REST name
//     ({{template "field" (field $ "redirectUris" "Redirect URIs" "text" .Data.RedirectURIs)}}, or
//     {{$.Err "redirectUris[1]"}} by hand). For GETs whose call fails, x.Fail(err): 401 signs in again,
//     403 shows the refusal page, anything else a message page with the status.
//   - Destructive actions: a GET ".../delete" answers x.Confirm(title, ConfirmData{…}), whose form POSTs to
//     the action; the POST does it and redirects. No JavaScript is needed; a form may add
//     data-confirm="Question?" for a browser dialog too.
//   - Render with x.Render(status, "name", title, data): templates/pages/<name>.html defines "content" and
//     is shown inside the layout; it reads its data as .Data and the layout's facts as $ (View).
//   - Secrets shown once: render the value in an element with an id and add
//     <button type="button" class="secondary" data-copy="that-id">Copy</button> (static/console.js).
//
// # Rules
//
// html/template only; no inline script, style attribute or event handler (the CSP is script-src 'self';
// style-src 'self'); classes from static/style.css (card, field, actions, facts, table-wrap, secret, badge,
// danger, secondary). Every input has a <label for>, ids are stable (tests select by them), tables sit in
// <div class="table-wrap"> so they scroll at 375 px. Lists are bounded (DefaultPageSize per page). Never
// log or render tokens; secrets only in the response that created them.
//
// Tests: e2e/console_harness_test.go starts a suite and a headless Chromium (newConsoleFixture, browser,
// signIn, fill, submit, text, screenshot); name screenshots after the page ("clients", "client-secret").
package console
