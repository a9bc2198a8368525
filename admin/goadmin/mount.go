package goadmin

import (
	"manouche/admin"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"html/template"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	_ "github.com/GoAdminGroup/go-admin/adapter/gofiber" // registers the Fiber adapter
	gactx "github.com/GoAdminGroup/go-admin/context"
	"github.com/GoAdminGroup/go-admin/engine"
	"github.com/GoAdminGroup/go-admin/modules/config"
	"github.com/GoAdminGroup/go-admin/modules/db"
	"github.com/GoAdminGroup/go-admin/modules/language"
	"github.com/GoAdminGroup/go-admin/template/types"
	_ "github.com/GoAdminGroup/themes/adminlte" // registers the adminlte theme
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/stdlib"
)

// mounted guards GoAdmin's process-global configuration: a second init panics inside GoAdmin.
var mounted atomic.Bool

// ErrAlreadyMounted is returned by a second Mount in one process: GoAdmin keeps
// global state, so only one project per process can serve the admin.
var ErrAlreadyMounted = errors.New("admin: mount: GoAdmin keeps global state and is already mounted in this process")

// Mount builds the admin on r under /admin: the guard middleware first, then GoAdmin's routes.
// r must be the *fiber.App itself (GoAdmin's Fiber adapter registers absolute paths on it), so an
// app that mounts the admin uses the prefix "/". Mount must run before any catch-all route is
// added, and once per process. The GoAdmin tables must exist (migration 20261126000001_goadmin).
func Mount(r fiber.Router, cfg Config) (a *Admin, err error) {
	app, ok := r.(*fiber.App)
	if !ok || app == nil {
		return nil, fmt.Errorf("admin: mount: GoAdmin's Fiber adapter needs the *fiber.App itself, got %T (mount the admin at prefix \"/\")", r)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.DSN = goAdminDSN(cfg.DSN)
	if !mounted.CompareAndSwap(false, true) {
		return nil, ErrAlreadyMounted
	}
	a = &Admin{cfg: cfg, db: cfg.DB, log: cfg.Logger, models: map[string]admin.ModelAdmin{}}
	if cfg.FilterStdout {
		restore, err := SilenceGoAdminStdout()
		if err != nil {
			return nil, err
		}
		a.restore = restore
		defer func() {
			if err != nil {
				_ = restore()
			}
		}()
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, m := range cfg.Models {
		a.models[m.URLName()] = m
	}
	ctx, cancel := bgContext()
	defer cancel()
	if err := a.checkTables(ctx); err != nil {
		return nil, err
	}
	if err := a.syncMenusAndPermissions(ctx); err != nil {
		return nil, err
	}

	driver := db.DriverSqlite
	switch cfg.Dialect {
	case SQLite:
		if !slices.Contains(sql.Drivers(), "sqlite3") {
			return nil, errors.New(`admin: mount: no database/sql driver named "sqlite3": register modernc's (core/db does)`)
		}
	case Postgres:
		driver = db.DriverPostgresql
		// GoAdmin opens Postgres with the driver name lib/pq uses: give that name to pgx.
		if !slices.Contains(sql.Drivers(), "postgres") {
			sql.Register("postgres", stdlib.GetDefaultDriver())
		}
	}
	// GoAdmin copies its whole configuration into goadmin_site on the first start and reads it
	// back on every later start, so a row written by an older build would win over this code.
	// Start from an empty table: the configuration below is the only one.
	if _, err := a.exec(ctx, "DELETE FROM goadmin_site"); err != nil {
		return nil, fmt.Errorf("admin: mount: reset goadmin_site: %w", err)
	}

	siteName := cfg.SiteName
	if siteName == "" {
		siteName = "Manouche"
	}
	gcfg := &config.Config{
		Databases: config.DatabaseList{
			"default": {Driver: driver, Dsn: cfg.DSN, MaxIdleConns: 1, MaxOpenConns: 1},
		},
		UrlPrefix:                "admin",
		IndexUrl:                 "/",
		LoginUrl:                 "/login",
		Theme:                    "adminlte",
		Language:                 language.EN,
		Title:                    siteName,
		Logo:                     template.HTML(html.EscapeString(siteName)),
		MiniLogo:                 template.HTML(html.EscapeString(firstRune(siteName))),
		LoginTitle:               siteName,
		Debug:                    cfg.Debug,
		Env:                      config.EnvProd,
		SessionLifeTime:          8 * 3600,
		NoLimitLoginIP:           true,
		HideConfigCenterEntrance: true,
		HideAppInfoEntrance:      true,
		HideToolEntrance:         true,
		HidePluginEntrance:       true,
		OperationLogOff:          true, // the guard writes its own log, without passwords and tokens
		AccessLogOff:             !cfg.Debug,
		InfoLogOff:               !cfg.Debug,
		SqlLog:                   false,
		CustomFootHtml:           template.HTML(csrfScript),
		CustomHeadHtml:           template.HTML(listStyle),
	}
	// GoAdmin reports a bad database or configuration by panicking: turn that into an error.
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, fmt.Errorf("admin: mount: GoAdmin: %v", p)
		}
	}()
	// Staff log in with their email; a refusal says what the API's login says.
	language.AppendTo(language.EN, map[string]string{"username": "Email", "login fail": loginRefused})
	eng := engine.Default()
	// Routes must come after the guard: Fiber runs handlers in the order they were added.
	app.Use(admin.Prefix, a.guard())
	eng.AddConfig(gcfg)
	// The DSN, with its password, must not be copied into goadmin_site by eng.Use.
	if dbs := config.GetDatabases(); dbs != nil {
		d := dbs["default"]
		d.Dsn = ""
		dbs["default"] = d
	}
	if err := a.shareConnection(eng); err != nil {
		return nil, err
	}
	eng.AddAuthService(a.loginProcessor(eng))
	for _, m := range cfg.Models {
		eng.AddGenerator(m.URLName(), a.generator(m))
	}
	if err := eng.Use(app); err != nil {
		return nil, fmt.Errorf("admin: mount: %w", err)
	}
	eng.HTML("GET", admin.Prefix, a.dashboard)
	eng.HTML("GET", admin.Prefix+"/", a.dashboard)
	return a, nil
}

