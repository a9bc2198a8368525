package goadmin_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"manouche/admin"
	"manouche/admin/goadmin"
	"manouche/core/testenv"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	"modernc.org/sqlite"
)

// childEnv selects, in a re-executed test binary, the database the admin runs on. GoAdmin's
// configuration is process-global, so each dialect gets a process of its own.
const childEnv = "MANOUCHE_ADMIN_TEST_DIALECT"

// secureEnv mounts the admin of a child process with SecureCookies (production's cookies).
const secureEnv = "MANOUCHE_ADMIN_TEST_SECURE"

// filterEnv mounts the admin of a child process with FilterStdout (what runserver does).
const filterEnv = "MANOUCHE_ADMIN_TEST_FILTER_STDOUT"

var registerSQLite sync.Once

// ensureSQLite3 registers modernc's driver as "sqlite3" unless something (core/db) already did.
func ensureSQLite3() {
	registerSQLite.Do(func() {
		if !slices.Contains(sql.Drivers(), "sqlite3") {
			sql.Register("sqlite3", &sqlite.Driver{})
		}
	})
}

// fastHash keeps tests quick; the users app uses its own argon2id parameters.
var fastParams = &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func hashPassword(p string) (string, error) {
	if len(p) < 8 {
		return "", errors.New("at least 8 characters")
	}
	return argon2id.CreateHash(p, fastParams)
}

// site is a mounted admin on a scratch database.
type site struct {
	dialect goadmin.Dialect
	db      *sql.DB
	base    string // http://127.0.0.1:port
	app     *fiber.App
	admin   *goadmin.Admin
}

func (s *site) rebind(q string) string {
	if s.dialect != goadmin.Postgres {
		return q
	}
	n := 0
	var b strings.Builder
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *site) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := s.db.Exec(s.rebind(q), args...); err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
}

func (s *site) b(v bool) any {
	if s.dialect == goadmin.Postgres {
		return v
	}
	if v {
		return 1
	}
	return 0
}

// addUser inserts a user with the given flags and returns its id.
func (s *site) addUser(t testing.TB, email, password string, active, staff, super bool, first, last string) string {
	t.Helper()
	h, err := argon2id.CreateHash(password, fastParams)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	s.exec(t, `INSERT INTO users (id, email, password, is_active, is_staff, is_superuser, first_name, last_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, email, h, s.b(active), s.b(staff), s.b(super), first, last)
	return id
}

func (s *site) scanUser(ctx context.Context, where string, arg any) (admin.User, error) {
	var u admin.User
	var hash string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT id, email, password, is_active, is_staff, is_superuser, first_name, last_name FROM users WHERE `+where), arg).
		Scan(&u.ID, &u.Email, &hash, &u.IsActive, &u.IsStaff, &u.IsSuperuser, &u.FirstName, &u.LastName)
	if errors.Is(err, sql.ErrNoRows) {
		return admin.User{}, admin.ErrInvalidCredentials
	}
	if err != nil {
		return admin.User{}, err
	}
	u.SessionKey = hash
	return u, nil
}

