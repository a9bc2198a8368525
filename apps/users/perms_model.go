package users

import (
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/migrations"
)

// Permission is a model permission, django.contrib.auth's Permission: App and
// Codename ("blog", "change_post") make its full name, "blog.change_post",
// which Name holds too (what the admin shows).
// migrate creates the view, add, change and delete permissions of every
// installed model (PostMigrate).
type Permission struct {
	bun.BaseModel `bun:"table:users_permissions,alias:perm"`

	ID       uuid.UUID `bun:"id,pk,type:uuid"`
	App      string    `bun:"app,type:varchar(100),notnull"`
	Codename string    `bun:"codename,type:varchar(100),notnull"`
	Name     string    `bun:"name,type:varchar(255),notnull"`
}

// Indexes declares the permissions' unique full name, for makemigrations.
func (*Permission) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"app", "codename"}, Unique: true}}
}

// FullName is "app.codename", the name HasPerm takes.
func (p *Permission) FullName() string { return p.App + "." + p.Codename }

// Group is a named set of permissions that users belong to (Django's Group).
type Group struct {
	bun.BaseModel `bun:"table:users_groups,alias:g"`

	ID   uuid.UUID `bun:"id,pk,type:uuid"`
	Name string    `bun:"name,type:varchar(150),notnull"`
}

// Indexes declares the groups' unique name, for makemigrations.
func (*Group) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"name"}, Unique: true}}
}

// GroupPermission says a group holds a permission.
type GroupPermission struct {
	bun.BaseModel `bun:"table:users_group_permissions,alias:gp"`

	ID           uuid.UUID   `bun:"id,pk,type:uuid"`
	GroupID      uuid.UUID   `bun:"group_id,notnull,type:uuid"`
	Group        *Group      `bun:"rel:belongs-to,join:group_id=id,on_delete:CASCADE"`
	PermissionID uuid.UUID   `bun:"permission_id,notnull,type:uuid"`
	Permission   *Permission `bun:"rel:belongs-to,join:permission_id=id,on_delete:CASCADE"`
}

// Indexes declares one row per group and permission, for makemigrations.
func (*GroupPermission) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"group_id", "permission_id"}, Unique: true}, {Columns: []string{"permission_id"}}}
}

// UserGroup says a user belongs to a group.
type UserGroup struct {
	bun.BaseModel `bun:"table:users_user_groups,alias:ug"`

	ID      uuid.UUID `bun:"id,pk,type:uuid"`
	UserID  uuid.UUID `bun:"user_id,notnull,type:uuid"`
	User    *User     `bun:"rel:belongs-to,join:user_id=id,on_delete:CASCADE"`
	GroupID uuid.UUID `bun:"group_id,notnull,type:uuid"`
	Group   *Group    `bun:"rel:belongs-to,join:group_id=id,on_delete:CASCADE"`
}

// Indexes declares one row per user and group, for makemigrations.
func (*UserGroup) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"user_id", "group_id"}, Unique: true}, {Columns: []string{"group_id"}}}
}

// UserPermission says a user holds a permission of its own.
type UserPermission struct {
	bun.BaseModel `bun:"table:users_user_permissions,alias:up"`

	ID           uuid.UUID   `bun:"id,pk,type:uuid"`
	UserID       uuid.UUID   `bun:"user_id,notnull,type:uuid"`
	User         *User       `bun:"rel:belongs-to,join:user_id=id,on_delete:CASCADE"`
	PermissionID uuid.UUID   `bun:"permission_id,notnull,type:uuid"`
	Permission   *Permission `bun:"rel:belongs-to,join:permission_id=id,on_delete:CASCADE"`
}

// Indexes declares one row per user and permission, for makemigrations.
func (*UserPermission) Indexes() []migrations.Index {
	return []migrations.Index{{Columns: []string{"user_id", "permission_id"}, Unique: true}, {Columns: []string{"permission_id"}}}
}
