package users

import (
	"context"
	"fmt"

	"manouche/admin"
	"manouche/core"
)

// AdminPages declares the Users page of the admin, derived from User
// (admin.FromModel) with what differs: labels, the list, search and filters,
// a password that is hashed, an avatar shown from the media storage,
// deactivation instead of deletion. Every change drops the cached user and its
// tokens' copies, so a deactivated user's API tokens stop working at the next
// request.
func (App) AdminPages(p *core.Project) []admin.ModelAdmin {
	return append([]admin.ModelAdmin{admin.MustFromModel((*User)(nil), adminOptions(p))}, grantPages(p)...)
}

// grantPages are the pages where superusers grant permissions, Django's way:
// Groups (a name), what each group holds (Group permissions), who belongs to
// which group (User groups) and what a user holds of its own (User
// permissions). Permissions are picked by their full name ("blog.view_post",
// created by migrate for every installed model). Every change drops the cached
// permission sets of every process, so it applies at the next request.
func grantPages(p *core.Project) []admin.ModelAdmin {
	accounts := AccountsOf(p)
	forget := func(ctx context.Context, _ string) { accounts.ForgetAllPerms(ctx) }
	permission := admin.Field{Kind: admin.KindFK, Ref: "users_permissions", RefLabel: "name", Label: "Permission"}
	user := admin.Field{Kind: admin.KindFK, Ref: "users", RefLabel: "email", Label: "User"}
	group := admin.Field{Kind: admin.KindFK, Ref: "users_groups", RefLabel: "name", Label: "Group"}
	return []admin.ModelAdmin{
		admin.MustFromModel((*Group)(nil), admin.Options{Title: "Groups", Icon: "fa-users", Label: "name",
			List: []string{"name"}, Search: []string{"name"}, Ordering: "name", SuperuserOnly: true, AfterSave: forget}),
		admin.MustFromModel((*GroupPermission)(nil), admin.Options{Title: "Group permissions", Icon: "fa-key",
			Fields: map[string]admin.Field{"group_id": group, "permission_id": permission},
			List:   []string{"group_id", "permission_id"}, Filters: []string{"group_id"}, Search: []string{},
			Ordering: "group_id", SuperuserOnly: true, AfterSave: forget}),
		admin.MustFromModel((*UserGroup)(nil), admin.Options{Title: "User groups", Icon: "fa-user-plus",
			Fields: map[string]admin.Field{"user_id": user, "group_id": group},
			List:   []string{"user_id", "group_id"}, Filters: []string{"group_id"}, Search: []string{},
			Ordering: "user_id", SuperuserOnly: true, AfterSave: forget}),
		admin.MustFromModel((*UserPermission)(nil), admin.Options{Title: "User permissions", Icon: "fa-key",
			Fields: map[string]admin.Field{"user_id": user, "permission_id": permission},
			List:   []string{"user_id", "permission_id"}, Filters: []string{"user_id"}, Search: []string{},
			Ordering: "user_id", SuperuserOnly: true, AfterSave: forget}),
	}
}

// adminOptions are the Users page's differences from the derived page.
func adminOptions(p *core.Project) admin.Options {
	accounts := AccountsOf(p)
	return admin.Options{
		Title: "Users", Icon: "fa-users",
		Labels: map[string]string{"email": "email", "password": "password", "is_active": "Active",
			"is_staff": "Staff", "is_superuser": "Superuser"},
		Fields: map[string]admin.Field{
			"password": {Kind: admin.KindPassword, Hash: hashPassword},
			"avatar": {Kind: admin.KindImage, URL: func(name string) string {
				u, err := p.MediaURL(context.Background(), name)
				if err != nil {
					p.Log.Warn("users: avatar URL", "name", name, "error", err)
				}
				return u
			}},
		},
		List:          []string{"email", "first_name", "last_name", "is_active", "is_staff", "date_joined"},
		Filters:       []string{"is_active", "is_staff", "is_superuser"},
		Ordering:      "-date_joined",
		Form:          []string{"email", "first_name", "last_name", "password", "is_active", "is_staff", "is_superuser", "avatar", "date_joined", "last_login"},
		ReadOnly:      []string{"avatar", "date_joined", "last_login"},
		NoDelete:      true, // deactivate instead, as Django recommends
		SuperuserOnly: true,
		AfterSave: func(ctx context.Context, id string) {
			if id != "" {
				accounts.Forget(ctx, id)
			}
		},
	}
}

// AdminAuthenticate checks a staff login for the admin: the same email and
// password as the API. Unknown emails and wrong passwords are
// admin.ErrInvalidCredentials; whether the account may enter is the admin's call.
func AdminAuthenticate(p *core.Project) func(ctx context.Context, email, password string) (admin.User, error) {
	accounts := AccountsOf(p)
	return func(ctx context.Context, email, plain string) (admin.User, error) {
		u, err := accounts.ByEmail(ctx, email)
		if err != nil {
			return admin.User{}, err
		}
		if u == nil {
			_, _ = checkPassword(plain, dummyHash())
			return admin.User{}, admin.ErrInvalidCredentials
		}
		if ok, err := checkPassword(plain, u.Password); err != nil || !ok {
			return admin.User{}, admin.ErrInvalidCredentials
		}
		return adminUser(u), nil
	}
}

// AdminLoadUser loads the account behind an admin session, on every request,
// from the database (not the cache), so a change made anywhere applies at once.
func AdminLoadUser(p *core.Project) func(ctx context.Context, id string) (admin.User, error) {
	return func(ctx context.Context, id string) (admin.User, error) {
		u := new(User)
		if err := p.DB.NewSelect().Model(u).Where("id = ?", id).Scan(ctx); err != nil {
			return admin.User{}, fmt.Errorf("users: load %s: %w", id, err)
		}
		return adminUser(u), nil
	}
}

// AdminHasPerm answers the admin's permission checks with HasPerm: the
// account's own and its groups' permissions, read through the cache.
func AdminHasPerm(p *core.Project) func(ctx context.Context, id, perm string) (bool, error) {
	accounts := AccountsOf(p)
	return func(ctx context.Context, id, perm string) (bool, error) {
		u, err := accounts.ByID(ctx, id)
		if err != nil || u == nil {
			return false, err
		}
		return accounts.HasPerm(ctx, u, perm)
	}
}

func adminUser(u *User) admin.User {
	return admin.User{ID: u.ID.String(), Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		// Every password change (API, reset, changepassword, the admin's own form) changes
		// the hash, and with it ends the account's admin sessions.
		SessionKey: u.Password}
}
