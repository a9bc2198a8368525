package perm_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/apps/users"
	"manouche/apps/users/userstest"
	"manouche/core"
	"manouche/core/perm"
	"manouche/core/rest"
	"manouche/core/testenv"
	"manouche/core/testkit"
)

// note is the test model: a title and an owner.
type note struct {
	bun.BaseModel `bun:"table:permtest_notes,alias:n"`

	ID        uuid.UUID   `bun:"id,pk,type:uuid"`
	CreatedAt time.Time   `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time   `bun:"updated_at,notnull,default:current_timestamp"`
	Title     string      `bun:"title,type:varchar(100),notnull"`
	OwnerID   *uuid.UUID  `bun:"owner_id,type:uuid"`
	Owner     *users.User `bun:"rel:belongs-to,join:owner_id=id,on_delete:CASCADE"`
}

// notLocked is a custom policy: any signed-in user, and no change to a note titled "locked".
var notLocked = perm.Func("NotLocked",
	func(r *perm.Request) (bool, error) { return !r.Anonymous(), nil },
	func(r *perm.Request, obj perm.Object) (bool, error) {
		return r.Safe() || obj.Value.(*note).Title != "locked", nil
	})

// policies are served each under /api/permtest/<name>.
var policies = []struct {
	name   string
	policy perm.Policy
	owned  bool
}{
	{"allowany", perm.AllowAny, false},
	{"authenticated", perm.IsAuthenticated, false},
	{"staff", perm.IsStaff, false},
	{"readonly", perm.IsAuthenticatedOrReadOnly, false},
	{"modelperms", perm.ModelPermissions, false},
	{"ownerorreadonly", perm.OwnerOrReadOnly, true},
	{"owneronly", perm.OwnerOnly, true},
	{"custom", notLocked, false},
	{"anyownerstaff", perm.Any(perm.OwnerOnly, perm.IsStaff), true},
	{"allmodelowner", perm.All(perm.ModelPermissions, perm.OwnerOrReadOnly), true},
}

var resources = func() []rest.Resource {
	var rs []rest.Resource
	for _, p := range policies {
		v := &rest.ModelViewSet[note]{Path: "/" + p.name, Policy: p.policy,
			Serializer: rest.Serializer[note]{ReadOnly: []string{"owner"}}}
		if p.owned {
			v.Owner = "owner_id"
		}
		rs = append(rs, v)
	}
	return rs
}()

type permApp struct{}

func (permApp) Name() string                           { return "permtest" }
func (permApp) Prefix() string                         { return "/api/permtest" }
func (permApp) DependsOn() []string                    { return []string{"users"} }
func (permApp) Models() []any                          { return rest.Models(resources[:1]) }
func (permApp) Routes(r fiber.Router, p *core.Project) { rest.Mount(r, p, resources) }

const createNotes = `CREATE TABLE permtest_notes (id {ID} PRIMARY KEY, created_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP,
updated_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP, title VARCHAR(100) NOT NULL,
owner_id {ID} NULL REFERENCES users (id) ON DELETE CASCADE)`

func (permApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_notes.up.postgres.sql":   {Data: []byte(strings.NewReplacer("{ID}", "UUID", "{TS}", "TIMESTAMPTZ").Replace(createNotes))},
		"20260101000001_notes.down.postgres.sql": {Data: []byte("DROP TABLE permtest_notes")},
		"20260101000001_notes.up.sqlite.sql":     {Data: []byte(strings.NewReplacer("{ID}", "TEXT", "{TS}", "TIMESTAMP").Replace(createNotes))},
		"20260101000001_notes.down.sqlite.sql":   {Data: []byte("DROP TABLE permtest_notes")},
	}
}

func TestMain(m *testing.M) { testkit.Main(m, []core.App{users.App{}, permApp{}}) }

// The roles every policy is tried with.
const (
	anonymous = "anonymous"
	owner     = "owner"
	other     = "another user"
	staff     = "staff without the permission"
	viewer    = "staff with the view permission only"
	staffPerm = "staff with the permissions"
	superuser = "superuser"
)

var roles = []string{anonymous, owner, other, staff, viewer, staffPerm, superuser}

// world is a test project with a user of each role.
type world struct {
	app     *testkit.App
	clients map[string]*testkit.Client
	ownerID uuid.UUID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	app := testkit.New(t)
	w := &world{app: app, clients: map[string]*testkit.Client{anonymous: app.Client}}
	mk := func(role string, u *users.User) string {
		u.Email = strings.ReplaceAll(role, " ", "-") + "@example.com"
		u.IsActive = true
		id, token := userstest.Create(t, app, u)
		w.clients[role] = app.Client.WithToken(token)
		return id
	}
	w.ownerID = uuid.MustParse(mk(owner, &users.User{}))
	mk(other, &users.User{})
	mk(staff, &users.User{IsStaff: true})
	userstest.Grant(t, app, mk(viewer, &users.User{IsStaff: true}), "permtest.view_note")
	// The staff member with the permissions holds them through a group.
	accounts := users.AccountsOf(app.Project)
	ctx := context.Background()
	if _, err := accounts.SaveGroup(ctx, "editors", []string{"permtest.view_note", "permtest.add_note", "permtest.change_note", "permtest.delete_note"}); err != nil {
		t.Fatal(err)
	}
	if err := accounts.SetUserGroups(ctx, uuid.MustParse(mk(staffPerm, &users.User{IsStaff: true})), []string{"editors"}); err != nil {
		t.Fatal(err)
	}
	mk(superuser, &users.User{IsStaff: true, IsSuperuser: true})
	return w
}

// insert adds a note owned by the owner, directly in the database.
func (w *world) insert(t *testing.T, title string) uuid.UUID {
	t.Helper()
	n := &note{ID: uuid.New(), Title: title, OwnerID: &w.ownerID, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, err := w.app.DB.NewInsert().Model(n).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n.ID
}

// load reads a note back; nil when it is gone.
func (w *world) load(t *testing.T, id uuid.UUID) *note {
	t.Helper()
	n := new(note)
	err := w.app.DB.NewSelect().Model(n).Where("id = ?", id).Scan(context.Background())
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// want is the expected status of list, create, get, patch and delete, and
// how many rows the list shows (-1: not checked).
type want struct {
	list, create, get, patch, del int
	count                         int
}

var (
	ok      = want{200, 201, 200, 200, 204, 1}
	noAuth  = want{401, 401, 401, 401, 401, -1}
	denied  = want{403, 403, 403, 403, 403, -1}
	hidden  = want{200, 201, 404, 404, 404, 0}
	readAll = want{200, 201, 200, 403, 403, 1}
)

// TestPolicies tries every policy on every route of a resource as each
// role, and checks that a refused change changed nothing.
func TestPolicies(t *testing.T) {
	t.Parallel()
	expect := map[string]map[string]want{
		"allowany":      {anonymous: ok, owner: ok, other: ok, staff: ok, viewer: ok, staffPerm: ok, superuser: ok},
		"authenticated": {anonymous: noAuth, owner: ok, other: ok, staff: ok, viewer: ok, staffPerm: ok, superuser: ok},
		"staff":         {anonymous: noAuth, owner: denied, other: denied, staff: ok, viewer: ok, staffPerm: ok, superuser: ok},
		"readonly":      {anonymous: {200, 401, 200, 401, 401, 1}, owner: ok, other: ok, staff: ok, viewer: ok, staffPerm: ok, superuser: ok},
		"modelperms": {anonymous: noAuth, owner: denied, other: denied, staff: denied,
			viewer: {200, 403, 200, 403, 403, 1}, staffPerm: ok, superuser: ok},
		"ownerorreadonly": {anonymous: noAuth, owner: ok, other: readAll, staff: readAll, viewer: readAll, staffPerm: ok, superuser: ok},
		"owneronly": {anonymous: noAuth, owner: ok, other: hidden, staff: hidden,
			viewer: {200, 201, 200, 403, 403, 1}, staffPerm: ok, superuser: ok},
		// The custom policy refuses any change of a note titled "locked", to everyone.
		"custom": {anonymous: noAuth, owner: readAll, other: readAll, staff: readAll, viewer: readAll, staffPerm: readAll, superuser: readAll},
		// Any(OwnerOnly, IsStaff): staff see everything; other users only their own.
		"anyownerstaff": {anonymous: noAuth, owner: ok, other: hidden, staff: ok, viewer: ok, staffPerm: ok, superuser: ok},
		// All(ModelPermissions, OwnerOrReadOnly): the model permission, and the owner's or the permission to change.
		"allmodelowner": {anonymous: noAuth, owner: denied, other: denied, staff: denied,
			viewer: {200, 403, 200, 403, 403, 1}, staffPerm: ok, superuser: ok},
	}
	w := newWorld(t)
	for _, pol := range policies {
		for _, role := range roles {
			exp, found := expect[pol.name][role]
			if !found {
				t.Fatalf("no expectation for %s as %s", pol.name, role)
			}
			t.Run(pol.name+"/"+role, func(t *testing.T) {
				// Each case has its own rows: the others' are deleted first.
				if _, err := w.app.DB.NewDelete().Model((*note)(nil)).Where("1 = 1").Exec(context.Background()); err != nil {
					t.Fatal(err)
				}
				title := "first"
				if pol.name == "custom" {
					title = "locked"
				}
				id := w.insert(t, title)
				c := w.clients[role]
				path := "/api/permtest/" + pol.name
				check := func(method string, res *testkit.Response, status int) {
					t.Helper()
					if res.Status != status {
						t.Errorf("%s: status %d, want %d; body %s", method, res.Status, status, res.Body)
					}
				}
				res := c.Get(path)
				check("list", res, exp.list)
				if exp.count >= 0 && res.Status == 200 {
					if n := res.Map()["count"]; n != float64(exp.count) {
						t.Errorf("list: count %v, want %d", n, exp.count)
					}
				}
				res = c.Post(path, map[string]any{"title": "mine"})
				check("create", res, exp.create)
				if res.Status == http.StatusCreated && pol.owned {
					body := res.Map()
					created := w.load(t, uuid.MustParse(body["id"].(string)))
					if created.OwnerID == nil || body["owner"] != created.OwnerID.String() {
						t.Errorf("create: owner %v in the answer, %v stored", body["owner"], created.OwnerID)
					}
					if *created.OwnerID == w.ownerID && role != owner {
						t.Errorf("create: owned by the owner, not by %s", role)
					}
				}
				check("get", c.Get(fmt.Sprintf("%s/%s", path, id)), exp.get)
				check("patch", c.Patch(fmt.Sprintf("%s/%s", path, id), map[string]any{"title": "changed"}), exp.patch)
				if after := w.load(t, id); after == nil || (exp.patch != 200) != (after.Title == title) {
					t.Errorf("after the patch (status %d) the row is %+v", exp.patch, after)
				}
				check("delete", c.Delete(fmt.Sprintf("%s/%s", path, id)), exp.del)
				if gone := w.load(t, id) == nil; gone != (exp.del == 204) {
					t.Errorf("after the delete (status %d) the row is gone: %v", exp.del, gone)
				}
			})
		}
	}
}

// TestOwnerFromBody: the owner is the signed-in user, never the body, and
// never changes; nothing is written by a refused request.
func TestOwnerFromBody(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := "/api/permtest/ownerorreadonly"
	other := w.clients[other]
	for _, body := range []map[string]any{
		{"title": "x", "owner": w.ownerID.String()},
		{"title": "x", "owner_id": w.ownerID.String()},
	} {
		other.Post(path, body).AssertError(http.StatusBadRequest, "ValidationError", "owner")
	}
	n, err := w.app.DB.NewSelect().Model((*note)(nil)).Count(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("a refused create wrote %d rows (%v)", n, err)
	}
	id := w.insert(t, "first")
	// The owner may not give the row away, nor may a superuser through the API.
	for _, role := range []string{owner, superuser} {
		w.clients[role].Patch(path+"/"+id.String(), map[string]any{"owner": uuid.NewString(), "title": "y"}).
			AssertError(http.StatusBadRequest, "ValidationError", "owner")
	}
	if n := w.load(t, id); n.Title != "first" || *n.OwnerID != w.ownerID {
		t.Errorf("a refused patch changed the row: %+v", n)
	}
	// Another user's ids: refused, 404 where rows are private.
	for _, id := range []string{id.String(), uuid.NewString()} {
		other.Get("/api/permtest/owneronly/"+id).AssertError(http.StatusNotFound, "NotFound")
		other.Patch("/api/permtest/owneronly/"+id, map[string]any{"title": "z"}).AssertError(http.StatusNotFound, "NotFound")
		other.Delete("/api/permtest/owneronly/"+id).AssertError(http.StatusNotFound, "NotFound")
	}
	other.Patch(path+"/"+id.String(), map[string]any{"title": "z"}).AssertError(http.StatusForbidden, "PermissionDenied")
	if n := w.load(t, id); n == nil || n.Title != "first" {
		t.Errorf("refused requests changed the row: %+v", n)
	}
}

// TestHasPerm: migrate creates the four permissions of every installed
// model; users hold them directly or through groups, superusers hold all,
// inactive users none, and a change is seen at once.
func TestHasPerm(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	ctx := context.Background()
	var names []string
	var perms []users.Permission
	if err := app.DB.NewSelect().Model(&perms).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		names = append(names, p.FullName())
	}
	for _, want := range []string{"permtest.view_note", "permtest.add_note", "permtest.change_note", "permtest.delete_note",
		"users.view_user", "users.change_user", "users.view_group", "users.delete_permission"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("migrate did not create %s (it created %v)", want, names)
		}
	}
	// A second migrate creates nothing twice.
	if _, err := app.Migrations().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := app.DB.NewSelect().Model((*users.Permission)(nil)).Count(ctx); int(n) != len(perms) {
		t.Errorf("a second migrate: %d permissions, want %d", n, len(perms))
	}
	// An app installed after the first migrate (its permissions absent) gets them on its first.
	if _, err := app.DB.NewDelete().Model((*users.Permission)(nil)).Where("app = ?", "permtest").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Migrations().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := app.DB.NewSelect().Model((*users.Permission)(nil)).Where("app = ?", "permtest").Count(ctx); n != 4 {
		t.Errorf("migrate made %d permissions of the later app, want 4", n)
	}
	// With the users app migrated to zero, migrate's hook has nothing to do and does not fail.
	if _, err := app.Migrations().MigrateApp(ctx, "permtest", "zero"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Migrations().MigrateApp(ctx, "users", "zero"); err != nil {
		t.Fatalf("migrate users zero: %v", err)
	}
	if _, err := app.Migrations().Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := app.DB.NewSelect().Model((*users.Permission)(nil)).Count(ctx); int(n) != len(perms) {
		t.Errorf("after migrating back: %d permissions, want %d", n, len(perms))
	}

	accounts := users.AccountsOf(app.Project)
	id, _ := userstest.Register(t, app, "ada@example.com")
	u, err := accounts.ByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	has := func(p string) bool {
		t.Helper()
		ok, err := perm.HasPerm(ctx, app.Project, u, p)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if has("permtest.change_note") {
		t.Error("a new user holds permtest.change_note")
	}
	userstest.Grant(t, app, id, "permtest.change_note")
	if !has("permtest.change_note") || has("permtest.delete_note") {
		t.Error("a granted permission is not seen at once, or another is")
	}
	if _, err := accounts.SaveGroup(ctx, "deleters", []string{"permtest.delete_note"}); err != nil {
		t.Fatal(err)
	}
	if err := accounts.SetUserGroups(ctx, u.ID, []string{"deleters"}); err != nil {
		t.Fatal(err)
	}
	if !has("permtest.delete_note") {
		t.Error("a group's permission is not seen at once")
	}
	// Changing the group's permissions reaches its members at once.
	if _, err := accounts.SaveGroup(ctx, "deleters", nil); err != nil {
		t.Fatal(err)
	}
	if has("permtest.delete_note") {
		t.Error("a permission taken from the group is still held")
	}
	// Unknown names are refused and change nothing.
	if err := accounts.SetUserPermissions(ctx, u.ID, []string{"permtest.fly_note"}); err == nil {
		t.Error("an unknown permission was granted")
	}
	if !has("permtest.change_note") {
		t.Error("a refused grant dropped the user's permissions")
	}
	su := &users.User{IsActive: true, IsSuperuser: true}
	if ok, _ := perm.HasPerm(ctx, app.Project, su, "anything.at_all"); !ok {
		t.Error("a superuser lacks a permission")
	}
	su.IsActive = false
	if ok, _ := perm.HasPerm(ctx, app.Project, su, "permtest.view_note"); ok {
		t.Error("an inactive superuser holds a permission")
	}
}

// Two web processes sharing one Redis: a permission granted or taken on one
// is seen by the other at once, although it answers from its near cache.
func TestHasPermAcrossProcesses(t *testing.T) {
	testenv.Lookup(t, testenv.RedisURL)
	a := testkit.New(t)
	shared := testkit.Settings{"DATABASE_URL": a.DatabaseURL, "CACHE_KEY_PREFIX": a.Settings.CacheKeyPrefix}
	b := testkit.New(t, shared, testkit.NoMigrate{})
	ctx := context.Background()
	id, token := userstest.Register(t, a, "shared@example.com")
	path := "/api/permtest/modelperms"
	b.Client.WithToken(token).Get(path).AssertError(http.StatusForbidden, "PermissionDenied")
	b.Client.WithToken(token).Get(path).AssertError(http.StatusForbidden, "PermissionDenied") // now cached on b
	if _, err := users.AccountsOf(a.Project).SaveGroup(ctx, "readers", []string{"permtest.view_note"}); err != nil {
		t.Fatal(err)
	}
	if err := users.AccountsOf(a.Project).SetUserGroups(ctx, uuid.MustParse(id), []string{"readers"}); err != nil {
		t.Fatal(err)
	}
	b.Client.WithToken(token).Get(path).AssertStatus(http.StatusOK)
	if _, err := users.AccountsOf(a.Project).SaveGroup(ctx, "readers", nil); err != nil {
		t.Fatal(err)
	}
	b.Client.WithToken(token).Get(path).AssertError(http.StatusForbidden, "PermissionDenied")
}

// A Label names the installed app that lists the model.
func TestLabel(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	if got := perm.Label(app.Project, (*note)(nil)); got != "permtest.note" {
		t.Errorf("label %q", got)
	}
	if got := perm.Label(app.Project, (*users.Group)(nil)); got != "users.group" {
		t.Errorf("label %q", got)
	}
	if got := perm.ModelPerm("blog.post", perm.Change); got != "blog.change_post" {
		t.Errorf("ModelPerm %q", got)
	}
}
