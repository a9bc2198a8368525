package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/perm"
)

// permsCacheTTL bounds how long a user's permissions stay cached; every
// change drops them at once (ForgetPerms).
const permsCacheTTL = 5 * time.Minute

// permsGenKey holds the generation of every cached permission set: dropping
// it (ForgetAllPerms) makes every cached set unreachable on every process.
const permsGenKey = "users:perms-gen"

func permsKey(gen, id string) string { return "users:perms:" + gen + ":" + id }

// permsGen is the current generation of the cached permission sets.
func (a *Accounts) permsGen(ctx context.Context) (string, error) {
	var gen string
	err := a.p.Cache.OnceNear(ctx, permsGenKey, &gen, 24*time.Hour, func(context.Context) (any, error) {
		return uuid.NewString(), nil
	})
	return gen, err
}

// ForgetAllPerms drops every cached permission set, on every process: after
// a change whose users are not known one by one (the admin's pages of grants).
func (a *Accounts) ForgetAllPerms(ctx context.Context) {
	if err := a.p.Cache.Delete(ctx, permsGenKey); err != nil {
		a.p.Log.Warn("users: cache delete permissions generation", "error", err)
	}
}

// Subject says what u holds (perm.Provider): its flags, from the
// authenticated snapshot, and its permissions, its own and its groups',
// read through the cache's near layer, so a warm HasPerm makes no query and
// no round trip. A change of a user's groups or permissions, or of a group's
// permissions, drops the cached copies on every process at once.
func (a *Accounts) Subject(ctx context.Context, cu core.User) (*perm.Subject, error) {
	var u *User
	switch x := cu.(type) {
	case *Principal:
		u = x.User
	case *User:
		u = x
	default:
		found, err := a.ByID(ctx, cu.UserID())
		if err != nil {
			return nil, err
		}
		if found == nil {
			return &perm.Subject{}, nil
		}
		u = found
	}
	s := &perm.Subject{Active: u.IsActive, Staff: u.IsStaff, Superuser: u.IsSuperuser}
	if !u.IsActive || u.IsSuperuser {
		return s, nil
	}
	perms, err := a.Permissions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	s.Perms = perms
	return s, nil
}

// HasPerm reports whether u holds perm ("blog.change_post"), as Django's
// user.has_perm: active superusers hold every permission, inactive users none.
func (a *Accounts) HasPerm(ctx context.Context, u core.User, perm string) (bool, error) {
	s, err := a.Subject(ctx, u)
	if err != nil {
		return false, err
	}
	return s.Has(perm), nil
}

// Permissions are the full names of the permissions a user holds through
// its own and its groups' grants, sorted, read through the cache.
func (a *Accounts) Permissions(ctx context.Context, userID uuid.UUID) ([]string, error) {
	gen, err := a.permsGen(ctx)
	if err != nil {
		return nil, fmt.Errorf("users: permissions of %s: %w", userID, err)
	}
	var perms []string
	err = a.p.Cache.OnceNear(ctx, permsKey(gen, userID.String()), &perms, permsCacheTTL, func(ctx context.Context) (any, error) {
		return a.loadPermissions(ctx, a.p.DB, userID)
	})
	if err != nil {
		return nil, fmt.Errorf("users: permissions of %s: %w", userID, err)
	}
	return perms, nil
}