// authenticate stands in for the users app: case-insensitive email, argon2id hash.
func (s *site) authenticate(ctx context.Context, email, password string) (admin.User, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT password FROM users WHERE lower(email) = lower(?)`), email).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return admin.User{}, admin.ErrInvalidCredentials
	}
	if err != nil {
		return admin.User{}, err
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil || !ok {
		return admin.User{}, admin.ErrInvalidCredentials
	}
	return s.scanUser(ctx, "lower(email) = lower(?)", email)
}

func (s *site) loadUser(ctx context.Context, id string) (admin.User, error) {
	return s.scanUser(ctx, "id = ?", id)
}

// usersAdmin is the Users page as the users app will declare it.
func usersAdmin() admin.ModelAdmin {
	return admin.ModelAdmin{
		Table: "users", Title: "Users", Icon: "fa-users",
		Fields: []admin.Field{
			{Name: "id", Label: "ID", Kind: admin.KindUUID},
			{Name: "email", Kind: admin.KindString},
			{Name: "first_name", Label: "First name", Kind: admin.KindString},
			{Name: "last_name", Label: "Last name", Kind: admin.KindString},
			{Name: "is_active", Label: "Active", Kind: admin.KindBool},
			{Name: "is_staff", Label: "Staff", Kind: admin.KindBool},
			{Name: "is_superuser", Label: "Superuser", Kind: admin.KindBool},
			{Name: "date_joined", Label: "Date joined", Kind: admin.KindDateTime},
			{Name: "last_login", Label: "Last login", Kind: admin.KindDateTime},
			{Name: "password", Kind: admin.KindPassword, Hash: hashPassword},
		},
		List:          []string{"email", "first_name", "last_name", "is_active", "is_staff", "date_joined"},
		Search:        []string{"email", "first_name", "last_name"},
		Filters:       []string{"is_active", "is_staff", "is_superuser"},
		Ordering:      "-date_joined",
		Form:          []string{"email", "first_name", "last_name", "password", "is_active", "is_staff", "is_superuser", "date_joined", "last_login"},
		ReadOnly:      []string{"date_joined", "last_login"},
		NoDelete:      true, // deactivate instead
		SuperuserOnly: true,
	}
}

// notesAdmin is a page staff who are not superusers may use, with a row action.
func notesAdmin(s *site) admin.ModelAdmin {
	return admin.ModelAdmin{
		Table: "notes", Title: "Notes",
		Fields: []admin.Field{
			{Name: "id", Kind: admin.KindInt},
			{Name: "title", Kind: admin.KindString},
			{Name: "body", Kind: admin.KindText},
		},
		List: []string{"id", "title"}, Search: []string{"title", "body"},
		Form: []string{"title", "body"},
		Actions: []admin.Action{{Name: "shout", Label: "Shout", Run: func(ctx context.Context, id string) error {
			if s == nil {
				return errors.New("no site")
			}
			res, err := s.db.ExecContext(ctx, s.rebind("UPDATE notes SET title = upper(title) WHERE id = ?"), id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("no note %s", id)
			}
			return nil
		}}},
	}
}

const usersTableSQLite = `CREATE TABLE users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	password TEXT NOT NULL DEFAULT '',
	is_active BOOLEAN NOT NULL DEFAULT 1,
	is_staff BOOLEAN NOT NULL DEFAULT 0,
	is_superuser BOOLEAN NOT NULL DEFAULT 0,
	first_name TEXT NOT NULL DEFAULT '',
	last_name TEXT NOT NULL DEFAULT '',
	date_joined TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	last_login TIMESTAMP
);
CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '')`

const usersTablePostgres = `CREATE TABLE users (
	id UUID PRIMARY KEY,
	email VARCHAR(254) NOT NULL UNIQUE,
	password VARCHAR(255) NOT NULL DEFAULT '',
	is_active BOOLEAN NOT NULL DEFAULT true,
	is_staff BOOLEAN NOT NULL DEFAULT false,
	is_superuser BOOLEAN NOT NULL DEFAULT false,
	first_name VARCHAR(150) NOT NULL DEFAULT '',
	last_name VARCHAR(150) NOT NULL DEFAULT '',
	date_joined TIMESTAMPTZ NOT NULL DEFAULT now(),
	last_login TIMESTAMPTZ
);
CREATE TABLE notes (id SERIAL PRIMARY KEY, title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '')`

// migrationFile returns the statements of one of the framework's GoAdmin migrations, split
// on ";" the way the runner does (the files hold no ";" inside strings or comments).
func migrationFile(t testing.TB, direction string, d goadmin.Dialect) []string {
	t.Helper()
	name := fmt.Sprintf("20261126000001_goadmin.%s.%s.sql", direction, d)
	raw, err := fs.ReadFile(goadmin.Migrations(), name)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// applyInTx runs statements in one transaction, as the migration runner does.
func applyInTx(t testing.TB, db *sql.DB, stmts []string) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			_ = tx.Rollback()
			t.Fatalf("%v\nin: %s", err, s)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// scratchDB opens an empty database of the dialect and returns it with its URL, as the
// project's DATABASE_URL would name it.
func scratchDB(t testing.TB, d goadmin.Dialect) (*sql.DB, string) {
	t.Helper()
	switch d {
	case goadmin.SQLite:
		ensureSQLite3()
		path := filepath.Join(t.TempDir(), "admin.sqlite3")
		db, err := sql.Open("sqlite3", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db, "sqlite://" + path // the project's DATABASE_URL form
	case goadmin.Postgres:
		base := testenv.Lookup(t, testenv.DatabaseURL)
		name := randomName("admin_test_")
		root, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = db.Close()
			if _, err := root.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
				t.Errorf("drop %s: %v", name, err)
			}
			_ = root.Close()
		})
		return db, u.String()
	}
	t.Fatalf("unknown dialect %q", d)
	return nil, ""
}

// newSite builds a scratch database with GoAdmin's migration and a users table, mounts the
// admin on a Fiber app and serves it on a free port. Once per process (GoAdmin is global).
func newSite(t testing.TB, d goadmin.Dialect) *site {
	t.Helper()
	db, dsn := scratchDB(t, d)
	s := &site{dialect: d, db: db}
	applyInTx(t, db, migrationFile(t, "up", d))
	ddl := usersTableSQLite
	if d == goadmin.Postgres {
		ddl = usersTablePostgres
	}
	applyInTx(t, db, append(strings.Split(ddl, ";\n"), kindsDDL(d)))

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	a, err := goadmin.Mount(app, goadmin.Config{
		DB: db, Dialect: d, DSN: dsn,
		SecretKey:     "test-secret-key-0123456789",
		SiteName:      "Manouche test",
		SecureCookies: os.Getenv(secureEnv) != "",
		FilterStdout:  os.Getenv(filterEnv) != "",
		Debug:         os.Getenv("ADMIN_DEBUG") != "",
		Authenticate:  s.authenticate,
		LoadUser:      s.loadUser,
		Models:        []admin.ModelAdmin{usersAdmin(), notesAdmin(s), kindsAdmin()},
		Stats: func(context.Context) ([]admin.Stat, error) {
			return []admin.Stat{{Label: "Emails <pending>", Value: 3, URL: "/admin/info/notes"}}, nil
		},
		// The API's throttle in the real project; here a stand-in that refuses on demand.
		LoginLimiter: func(c *fiber.Ctx) error {
			if c.Get("X-Test-Throttle") != "" {
				return c.SendStatus(fiber.StatusTooManyRequests)
			}
			return c.Next()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	s.app, s.admin = app, a
	s.base = "http://" + ln.Addr().String()
	return s
}
