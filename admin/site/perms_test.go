package site_test

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/admin"
	"manouche/apps"
	"manouche/apps/users"
	"manouche/apps/users/userstest"
	"manouche/core"
	"manouche/core/rest"
	"manouche/core/testenv"
	"manouche/core/testkit"
	"manouche/core/testkit/browser"
)

// Post is the model of the test's blog app, as startapp would generate it.
type Post struct {
	bun.BaseModel `bun:"table:blog_posts,alias:p"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:"updated_at,notnull,default:current_timestamp"`
	Title     string    `bun:"title,type:varchar(100),notnull"`
	Published bool      `bun:"published,notnull,default:false"`
}

// blogDB is the test project's database, for the Publish action.
var blogDB *bun.DB

var blogResources = []rest.Resource{&rest.ModelViewSet[Post]{Path: "/posts", Admin: admin.Options{Title: "Posts",
	Actions: []admin.Action{{Name: "publish", Label: "Publish", Run: func(ctx context.Context, id string) error {
		_, err := blogDB.NewUpdate().Model((*Post)(nil)).Set("published = ?", true).Where("id = ?", id).Exec(ctx)
		return err
	}}}}}}

type blogApp struct{}

func (blogApp) Name() string                           { return "blog" }
func (blogApp) Prefix() string                         { return "/api/blog" }
func (blogApp) DependsOn() []string                    { return []string{"users"} }
func (blogApp) Models() []any                          { return rest.Models(blogResources) }
func (blogApp) Routes(r fiber.Router, p *core.Project) { rest.Mount(r, p, blogResources) }
func (blogApp) AdminPages(p *core.Project) []admin.ModelAdmin {
	return rest.AdminPages(p, blogResources)
}

const createPosts = `CREATE TABLE blog_posts (id {ID} PRIMARY KEY, created_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP,
updated_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP, title VARCHAR(100) NOT NULL, published BOOLEAN NOT NULL DEFAULT FALSE)`

func (blogApp) Migrations() fs.FS {
	r := func(id, ts string) []byte {
		return []byte(strings.NewReplacer("{ID}", id, "{TS}", ts).Replace(createPosts))
	}
	return fstest.MapFS{
		"20260101000001_posts.up.postgres.sql":   {Data: r("UUID", "TIMESTAMPTZ")},
		"20260101000001_posts.down.postgres.sql": {Data: []byte("DROP TABLE blog_posts")},
		"20260101000001_posts.up.sqlite.sql":     {Data: r("TEXT", "TIMESTAMP")},
		"20260101000001_posts.down.sqlite.sql":   {Data: []byte("DROP TABLE blog_posts")},
	}
}

// staffClient is an HTTP client signed in to the admin, sending the CSRF
// token and the Origin a page of the admin would.
type staffClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func signIn(t *testing.T, base, email string) *staffClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &staffClient{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	form := url.Values{"username": {email}, "password": {userstest.Password}}
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if status, _ := s.get("/admin"); status != http.StatusOK {
		t.Fatalf("%s: the dashboard after signing in answers %d", email, status)
	}
	return s
}

