// Package site installs the admin at /admin as an app, the way Django's
// django.contrib.admin is one: it mounts GoAdmin (package admin/goadmin) on the
// project's server with the users app's accounts as staff, collects every
// installed app's admin pages, and adds the email queue page and the
// dashboard's counts. It is in apps/apps.go's installed list after users.
package site

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun/dialect"

	"manouche/admin"
	"manouche/admin/goadmin"
	"manouche/apps/users"
	"manouche/core"
	"manouche/core/models"
	"manouche/core/perm"
)

// App is the admin app.
type App struct{}

// Name is the app's name.
func (App) Name() string { return "admin" }

// DependsOn: the admin's staff are the users app's accounts.
func (App) DependsOn() []string { return []string{"users"} }

// Prefix is "/": GoAdmin's Fiber adapter needs the application itself; every
// route it adds is under /admin.
func (App) Prefix() string { return "/" }

// ProjectPages is the optional interface of an app whose admin pages need the
// running project (for its cache, storage or queue). Apps whose pages need
// nothing implement admin.Pages instead.
type ProjectPages interface {
	AdminPages(p *core.Project) []admin.ModelAdmin
}

// Pages collects the admin pages of every installed app, in installed order,
// then the email queue's. A page of a table that one of the app's models
// (Models) maps gets that model's permissions ("blog.post": blog.view_post,
// add_, change_, delete_), unless it declares its own.
func Pages(p *core.Project) []admin.ModelAdmin {
	var pages []admin.ModelAdmin
	for _, a := range p.Apps() {
		var own []admin.ModelAdmin
		switch x := a.(type) {
		case ProjectPages:
			own = x.AdminPages(p)
		case admin.Pages:
			own = x.AdminPages()
		}
		labels := map[string]string{}
		if m, ok := a.(core.Modeler); ok {
			for _, model := range m.Models() {
				if d, err := models.Describe(model); err == nil {
					labels[d.Table] = perm.Label(p, model)
				}
			}
		}
		for i := range own {
			if own[i].Permissions == "" {
				own[i].Permissions = labels[own[i].Table]
			}
		}
		pages = append(pages, own...)
	}
	return append(pages, emailQueuePage(p))
}

// RouteAuth says what an admin route requires, for the routes command.
func (App) RouteAuth(method, path string) string { return goadmin.RouteAuth(method, path) }

// Routes mounts the admin. A misconfiguration stops the process at start.
func (App) Routes(r fiber.Router, p *core.Project) {
	st := p.Settings
	d := goadmin.SQLite
	if p.DB.Dialect().Name() == dialect.PG {
		d = goadmin.Postgres
	}
	a, err := goadmin.Mount(r, goadmin.Config{
		DB:            p.DB.DB,
		Dialect:       d,
		DSN:           st.DatabaseURL,
		SecretKey:     st.SecretKey,
		SiteName:      st.SiteName,
		Debug:         st.Debug && st.LogLevel == "debug",
		SecureCookies: secureCookies(st),
		Authenticate:  users.AdminAuthenticate(p),
		LoadUser:      users.AdminLoadUser(p),
		HasPerm:       users.AdminHasPerm(p),
		Models:        Pages(p),
		Stats:         queueStats(p),
		LoginLimiter:  p.Throttle("admin_login", st.AuthThrottleRate, nil),
		ClientIP:      p.ClientIP,
		Logger:        p.Log,
		FilterStdout:  st.Layer != "testing",
	})
	if errors.Is(err, goadmin.ErrAlreadyMounted) {
		// A second project in one process (tests that build several): GoAdmin
		// cannot serve it; the first project keeps the admin.
		p.Log.Warn("admin: not mounted: another project in this process already serves /admin")
		return
	}
	if err != nil {
		panic(fmt.Sprintf("admin: %v", err))
	}
	p.OnClose(a.Close)
}

// Migrations are GoAdmin's tables and the email queue's view (package goadmin's).
func (App) Migrations() fs.FS { return goadmin.Migrations() }

// AdoptsMigrations says that those migrations were the framework's before the admin
// became an app: a database migrated then records them under "manouche", and migrate
// re-records them under "admin" instead of creating GoAdmin's tables again.
func (App) AdoptsMigrations() map[string]string {
	return map[string]string{
		goadmin.TablesMigration:    goadmin.FormerApp,
		goadmin.QueueViewMigration: goadmin.FormerApp,
	}
}

// emailQueuePage lists queued emails (pending, sending, retrying, sent,
// failed) with the last error, and lets staff retry or discard a failed one.
func emailQueuePage(p *core.Project) admin.ModelAdmin {
	action := func(run func(context.Context, int64) error) func(context.Context, string) error {
		return func(ctx context.Context, id string) error {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not an email id", id)
			}
			return run(ctx, n)
		}
	}
	return admin.ModelAdmin{
		Table: "manouche_email_queue", Name: "email_queue", Title: "Email queue", Icon: "fa-envelope",
		Fields: []admin.Field{
			{Name: "id", Label: "ID", Kind: admin.KindInt},
			{Name: "status", Label: "Status", Kind: admin.KindString},
			{Name: "subject", Label: "Subject", Kind: admin.KindString},
			{Name: "recipients", Label: "To", Kind: admin.KindString},
			{Name: "attempt", Label: "Attempts", Kind: admin.KindInt},
			{Name: "last_error", Label: "Last error", Kind: admin.KindText},
			{Name: "created_at", Label: "Queued at", Kind: admin.KindDateTime},
			{Name: "finalized_at", Label: "Finished at", Kind: admin.KindDateTime},
		},
		List:     []string{"id", "status", "subject", "recipients", "attempt", "last_error", "created_at"},
		Search:   []string{"subject", "recipients"},
		Filters:  []string{"status"},
		Ordering: "-id",
		NoCreate: true,
		NoDelete: true,
		// Not a model: no permission names it, so superusers only.
		SuperuserOnly: true,
		Actions: []admin.Action{
			{Name: "retry", Label: "Retry", Run: action(p.Queue.Retry)},
			{Name: "discard", Label: "Discard", Run: action(p.Queue.Discard)},
		},
	}
}

// queueStats puts the email queue's counts on the dashboard.
func queueStats(p *core.Project) func(ctx context.Context) ([]admin.Stat, error) {
	return func(ctx context.Context) ([]admin.Stat, error) {
		s, err := p.Queue.Stats(ctx)
		if err != nil {
			return nil, err
		}
		url := admin.Prefix + "/info/email_queue"
		return []admin.Stat{
			{Label: "Emails pending", Value: s.Pending + s.Retrying + s.Sending, URL: url},
			{Label: "Emails failed", Value: s.Failed, URL: url + "?status=failed"},
			{Label: "Emails sent (24 h)", Value: s.Sent, URL: url + "?status=sent"},
		}, nil
	}
}

var (
	_ core.Router           = App{}
	_ core.Migrator         = App{}
	_ core.MigrationAdopter = App{}
)
