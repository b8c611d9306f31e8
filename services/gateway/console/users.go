package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	registryv1 "github.com/authsuite/authsuite/gen/authsuite/registry/v1"
)

// The users pages: UserService of the registry, for the tenant of the query parameter tenant (by default the
// signed-in user's). List, filter and create; a user's page edits the profile, roles, groups, attributes and
// email verification, disables or enables, resets the password (never shown back) and deletes. The API
// decides every call; its field messages show next to the inputs.

func init() {
	Register("users", func(m *Mux) {
		m.Get("/console/users", listUsers)
		m.Post("/console/users", createUser)
		m.Get("/console/users/{id}", showUser)
		m.Post("/console/users/{id}", updateUser)
		m.Post("/console/users/{id}/password", resetUserPassword)
		m.Post("/console/users/{id}/disable", func(x *Ctx) { setUserDisabled(x, true) })
		m.Post("/console/users/{id}/enable", func(x *Ctx) { setUserDisabled(x, false) })
		m.Get("/console/users/{id}/delete", confirmDeleteUser)
		m.Post("/console/users/{id}/delete", deleteUser)
	})
}

func users(x *Ctx) registryv1.UserServiceClient { return registryv1.NewUserServiceClient(x.Registry()) }

type userRow struct {
	ID, LoginName, Email, DisplayName, Roles string
	Disabled                                 bool
	Created                                  string
}

func userRowOf(u *registryv1.User) userRow {
	r := userRow{ID: u.GetUserId(), LoginName: u.GetLoginName(), Email: u.GetEmail(), DisplayName: u.GetDisplayName(),
		Roles: strings.Join(u.GetRoles(), ", "), Disabled: u.GetDisabled()}
	if u.GetCreateTime() != nil {
		r.Created = u.GetCreateTime().AsTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	return r
}

// userForm is what the create and edit forms show: the stored or the typed values.
type userForm struct {
	LoginName, Email, Mobile, DisplayName string
	Roles, Groups, Attributes             string
	EmailVerified                         bool
	// Errors of the list inputs (roles, groups, attributes), merged from the API's per-item messages.
	RolesErr, GroupsErr, AttributesErr string
}

func userFormOf(u *registryv1.User) userForm {
	return userForm{LoginName: u.GetLoginName(), Email: u.GetEmail(), Mobile: u.GetMobile(), DisplayName: u.GetDisplayName(),
		Roles: strings.Join(u.GetRoles(), " "), Groups: strings.Join(u.GetGroups(), " "),
		Attributes: formatAttributes(u.GetAttributes()), EmailVerified: u.GetEmailVerified()}
}

// userFormFrom reads the create or edit form.
func userFormFrom(f url.Values) userForm {
	return userForm{LoginName: strings.TrimSpace(f.Get("loginName")), Email: strings.TrimSpace(f.Get("email")),
		Mobile: strings.TrimSpace(f.Get("mobile")), DisplayName: strings.TrimSpace(f.Get("displayName")),
		Roles: f.Get("roles"), Groups: f.Get("groups"), Attributes: f.Get("attributes"), EmailVerified: f.Get("emailVerified") == "on"}
}

// apply writes the form's fields onto u; a malformed attributes line is answered as the API would, naming
// the field.
func (fm *userForm) apply(u *registryv1.User) (badLine int) {
	u.LoginName, u.Email, u.Mobile, u.DisplayName = fm.LoginName, fm.Email, fm.Mobile, fm.DisplayName
	u.Roles, u.Groups = splitList(fm.Roles), splitList(fm.Groups)
	attrs, bad := parseAttributes(fm.Attributes)
	if bad > 0 {
		return bad
	}
	u.Attributes = attrs
	return 0
}

// problems fills the list inputs' messages from the API's answer.
func (fm *userForm) problems(err error, u *registryv1.User) {
	p := ProblemsOf(err)
	fm.RolesErr = listErrors(p.Fields, "roles", u.GetRoles())
	fm.GroupsErr = listErrors(p.Fields, "groups", u.GetGroups())
	fm.AttributesErr = listErrors(p.Fields, "attributes", nil)
}

type usersData struct {
	Tenant  string
	Tenants []tenantOption
	Items   []userRow
	Pager   Pager
	New     userForm
}

func (d *usersData) load(x *Ctx) error {
	d.Tenant = scopeTenant(x)
	cl := users(x)
	// The API filters (a case-insensitive substring of id, login name, email or display name), so a filtered
	// page reads only matching users; the console's match then keeps all of them.
	filter := listQuery(x)
	items, pg, err := List(x, func(ctx context.Context, token string, size int32) ([]*registryv1.User, string, error) {
		resp, err := cl.ListUsers(ctx, &registryv1.ListUsersRequest{TenantId: d.Tenant, PageSize: size, PageToken: token, Filter: filter})
		return resp.GetItems(), resp.GetNextPageToken(), err
	}, func(u *registryv1.User, q string) bool {
		return Contains(q, u.GetUserId(), u.GetLoginName(), u.GetEmail(), u.GetDisplayName())
	})
	if err != nil {
		return err
	}
	d.Pager = scoped(pg, url.Values{"tenant": {x.R.URL.Query().Get("tenant")}})
	for _, u := range items {
		d.Items = append(d.Items, userRowOf(u))
	}
	d.Tenants = tenantOptions(x, d.Tenant)
	return nil
}

// listUsers serves GET /console/users?tenant=.
func listUsers(x *Ctx) {
	var d usersData
	if err := d.load(x); err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "users", "Users", &d)
}