func (a *Accounts) loadPermissions(ctx context.Context, idb bun.IDB, userID uuid.UUID) ([]string, error) {
	var rows []Permission
	err := idb.NewSelect().Model(&rows).
		Where("perm.id IN (?)", idb.NewSelect().Model((*UserPermission)(nil)).Column("permission_id").Where("user_id = ?", userID)).
		WhereOr("perm.id IN (?)", idb.NewSelect().Model((*GroupPermission)(nil)).Column("gp.permission_id").
			Join("JOIN users_user_groups AS ug ON ug.group_id = gp.group_id").Where("ug.user_id = ?", userID)).
		Scan(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.FullName())
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ForgetPerms drops the cached permissions of users, on every process.
func (a *Accounts) ForgetPerms(ctx context.Context, userIDs ...string) {
	if len(userIDs) == 0 {
		return
	}
	gen, err := a.permsGen(ctx)
	if err != nil {
		a.ForgetAllPerms(ctx)
		return
	}
	keys := make([]string, len(userIDs))
	for i, id := range userIDs {
		keys[i] = permsKey(gen, id)
	}
	if err := a.p.Cache.Delete(ctx, keys...); err != nil {
		a.p.Log.Warn("users: cache delete permissions", "users", len(userIDs), "error", err)
	}
}

// ForgetGroupPerms drops the cached permissions of every member of a group.
func (a *Accounts) ForgetGroupPerms(ctx context.Context, groupID uuid.UUID) {
	var ids []uuid.UUID
	if err := a.p.DB.NewSelect().Model((*UserGroup)(nil)).Column("user_id").Where("group_id = ?", groupID).Scan(ctx, &ids); err != nil {
		a.p.Log.Warn("users: list group members to forget", "group", groupID, "error", err)
		return
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	a.ForgetPerms(ctx, strs...)
}

// permissionIDs resolves full names ("blog.change_post") to permission ids;
// an unknown name is a ValidationError on field.
func (a *Accounts) permissionIDs(ctx context.Context, idb bun.IDB, field string, names []string) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	var bad []string
	for _, n := range names {
		app, code, ok := strings.Cut(n, ".")
		var id uuid.UUID
		err := errors.New("malformed")
		if ok {
			err = idb.NewSelect().Model((*Permission)(nil)).Column("id").Where("app = ? AND codename = ?", app, code).Scan(ctx, &id)
		}
		if err != nil {
			bad = append(bad, n)
			continue
		}
		ids = append(ids, id)
	}
	if len(bad) > 0 {
		return nil, api.Validation(api.FieldErr(field, fmt.Sprintf("Unknown permission: %s (migrate creates app.view_model, add_, change_ and delete_ for each installed model).", strings.Join(bad, ", "))))
	}
	return ids, nil
}

// SetUserPermissions replaces the permissions a user holds of its own.
func (a *Accounts) SetUserPermissions(ctx context.Context, userID uuid.UUID, names []string) error {
	err := a.p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		ids, err := a.permissionIDs(ctx, tx, "user_permissions", names)
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*UserPermission)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.NewInsert().Model(&UserPermission{ID: uuid.New(), UserID: userID, PermissionID: id}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("set permissions", err)
	}
	a.ForgetPerms(ctx, userID.String())
	return nil
}

// SetUserGroups replaces the groups a user belongs to, by name.
func (a *Accounts) SetUserGroups(ctx context.Context, userID uuid.UUID, groups []string) error {
	err := a.p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var ids []uuid.UUID
		for _, name := range groups {
			var id uuid.UUID
			if err := tx.NewSelect().Model((*Group)(nil)).Column("id").Where("name = ?", name).Scan(ctx, &id); err != nil {
				return api.Validation(api.FieldErr("groups", fmt.Sprintf("Unknown group: %s.", name)))
			}
			ids = append(ids, id)
		}
		if _, err := tx.NewDelete().Model((*UserGroup)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.NewInsert().Model(&UserGroup{ID: uuid.New(), UserID: userID, GroupID: id}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("set groups", err)
	}
	a.ForgetPerms(ctx, userID.String())
	return nil
}

// SaveGroup creates the group name, or finds it, and replaces its
// permissions; its members' cached permissions are dropped.
func (a *Accounts) SaveGroup(ctx context.Context, name string, perms []string) (*Group, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 150 {
		return nil, api.Validation(api.FieldErr("name", "Give the group a name of at most 150 characters."))
	}
	g := new(Group)
	err := a.p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		ids, err := a.permissionIDs(ctx, tx, "permissions", perms)
		if err != nil {
			return err
		}
		err = tx.NewSelect().Model(g).Where("name = ?", name).Scan(ctx)
		if err != nil {
			g = &Group{ID: uuid.New(), Name: name}
			if _, err := tx.NewInsert().Model(g).Exec(ctx); err != nil {
				return err
			}
		}
		return a.setGroupPermissions(ctx, tx, g.ID, ids)
	})
	if err != nil {
		return nil, wrap("save group", err)
	}
	a.ForgetGroupPerms(ctx, g.ID)
	return g, nil
}