// Close gives back the standard output Mount filtered (Config.FilterStdout), flushing its
// last lines. GoAdmin's routes and global state stay: it has no way to unmount.
func (a *Admin) Close() error {
	if a.restore == nil {
		return nil
	}
	return a.restore()
}

// goAdminDSN turns the project's database URL into what GoAdmin's connection code opens:
// "sqlite://PATH?..." becomes modernc's "file:PATH?_pragma=busy_timeout(5000)" (GoAdmin only
// pings it once before the admin swaps the project's pool in); anything else (a postgres://
// URL, a modernc "file:" DSN) is used as it is.
func goAdminDSN(dsn string) string {
	if rest, ok := strings.CutPrefix(dsn, "sqlite://"); ok {
		path, _, _ := strings.Cut(rest, "?")
		return "file:" + path + "?_pragma=busy_timeout(5000)"
	}
	return dsn
}

// shareConnection replaces the pool GoAdmin opened with the application's own.
func (a *Admin) shareConnection(eng *engine.Engine) error {
	var base *db.Base
	switch c := eng.DefaultConnection().(type) {
	case *db.Sqlite:
		base = &c.Base
	case *db.Postgresql:
		base = &c.Base
	default:
		return fmt.Errorf("admin: mount: unexpected GoAdmin connection %T", c)
	}
	if own := base.DbList["default"]; own != nil && own != a.db {
		if err := own.Close(); err != nil {
			a.log.Warn("admin: close GoAdmin's own pool", "err", err)
		}
	}
	base.DbList["default"] = a.db
	return nil
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// checkTables fails early, naming the migration, when GoAdmin's tables are missing.
func (a *Admin) checkTables(ctx context.Context) error {
	var n int
	if err := a.queryRow(ctx, "SELECT count(*) FROM goadmin_roles").Scan(&n); err != nil {
		return fmt.Errorf("admin: GoAdmin's tables are missing (run the migrations, 20261126000001_goadmin): %w", err)
	}
	if n < 2 {
		return fmt.Errorf("admin: goadmin_roles holds %d rows, want the 2 seeded by migration 20261126000001_goadmin", n)
	}
	return nil
}

// Role ids seeded by the migration.
const (
	roleAdministrator = 1
	roleStaff         = 2
	permDashboard     = 2
)

// syncMenusAndPermissions gives every model a menu entry and, unless it is SuperuserOnly, a
// permission of the staff role (the way Django creates a model's permissions after migrating).
func (a *Admin) syncMenusAndPermissions(ctx context.Context) error {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("admin: sync menus: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := a.dropPermRoles(ctx, tx); err != nil {
		return err
	}
	for i, m := range a.cfg.Models {
		uri := "/info/" + m.URLName()
		var menuID int64
		err := tx.QueryRowContext(ctx, a.rebind("SELECT id FROM goadmin_menu WHERE uri = ?"), uri).Scan(&menuID)
		icon := m.Icon
		if icon == "" {
			icon = "fa-table"
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, a.rebind(`INSERT INTO goadmin_menu (parent_id, type, "order", title, icon, uri, plugin_name) VALUES (0, 1, ?, ?, ?, ?, '')`),
				10+i, m.PageTitle(), icon, uri); err != nil {
				return fmt.Errorf("admin: sync menus: %w", err)
			}
			if err := tx.QueryRowContext(ctx, a.rebind("SELECT id FROM goadmin_menu WHERE uri = ?"), uri).Scan(&menuID); err != nil {
				return fmt.Errorf("admin: sync menus: %w", err)
			}
		case err != nil:
			return fmt.Errorf("admin: sync menus: %w", err)
		default:
			if _, err := tx.ExecContext(ctx, a.rebind(`UPDATE goadmin_menu SET title = ?, icon = ?, "order" = ? WHERE id = ?`), m.PageTitle(), icon, 10+i, menuID); err != nil {
				return fmt.Errorf("admin: sync menus: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, a.rebind("DELETE FROM goadmin_role_menu WHERE menu_id = ?"), menuID); err != nil {
			return fmt.Errorf("admin: sync menus: %w", err)
		}
		roles := []int{roleAdministrator}
		if !m.SuperuserOnly {
			roles = append(roles, roleStaff)
		}
		for _, r := range roles {
			if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_role_menu (role_id, menu_id) VALUES (?, ?)"), r, menuID); err != nil {
				return fmt.Errorf("admin: sync menus: %w", err)
			}
		}

		// The permission GoAdmin checks for staff who are not superusers.
		slug := "model." + m.URLName()
		var permID int64
		paths := strings.Join([]string{
			"/info/" + m.URLName(), "/info/" + m.URLName() + "/(.*)",
			"/new/" + m.URLName(), "/edit/" + m.URLName(), "/delete/" + m.URLName(), "/operation/" + m.URLName() + "-(.*)",
		}, "\n")
		err = tx.QueryRowContext(ctx, a.rebind("SELECT id FROM goadmin_permissions WHERE slug = ?"), slug).Scan(&permID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_permissions (name, slug, http_method, http_path) VALUES (?, ?, '', ?)"),
				m.PageTitle(), slug, paths); err != nil {
				return fmt.Errorf("admin: sync permissions: %w", err)
			}
			if err := tx.QueryRowContext(ctx, a.rebind("SELECT id FROM goadmin_permissions WHERE slug = ?"), slug).Scan(&permID); err != nil {
				return fmt.Errorf("admin: sync permissions: %w", err)
			}
		case err != nil:
			return fmt.Errorf("admin: sync permissions: %w", err)
		default:
			if _, err := tx.ExecContext(ctx, a.rebind("UPDATE goadmin_permissions SET name = ?, http_path = ? WHERE id = ?"), m.PageTitle(), paths, permID); err != nil {
				return fmt.Errorf("admin: sync permissions: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, a.rebind("DELETE FROM goadmin_role_permissions WHERE permission_id = ?"), permID); err != nil {
			return fmt.Errorf("admin: sync permissions: %w", err)
		}
		if !m.SuperuserOnly {
			if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_role_permissions (role_id, permission_id) VALUES (?, ?)"), roleStaff, permID); err != nil {
				return fmt.Errorf("admin: sync permissions: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("admin: sync menus: %w", err)
	}
	return nil
}

// listStyle fixes GoAdmin's lists: its table is at least 1600px wide and its
// last column ("Operation") sticks to the right edge of the box, with no
// background on its header, so in a narrower window that header lies over the
// headers before it (the users list's "Date joined"). The table fits the box
// instead, and the operation column stays in its place after the others.
const listStyle = `<style>
#pjax-container table.table { min-width: 0 !important; }
#pjax-container table.sticky_table tbody th:last-child,
#pjax-container table.sticky_table tbody td:last-child { position: static !important; }
</style>`

// dashboard renders the admin's home page: a count per model and the extra figures of Config.Stats.
func (a *Admin) dashboard(ctx *gactx.Context) (types.Panel, error) {
	rctx := ctx.Request.Context()
	u, _ := currentUser(ctx)
	var stats []admin.Stat
	for _, m := range a.cfg.Models {
		if !a.mayOrFalse(rctx, u, m, admin.ActionView) {
			continue
		}
		var n int64
		if err := a.queryRow(rctx, "SELECT count(*) FROM "+quoteIdent(m.Table)).Scan(&n); err != nil {
			return types.Panel{}, fmt.Errorf("admin: dashboard: count %s: %w", m.Table, err)
		}
		stats = append(stats, admin.Stat{Label: m.PageTitle(), Value: n, URL: admin.Prefix + "/info/" + m.URLName()})
	}
	if a.cfg.Stats != nil {
		more, err := a.cfg.Stats(rctx)
		if err != nil {
			return types.Panel{}, fmt.Errorf("admin: dashboard: %w", err)
		}
		for _, st := range more {
			// A figure that links to a page the staff member may not view is not theirs either.
			name, _, _ := strings.Cut(strings.TrimPrefix(st.URL, admin.Prefix+"/info/"), "?")
			if m, ok := a.models[name]; ok && strings.HasPrefix(st.URL, admin.Prefix+"/info/") && !a.mayOrFalse(rctx, u, m, admin.ActionView) {
				continue
			}
			stats = append(stats, st)
		}
	}
	var b strings.Builder
	b.WriteString(`<div class="row">`)
	for _, s := range stats {
		b.WriteString(`<div class="col-md-3 col-sm-6"><div class="small-box bg-aqua"><div class="inner"><h3 class="stat-value">`)
		fmt.Fprintf(&b, "%d", s.Value)
		b.WriteString(`</h3><p class="stat-label">` + html.EscapeString(s.Label) + `</p></div>`)
		if strings.HasPrefix(s.URL, admin.Prefix+"/") {
			b.WriteString(`<a class="small-box-footer" href="` + html.EscapeString(s.URL) + `">open</a>`)
		}
		b.WriteString(`</div></div>`)
	}
	b.WriteString(`</div>`)
	return types.Panel{Title: "Dashboard", Description: template.HTML(html.EscapeString(a.siteName())), Content: template.HTML(b.String())}, nil
}

func (a *Admin) siteName() string {
	if a.cfg.SiteName != "" {
		return a.cfg.SiteName
	}
	return "Manouche"
}