// userPath is the URL of a user's page.
func userPath(tenant, id, suffix string) string {
	return Prefix + "users/" + url.PathEscape(id) + suffix + "?" + url.Values{"tenant": {tenant}}.Encode()
}

// createUser serves POST /console/users?tenant=: CreateUser with the form's password (sent once, never
// shown back).
func createUser(x *Ctx) {
	f := x.Form()
	fm := userFormFrom(f)
	in := &registryv1.User{}
	fm.apply(in)
	in.Attributes = nil
	if pw := f.Get("password"); pw != "" {
		in.Password = &pw
	}
	tenant := scopeTenant(x)
	resp, err := users(x).CreateUser(x.API(), &registryv1.CreateUserRequest{TenantId: tenant, User: in})
	if err != nil {
		d := usersData{New: fm}
		if lerr := d.load(x); lerr != nil {
			x.Fail(lerr)
			return
		}
		d.New.problems(err, in)
		x.Retry("users", "Users", &d, err)
		return
	}
	u := resp.GetUser()
	x.Redirect(userPath(tenant, u.GetUserId(), ""), "User "+u.GetLoginName()+" created.")
}

type userData struct {
	Tenant string
	User   userRow
	Mobile string
	Groups string
	Attrs  string
	// EmailVerified and PhoneVerified as stored.
	EmailVerified, PhoneVerified bool
	Updated                      string
	Edit                         userForm
}

