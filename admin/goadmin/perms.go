package goadmin

import (
	"manouche/admin"

	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// permRolePrefix starts the slug of the GoAdmin roles the admin makes for the
// staff members who are not superusers: one role per set of models a staff
// member may view, holding their menu entries (GoAdmin draws the menu from
// roles), shared by every staff member with the same set.
const permRolePrefix = "perms:"

// may reports whether u may do action (admin.ActionView, ...) on m's pages:
// superusers may do all; SuperuserOnly pages are theirs alone; other pages
// need m's permission for the action when m declares Permissions (viewing is
// also allowed by the change permission, as in Django's admin).
func (a *Admin) may(ctx context.Context, u admin.User, m admin.ModelAdmin, action string) (bool, error) {
	switch {
	case u.IsSuperuser:
		return true, nil
	case m.SuperuserOnly:
		return false, nil
	case m.Permissions == "" || a.cfg.HasPerm == nil:
		return true, nil
	}
	ok, err := a.cfg.HasPerm(ctx, u.ID, m.Perm(action))
	if err != nil || ok || action != admin.ActionView {
		return ok, err
	}
	return a.cfg.HasPerm(ctx, u.ID, m.Perm(admin.ActionChange))
}

// mayOrFalse is may with errors logged and taken as a refusal.
func (a *Admin) mayOrFalse(ctx context.Context, u admin.User, m admin.ModelAdmin, action string) bool {
	ok, err := a.may(ctx, u, m, action)
	if err != nil {
		a.log.Error("admin: permission check", "user", u.Email, "model", m.URLName(), "action", action, "err", err)
		return false
	}
	return ok
}

// roleFor is the GoAdmin role of u: the administrator's for superusers, the
// staff role when no HasPerm is configured, else the role of the models u may
// view, made on first use.
func (a *Admin) roleFor(ctx context.Context, u admin.User) (int64, error) {
	if u.IsSuperuser {
		return roleAdministrator, nil
	}
	if a.cfg.HasPerm == nil {
		return roleStaff, nil
	}
	var names []string
	for _, m := range a.cfg.Models {
		ok, err := a.may(ctx, u, m, admin.ActionView)
		if err != nil {
			return 0, fmt.Errorf("admin: role: %w", err)
		}
		if ok {
			names = append(names, m.URLName())
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(names, "\x00")))
	slug := permRolePrefix + hex.EncodeToString(sum[:12])
	var id int64
	err := a.queryRow(ctx, "SELECT id FROM goadmin_roles WHERE slug = ? ORDER BY id LIMIT 1", slug).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("admin: role: %w", err)
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("admin: role: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, a.rebind("INSERT INTO goadmin_roles (name, slug) VALUES (?, ?) RETURNING id"), "Staff", slug).Scan(&id); err != nil {
		return 0, fmt.Errorf("admin: role: %w", err)
	}
	// The dashboard, and each model's menu entry and GoAdmin permission.
	if _, err := tx.ExecContext(ctx, a.rebind(`INSERT INTO goadmin_role_menu (role_id, menu_id) SELECT ?, id FROM goadmin_menu WHERE uri = '/'`), id); err != nil {
		return 0, fmt.Errorf("admin: role: %w", err)
	}
	if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_role_permissions (role_id, permission_id) VALUES (?, ?)"), id, permDashboard); err != nil {
		return 0, fmt.Errorf("admin: role: %w", err)
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_role_menu (role_id, menu_id) SELECT ?, id FROM goadmin_menu WHERE uri = ?"), id, "/info/"+name); err != nil {
			return 0, fmt.Errorf("admin: role: %w", err)
		}
		if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_role_permissions (role_id, permission_id) SELECT ?, id FROM goadmin_permissions WHERE slug = ?"), id, "model."+name); err != nil {
			return 0, fmt.Errorf("admin: role: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("admin: role: %w", err)
	}
	return id, nil
}

// dropPermRoles deletes the roles roleFor made: at start, when the models and
// their menu entries may have changed. Staff get theirs again on their next request.
func (a *Admin) dropPermRoles(ctx context.Context, tx *sql.Tx) error {
	sub := "(SELECT id FROM goadmin_roles WHERE slug LIKE '" + permRolePrefix + "%')"
	for _, q := range []string{
		"DELETE FROM goadmin_role_menu WHERE role_id IN " + sub,
		"DELETE FROM goadmin_role_permissions WHERE role_id IN " + sub,
		"DELETE FROM goadmin_role_users WHERE role_id IN " + sub,
		"DELETE FROM goadmin_roles WHERE slug LIKE '" + permRolePrefix + "%'",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("admin: drop permission roles: %w", err)
		}
	}
	return nil
}