func (s *staffClient) get(path string) (int, string) {
	s.t.Helper()
	res, err := s.c.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (s *staffClient) post(path string, form url.Values) int {
	s.t.Helper()
	u, _ := url.Parse(s.base + "/admin")
	for _, ck := range s.c.Jar.Cookies(u) {
		if ck.Name == "manouche_admin_csrf" {
			form.Set("csrf_token", ck.Value)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	res, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// TestAdminPermissions: staff who are not superusers see and use only what
// their model permissions allow. A staff member holding only blog.view_post
// sees Posts in the menu and its list, without the buttons to add, change,
// delete or publish, and is refused each of them, with nothing changed;
// holding blog.change_post (granted to a group she joins) she may edit at
// once; staff without any permission see no Posts; GoAdmin's own user, role,
// permission and menu editors answer nobody. On the run's database (SQLite,
// or Postgres with TEST_DATABASE_URL), in a process of its own (GoAdmin's
// configuration is process-wide).
func TestAdminPermissions(t *testing.T) {
	if !testkit.InChild(t) {
		return
	}
	app := testkit.New(t, testkit.Apps(append(append([]core.App{}, apps.Installed...), blogApp{})),
		testkit.Settings{"AUTH_THROTTLE_RATE": "1000/min"})
	blogDB = app.DB
	ctx := context.Background()
	accounts := users.AccountsOf(app.Project)
	viewerID, _ := userstest.Create(t, app, &users.User{Email: "viewer@example.com", IsActive: true, IsStaff: true})
	userstest.Grant(t, app, viewerID, "blog.view_post")
	userstest.Create(t, app, &users.User{Email: "nobody@example.com", IsActive: true, IsStaff: true})
	userstest.Create(t, app, &users.User{Email: "boss@example.com", IsActive: true, IsStaff: true, IsSuperuser: true})
	post := &Post{ID: uuid.New(), Title: "First post", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, err := app.DB.NewInsert().Model(post).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	load := func() Post {
		t.Helper()
		var p Post
		if err := app.DB.NewSelect().Model(&p).Where("id = ?", post.ID).Scan(ctx); err != nil {
			t.Fatalf("the post is gone: %v", err)
		}
		return p
	}
	base := app.Serve()
	id := post.ID.String()

	viewer := signIn(t, base, "viewer@example.com")
	status, dash := viewer.get("/admin")
	if status != http.StatusOK || !strings.Contains(dash, `href="/admin/info/blog_posts"`) {
		t.Errorf("the viewer's menu lacks Posts (%d)", status)
	}
	for _, hidden := range []string{"/admin/info/users", "/admin/info/users_groups", "/admin/info/email_queue", "/admin/info/op"} {
		if strings.Contains(dash, `href="`+hidden+`"`) {
			t.Errorf("the viewer's menu links to %s", hidden)
		}
	}
	status, list := viewer.get("/admin/info/blog_posts")
	if status != http.StatusOK || !strings.Contains(list, "First post") {
		t.Fatalf("the viewer's list: %d", status)
	}
	for _, absent := range []string{"/admin/info/blog_posts/new", "/admin/info/blog_posts/edit", "blog_posts-publish"} {
		if strings.Contains(list, absent) {
			t.Errorf("the viewer's list offers %s", absent)
		}
	}
	if status, _ := viewer.get("/admin/info/blog_posts/detail?__goadmin_detail_pk=" + id); status != http.StatusOK {
		t.Errorf("the viewer's detail page: %d", status)
	}
	for _, path := range []string{"/admin/info/blog_posts/edit?__goadmin_edit_pk=" + id, "/admin/info/blog_posts/new",
		"/admin/info/users", "/admin/info/users_groups", "/admin/info/users_user_permissions", "/admin/info/email_queue"} {
		if status, _ := viewer.get(path); status != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", path, status)
		}
	}
	// Posting to the forms and the action without the permission: refused, nothing changed.
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/admin/edit/blog_posts", url.Values{"id": {id}, "title": {"Hacked"}, "published": {"1"}}},
		{"/admin/new/blog_posts", url.Values{"title": {"Sneaked in"}}},
		{"/admin/delete/blog_posts", url.Values{"id": {id}}},
		{"/admin/operation/blog_posts-publish", url.Values{"id": {id}}},
		{"/admin/new/users_user_permissions", url.Values{"user_id": {viewerID}}},
	} {
		if status := viewer.post(p.path, p.form); status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d, want 403", p.path, status)
		}
	}
	if got := load(); got.Title != "First post" || got.Published {
		t.Errorf("refused posts changed the post: %+v", got)
	}
	if n, _ := app.DB.NewSelect().Model((*Post)(nil)).Count(ctx); n != 1 {
		t.Errorf("%d posts after a refused create", n)
	}
	if n, _ := app.DB.NewSelect().Model((*users.UserPermission)(nil)).Count(ctx); n != 1 {
		t.Errorf("%d user permissions after a refused grant, want the viewer's 1", n)
	}

	// GoAdmin's own editors of users, roles, permissions and menus answer nobody.
	boss := signIn(t, base, "boss@example.com")
	for _, path := range []string{"/admin/info/manager", "/admin/info/roles", "/admin/info/permission", "/admin/menu", "/admin/info/menu"} {
		for who, c := range map[string]*staffClient{"viewer": viewer, "superuser": boss} {
			if status, _ := c.get(path); status != http.StatusNotFound {
				t.Errorf("%s GET %s: %d, want 404", who, path, status)
			}
		}
	}
	// The superuser's menu has the grant pages; the email queue too.
	_, bossDash := boss.get("/admin")
	for _, want := range []string{"/admin/info/users_groups", "/admin/info/users_group_permissions", "/admin/info/users_user_groups", "/admin/info/users_user_permissions", "/admin/info/blog_posts"} {
		if !strings.Contains(bossDash, `href="`+want+`"`) {
			t.Errorf("the superuser's menu lacks %s", want)
		}
	}

	// Staff without any permission: no Posts at all.
	nobody := signIn(t, base, "nobody@example.com")
	if _, dash := nobody.get("/admin"); strings.Contains(dash, `href="/admin/info/blog_posts"`) {
		t.Error("staff without permissions see Posts in the menu")
	}
	if status, _ := nobody.get("/admin/info/blog_posts"); status != http.StatusForbidden {
		t.Errorf("staff without permissions: list %d, want 403", status)
	}

	// A group granting blog.change_post: the viewer may edit at once.
	if _, err := accounts.SaveGroup(ctx, "editors", []string{"blog.change_post"}); err != nil {
		t.Fatal(err)
	}
	if err := accounts.SetUserGroups(ctx, uuid.MustParse(viewerID), []string{"editors"}); err != nil {
		t.Fatal(err)
	}
	if status, _ := viewer.get("/admin/info/blog_posts/edit?__goadmin_edit_pk=" + id); status != http.StatusOK {
		t.Errorf("the editor's edit page: %d", status)
	}
	if status, list := viewer.get("/admin/info/blog_posts"); status != http.StatusOK || !strings.Contains(list, "/admin/info/blog_posts/edit") {
		t.Errorf("the editor's list offers no edit (%d)", status)
	}
	if status := viewer.post("/admin/operation/blog_posts-publish", url.Values{"id": {id}}); status != http.StatusOK {
		t.Errorf("the editor's publish: %d", status)
	}
	if !load().Published {
		t.Error("the editor's publish changed nothing")
	}
	// Still no delete.
	if status := viewer.post("/admin/delete/blog_posts", url.Values{"id": {id}}); status != http.StatusForbidden {
		t.Errorf("the editor's delete: %d, want 403", status)
	}
	load()
	if err := accounts.SetUserGroups(ctx, uuid.MustParse(viewerID), nil); err != nil {
		t.Fatal(err)
	}

	// The browser: the menu, the list, a refused edit.
	testenv.Lookup(t, testenv.Chromium)
	bctx := browser.New(t, 90*time.Second)
	var menu, listText, refused string
	err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "viewer@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), userstest.Password),
		chromedp.Click(chromedp.CSS("#sign-up-form button")),
		chromedp.WaitVisible(chromedp.CSS(".stat-value")),
		browser.Into(&menu, chromedp.Text(chromedp.CSS(".sidebar-menu"))),
		chromedp.Click(chromedp.CSS(`.sidebar-menu a[href="/admin/info/blog_posts"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "First post")]`)),
		browser.Into(&listText, chromedp.Text(chromedp.ID("pjax-container"))),
		chromedp.Navigate(base+"/admin/info/blog_posts/edit?__goadmin_edit_pk="+id),
		chromedp.WaitVisible(chromedp.CSS("body")),
		browser.Into(&refused, chromedp.Text(chromedp.CSS("body"))),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if !strings.Contains(menu, "Posts") || strings.Contains(menu, "Users") || strings.Contains(menu, "Groups") || strings.Contains(menu, "Email queue") {
		t.Errorf("the viewer's menu: %q", menu)
	}
	if !strings.Contains(listText, "First post") {
		t.Errorf("the viewer's list: %q", listText)
	}
	if !strings.Contains(refused, "permission") || strings.Contains(refused, "Save") {
		t.Errorf("the edit page was not refused: %q", refused)
	}
	if got := load(); got.Title != "First post" {
		t.Errorf("the post changed: %+v", got)
	}
}