func userDataOf(tenant string, u *registryv1.User) *userData {
	d := &userData{Tenant: tenant, User: userRowOf(u), Mobile: u.GetMobile(), Groups: strings.Join(u.GetGroups(), ", "),
		Attrs: strings.TrimSpace(formatAttributes(u.GetAttributes())), EmailVerified: u.GetEmailVerified(),
		PhoneVerified: u.GetPhoneVerified(), Edit: userFormOf(u)}
	if u.GetUpdateTime() != nil {
		d.Updated = u.GetUpdateTime().AsTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	return d
}

func getUser(x *Ctx, tenant, id string) (*registryv1.User, error) {
	resp, err := users(x).GetUser(x.API(), &registryv1.GetUserRequest{TenantId: tenant, UserId: id})
	return resp.GetUser(), err
}

func userTitle(u *registryv1.User) string { return "User " + u.GetLoginName() }

// showUser serves GET /console/users/{id}?tenant=.
func showUser(x *Ctx) {
	tenant := scopeTenant(x)
	u, err := getUser(x, tenant, x.R.PathValue("id"))
	if err != nil {
		x.Fail(err)
		return
	}
	x.Render(http.StatusOK, "users-edit", userTitle(u), userDataOf(tenant, u))
}

// updateUser serves POST /console/users/{id}?tenant=: UpdateUser with the stored user changed by the form
// (UpdateUser replaces the whole profile; the password stays as it is, disabled too).
func updateUser(x *Ctx) {
	tenant, id := scopeTenant(x), x.R.PathValue("id")
	cur, err := getUser(x, tenant, id)
	if err != nil {
		x.Fail(err)
		return
	}
	f := x.Form()
	fm := userFormFrom(f)
	in := &registryv1.User{UserId: id, Disabled: cur.GetDisabled(), PhoneVerified: cur.PhoneVerified}
	if line := fm.apply(in); line > 0 {
		d := userDataOf(tenant, cur)
		d.Edit = fm
		d.Edit.AttributesErr = "Line " + strconv.Itoa(line) + " is not name=value."
		x.RenderProblems(http.StatusBadRequest, "users-edit", userTitle(cur), d, Problems{Message: "attributes: line " + strconv.Itoa(line) + " is not name=value"})
		return
	}
	// Email verification: the box as the admin left it while the address stays the same; for a new address
	// only a box the admin ticked now (otherwise the API resets it, as for any changed address).
	if strings.EqualFold(in.Email, cur.GetEmail()) || (fm.EmailVerified && f.Get("emailVerifiedWas") != "on") {
		v := fm.EmailVerified
		in.EmailVerified = &v
	}
	resp, err := users(x).UpdateUser(x.API(), &registryv1.UpdateUserRequest{TenantId: tenant, UserId: id, User: in})
	if err != nil {
		d := userDataOf(tenant, cur)
		d.Edit = fm
		d.Edit.problems(err, in)
		x.Retry("users-edit", userTitle(cur), d, err)
		return
	}
	x.Redirect(userPath(tenant, id, ""), "User "+resp.GetUser().GetLoginName()+" saved.")
}

// resetUserPassword serves POST /console/users/{id}/password?tenant=: UpdateUser with the stored profile
// and the new password. The password is never rendered back, not even after a refusal.
func resetUserPassword(x *Ctx) {
	tenant, id := scopeTenant(x), x.R.PathValue("id")
	cur, err := getUser(x, tenant, id)
	if err != nil {
		x.Fail(err)
		return
	}
	pw := x.Form().Get("password")
	in := storedUser(cur)
	in.Password = &pw
	if _, err := users(x).UpdateUser(x.API(), &registryv1.UpdateUserRequest{TenantId: tenant, UserId: id, User: in}); err != nil {
		x.Retry("users-edit", userTitle(cur), userDataOf(tenant, cur), err)
		return
	}
	x.Redirect(userPath(tenant, id, ""), "Password of "+cur.GetLoginName()+" reset.")
}

// storedUser is the profile to send back unchanged (UpdateUser replaces the profile).
func storedUser(u *registryv1.User) *registryv1.User {
	return &registryv1.User{UserId: u.GetUserId(), LoginName: u.GetLoginName(), Email: u.GetEmail(), Mobile: u.GetMobile(),
		DisplayName: u.GetDisplayName(), Roles: u.GetRoles(), Disabled: u.GetDisabled(), EmailVerified: u.EmailVerified,
		PhoneVerified: u.PhoneVerified, Groups: u.GetGroups(), Attributes: u.GetAttributes()}
}

// setUserDisabled serves POST /console/users/{id}/disable and /enable.
func setUserDisabled(x *Ctx, disabled bool) {
	tenant, id := scopeTenant(x), x.R.PathValue("id")
	cur, err := getUser(x, tenant, id)
	if err != nil {
		x.Fail(err)
		return
	}
	in := storedUser(cur)
	in.Disabled = disabled
	if _, err := users(x).UpdateUser(x.API(), &registryv1.UpdateUserRequest{TenantId: tenant, UserId: id, User: in}); err != nil {
		x.Retry("users-edit", userTitle(cur), userDataOf(tenant, cur), err)
		return
	}
	msg := "User " + cur.GetLoginName() + " enabled."
	if disabled {
		msg = "User " + cur.GetLoginName() + " disabled: they can no longer sign in."
	}
	x.Redirect(userPath(tenant, id, ""), msg)
}

// confirmDeleteUser serves GET /console/users/{id}/delete?tenant=.
func confirmDeleteUser(x *Ctx) {
	tenant, id := scopeTenant(x), x.R.PathValue("id")
	u, err := getUser(x, tenant, id)
	if err != nil {
		x.Fail(err)
		return
	}
	x.Confirm("Delete user "+u.GetLoginName(), ConfirmData{
		Question: "Delete user " + u.GetLoginName() + " (" + u.GetUserId() + ")? They can no longer sign in, and this cannot be undone.",
		Button:   "Delete user", Action: userPath(tenant, id, "/delete"), Cancel: userPath(tenant, id, ""),
	})
}

// deleteUser serves POST /console/users/{id}/delete?tenant=: DeleteUser.
func deleteUser(x *Ctx) {
	tenant, id := scopeTenant(x), x.R.PathValue("id")
	if _, err := users(x).DeleteUser(x.API(), &registryv1.DeleteUserRequest{TenantId: tenant, UserId: id}); err != nil {
		x.Fail(err)
		return
	}
	x.Redirect(Prefix+"users?"+url.Values{"tenant": {tenant}}.Encode(), "User deleted.")
}