func (a *Accounts) setGroupPermissions(ctx context.Context, tx bun.Tx, groupID uuid.UUID, ids []uuid.UUID) error {
	if _, err := tx.NewDelete().Model((*GroupPermission)(nil)).Where("group_id = ?", groupID).Exec(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.NewInsert().Model(&GroupPermission{ID: uuid.New(), GroupID: groupID, PermissionID: id}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// DeleteGroup deletes a group; its members lose its permissions at once.
func (a *Accounts) DeleteGroup(ctx context.Context, groupID uuid.UUID) error {
	var members []uuid.UUID
	if err := a.p.DB.NewSelect().Model((*UserGroup)(nil)).Column("user_id").Where("group_id = ?", groupID).Scan(ctx, &members); err != nil {
		return wrap("delete group", err)
	}
	if _, err := a.p.DB.NewDelete().Model((*Group)(nil)).Where("id = ?", groupID).Exec(ctx); err != nil {
		return wrap("delete group", err)
	}
	strs := make([]string, len(members))
	for i, id := range members {
		strs[i] = id.String()
	}
	a.ForgetPerms(ctx, strs...)
	return nil
}

// wrap keeps API errors as they are and gives others context.
func wrap(what string, err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return fmt.Errorf("users: %s: %w", what, err)
}

// PostMigrate creates the view, add, change and delete permissions of every
// installed app's models that lack them (Django's create_permissions on
// post_migrate): apps installed later get theirs on their first migrate.
// With the users app's tables absent (migrated to zero) it does nothing.
func (App) PostMigrate(ctx context.Context, p *core.Project) error {
	ok, err := tableExists(ctx, p.DirectDB, "users_permissions")
	if err != nil || !ok {
		return err
	}
	var existing []Permission
	if err := p.DirectDB.NewSelect().Model(&existing).Scan(ctx); err != nil {
		return fmt.Errorf("users: list permissions: %w", err)
	}
	have := map[string]bool{}
	for _, e := range existing {
		have[e.FullName()] = true
	}
	var add []Permission
	for _, app := range p.Apps() {
		m, ok := app.(core.Modeler)
		if !ok {
			continue
		}
		for _, model := range m.Models() {
			name := perm.ModelName(model)
			for _, act := range perm.Actions {
				code := string(act) + "_" + name
				if have[app.Name()+"."+code] {
					continue
				}
				have[app.Name()+"."+code] = true
				add = append(add, Permission{ID: PermissionID(app.Name(), code), App: app.Name(), Codename: code,
					Name: app.Name() + "." + code})
			}
		}
	}
	if len(add) == 0 {
		return nil
	}
	if _, err := p.DirectDB.NewInsert().Model(&add).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("users: create permissions: %w", err)
	}
	return nil
}

// tableExists reports whether the database has the table (in the search path).
func tableExists(ctx context.Context, db *bun.DB, table string) (bool, error) {
	var n int
	var err error
	if db.Dialect().Name() == dialect.PG {
		err = db.NewRaw("SELECT count(*) FROM pg_catalog.pg_class WHERE oid = to_regclass(?)", table).Scan(ctx, &n)
	} else {
		err = db.NewRaw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(ctx, &n)
	}
	if err != nil {
		return false, fmt.Errorf("users: look for table %s: %w", table, err)
	}
	return n > 0, nil
}

var (
	_ perm.Provider     = (*Accounts)(nil)
	_ core.PostMigrator = App{}
)

// permissionSpace is the namespace of permissions' ids.
var permissionSpace = uuid.MustParse("8f1d6a52-3c1e-5b7a-9d0e-6b2f4c8a1e70")

// PermissionID is the id of the permission app.codename: a name-based UUID
// (version 5), the same in every database, so that a fixture of grants
// (dumpdata, loaddata) points to the same permissions wherever it is loaded.
func PermissionID(app, codename string) uuid.UUID {
	return uuid.NewSHA1(permissionSpace, []byte(app+"."+codename))
}
