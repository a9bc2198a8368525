package rest_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/cache"
	"manouche/core/openapi"
	"manouche/core/rest"
	"manouche/core/testenv"
	"manouche/core/testkit"
)

// author and book: a book's author is a foreign key (ON DELETE CASCADE), so
// the books' cached pages depend on the authors' table too.
type author struct {
	bun.BaseModel `bun:"table:rc_authors,alias:a"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:"updated_at,notnull,default:current_timestamp"`
	Name      string    `bun:"name,type:varchar(50),notnull,default:''"`
}

type book struct {
	bun.BaseModel `bun:"table:rc_books,alias:b"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:"updated_at,notnull,default:current_timestamp"`
	Title     string    `bun:"title,type:varchar(200),notnull,default:''"`
	AuthorID  uuid.UUID `bun:"author_id,type:uuid,notnull"`
	Author    *author   `bun:"rel:belongs-to,join:author_id=id,on_delete:CASCADE"`
}

var (
	authors    = &rest.ModelViewSet[author]{Path: "/authors", Public: true}
	books      = &rest.ModelViewSet[book]{Path: "/books", Public: true}
	plainBooks = &rest.ModelViewSet[book]{Path: "/plainbooks", Public: true, NoCache: true}
)

// cacheApp serves the two models, the same books uncached, and a
// hand-written list scoped to the caller (X-Owner: the titles' prefix),
// read through rest.Cached.
type cacheApp struct{}

func (cacheApp) Name() string   { return "restcache" }
func (cacheApp) Prefix() string { return "/api/rc" }
func (cacheApp) Routes(r fiber.Router, p *core.Project) {
	rest.Mount(r, p, []rest.Resource{authors, books, plainBooks})
	openapi.Describe(r, p).Get("/mine", openapi.Op{
		Summary:   "The caller's book titles (X-Owner), read through rest.Cached",
		Responses: openapi.Responses{200: []string{}},
	}, func(c *fiber.Ctx) error {
		var rows []book
		q := p.DB.NewSelect().Model(&rows).Where("b.title LIKE ?", c.Get("X-Owner")+":%").Order("b.title")
		if err := rest.Cached[book](p).Once(c.UserContext(), q.String(), &rows, func(ctx context.Context) (any, error) {
			return rows, q.Scan(ctx)
		}); err != nil {
			return err
		}
		titles := make([]string, len(rows))
		for i, b := range rows {
			titles[i] = b.Title
		}
		return c.JSON(titles)
	})
}

const createAuthorsBooks = `CREATE TABLE rc_authors (id {ID} PRIMARY KEY, created_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP,
updated_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP, name VARCHAR(50) NOT NULL DEFAULT '');
CREATE TABLE rc_books (id {ID} PRIMARY KEY, created_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP,
updated_at {TS} NOT NULL DEFAULT CURRENT_TIMESTAMP, title VARCHAR(200) NOT NULL DEFAULT '',
author_id {ID} NOT NULL REFERENCES rc_authors (id) ON DELETE CASCADE)`

func (cacheApp) Migrations() fs.FS {
	return fstest.MapFS{
		"20260101000001_books.up.postgres.sql":   {Data: []byte(strings.NewReplacer("{ID}", "UUID", "{TS}", "TIMESTAMPTZ").Replace(createAuthorsBooks))},
		"20260101000001_books.down.postgres.sql": {Data: []byte("DROP TABLE rc_books; DROP TABLE rc_authors")},
		"20260101000001_books.up.sqlite.sql":     {Data: []byte(strings.NewReplacer("{ID}", "TEXT", "{TS}", "TIMESTAMP").Replace(createAuthorsBooks))},
		"20260101000001_books.down.sqlite.sql":   {Data: []byte("DROP TABLE rc_books; DROP TABLE rc_authors")},
	}
}

const rc = "/api/rc"

// newCacheApp is a test project serving cacheApp; with share, a second
// project (another web process) on the first one's database and Redis.
func newCacheApp(t *testing.T, share *testkit.App, settings testkit.Settings) *testkit.App {
	t.Helper()
	s := testkit.Settings{}
	for k, v := range settings {
		s[k] = v
	}
	if share != nil {
		s["DATABASE_URL"] = share.DatabaseURL
		s["CACHE_KEY_PREFIX"] = share.Settings.CacheKeyPrefix
	}
	return testkit.New(t, testkit.Apps{cacheApp{}}, s)
}

// twoProcesses is two projects sharing a database and a Redis.
func twoProcesses(t *testing.T) (a, b *testkit.App) {
	t.Helper()
	testenv.Lookup(t, testenv.RedisURL)
	a = newCacheApp(t, nil, nil)
	return a, newCacheApp(t, a, nil)
}

func newAuthor(t testing.TB, c *testkit.Client, name string) string {
	t.Helper()
	return c.Post(rc+"/authors", map[string]any{"name": name}).AssertStatus(http.StatusCreated).Map()["id"].(string)
}

func newBook(t testing.TB, c *testkit.Client, authorID, title string) string {
	t.Helper()
	return c.Post(rc+"/books", map[string]any{"title": title, "author": authorID}).AssertStatus(http.StatusCreated).Map()["id"].(string)
}

func titles(t testing.TB, c *testkit.Client, path string) []string {
	t.Helper()
	var l struct {
		Count   int              `json:"count"`
		Results []map[string]any `json:"results"`
	}
	c.Get(path).AssertStatus(http.StatusOK).JSON(&l)
	out := []string{}
	for _, r := range l.Results {
		out = append(out, r["title"].(string))
	}
	if l.Count < len(out) {
		t.Errorf("count %d below the %d results", l.Count, len(out))
	}
	return out
}

func sameList(got []string, want ...string) bool {
	return strings.Join(got, "|") == strings.Join(want, "|")
}

// A write on one process is seen by the other as soon as its response came
// back, for pages and rows; until then both are served from the cache (a
// change made behind the framework's back stays unseen).
func TestCacheAcrossProcesses(t *testing.T) {
	t.Parallel()
	a, b := twoProcesses(t)
	ctx := context.Background()
	aid := newAuthor(t, a.Client, "Ada")
	id := newBook(t, a.Client, aid, "one")
	if got := titles(t, b.Client, rc+"/books"); !sameList(got, "one") {
		t.Fatalf("B's list after A's create: %v", got)
	}
	if got := b.Client.Get(rc + "/books/" + id).AssertStatus(http.StatusOK).Map()["title"]; got != "one" {
		t.Fatalf("B's row: %v", got)
	}
	// Served from the cache: an update the framework did not make is not seen,
	// by either process.
	if _, err := a.DB.NewUpdate().Table("rc_books").Set("title = 'behind'").Where("id = ?", id).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, app := range []*testkit.App{a, b} {
		if got := titles(t, app.Client, rc+"/books"); !sameList(got, "one") {
			t.Fatalf("the list was not served from the cache: %v", got)
		}
		if got := app.Client.Get(rc + "/books/" + id).Map()["title"]; got != "one" {
			t.Fatalf("the row was not served from the cache: %v", got)
		}
	}
	// The uncached view set reads the database.
	if got := titles(t, b.Client, rc+"/plainbooks"); !sameList(got, "behind") {
		t.Fatalf("NoCache list: %v", got)
	}

	a.Client.Patch(rc+"/books/"+id, map[string]any{"title": "two"}).AssertStatus(http.StatusOK)
	if got := titles(t, b.Client, rc+"/books"); !sameList(got, "two") {
		t.Fatalf("B's list after A's update: %v", got)
	}
	if got := b.Client.Get(rc + "/books/" + id).Map()["title"]; got != "two" {
		t.Fatalf("B's row after A's update: %v", got)
	}
	newBook(t, b.Client, aid, "three")
	if got := titles(t, a.Client, rc+"/books"); !sameList(got, "three", "two") {
		t.Fatalf("A's list after B's create: %v", got)
	}
	a.Client.Delete(rc + "/books/" + id).AssertStatus(http.StatusNoContent)
	b.Client.Get(rc+"/books/"+id).AssertError(http.StatusNotFound, "NotFound")
	if got := titles(t, b.Client, rc+"/books"); !sameList(got, "three") {
		t.Fatalf("B's list after A's delete: %v", got)
	}
}

// Rows another model owns: deleting an author (cascading to its books)
// through its own view set empties the cached pages of books on every
// process; so does a save in the admin.
func TestCacheForeignKeyDependency(t *testing.T) {
	t.Parallel()
	a := newCacheApp(t, nil, nil)
	others := []*testkit.App{a}
	if testenv.Optional(testenv.RedisURL) != "" {
		others = append(others, newCacheApp(t, a, nil))
	}
	aid := newAuthor(t, a.Client, "Ada")
	id := newBook(t, a.Client, aid, "kept")
	for _, app := range others {
		if got := titles(t, app.Client, rc+"/books"); !sameList(got, "kept") {
			t.Fatalf("list: %v", got)
		}
		app.Client.Get(rc + "/books/" + id).AssertStatus(http.StatusOK)
	}
	a.Client.Delete(rc + "/authors/" + aid).AssertStatus(http.StatusNoContent)
	for _, app := range others {
		if got := titles(t, app.Client, rc+"/books"); len(got) != 0 {
			t.Fatalf("books of a deleted author still listed: %v", got)
		}
		app.Client.Get(rc+"/books/"+id).AssertError(http.StatusNotFound, "NotFound")
	}

	// An admin save invalidates like an API write.
	aid = newAuthor(t, a.Client, "Grace")
	id = newBook(t, a.Client, aid, "before")
	titles(t, a.Client, rc+"/books")
	ctx := context.Background()
	if _, err := a.DB.NewUpdate().Table("rc_books").Set("title = 'after'").Where("id = ?", id).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := books.AdminPage(a.Project)
	if err != nil || page.AfterSave == nil {
		t.Fatalf("admin page: %v, AfterSave %v", err, page.AfterSave != nil)
	}
	page.AfterSave(ctx, id)
	for _, app := range others {
		if got := titles(t, app.Client, rc+"/books"); !sameList(got, "after") {
			t.Fatalf("after an admin save: %v", got)
		}
	}
}

// Readers on two processes race a writer: a read that starts after a
// write's response never returns an older title, and the last write is
// what every process serves at the end.
func TestCacheRaceNeverStale(t *testing.T) {
	t.Parallel()
	a := newCacheApp(t, nil, nil)
	apps := []*testkit.App{a}
	if testenv.Optional(testenv.RedisURL) != "" {
		apps = append(apps, newCacheApp(t, a, nil))
	}
	aid := newAuthor(t, a.Client, "Ada")
	id := newBook(t, a.Client, aid, "v0000")
	var done atomic.Int64
	var stale atomic.Int32
	var failures sync.Map
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	read := func(app *testkit.App, detail bool) {
		defer wg.Done()
		for ctx.Err() == nil {
			floor := done.Load()
			var title string
			if detail {
				res := app.Client.Get(rc + "/books/" + id)
				if res.Status != http.StatusOK {
					failures.Store(string(res.Body), true)
					return
				}
				title = res.Map()["title"].(string)
			} else {
				res := app.Client.Get(rc + "/books?per_page=5")
				var l struct{ Results []map[string]any }
				res.JSON(&l)
				if res.Status != http.StatusOK || len(l.Results) != 1 {
					failures.Store(string(res.Body), true)
					return
				}
				title = l.Results[0]["title"].(string)
			}
			var v int64
			_, _ = fmt.Sscanf(title, "v%d", &v)
			if v < floor {
				stale.Add(1)
			}
		}
	}
	for _, app := range apps {
		wg.Add(2)
		go read(app, true)
		go read(app, false)
	}
	const writes = 40
	for i := int64(1); i <= writes; i++ {
		w := apps[int(i)%len(apps)]
		w.Client.Patch(rc+"/books/"+id, map[string]any{"title": fmt.Sprintf("v%04d", i)}).AssertStatus(http.StatusOK)
		done.Store(i)
	}
	cancel()
	wg.Wait()
	failures.Range(func(k, _ any) bool { t.Errorf("a read failed: %s", k); return true })
	if n := stale.Load(); n > 0 {
		t.Fatalf("%d reads returned a title older than a write whose response had returned", n)
	}
	want := fmt.Sprintf("v%04d", writes)
	for _, app := range apps {
		if got := app.Client.Get(rc + "/books/" + id).Map()["title"]; got != want {
			t.Fatalf("final row %v, want %s", got, want)
		}
		if got := titles(t, app.Client, rc+"/books?per_page=5"); !sameList(got, want) {
			t.Fatalf("final list %v, want %s", got, want)
		}
	}
}

// With Redis unreachable every read comes from the database and every write
// succeeds (and is seen at once).
func TestCacheRedisDown(t *testing.T) {
	t.Parallel()
	app := newCacheApp(t, nil, testkit.Settings{"REDIS_URL": "redis://127.0.0.1:1/0", "CACHE_KEY_PREFIX": "down:"})
	c := app.Client
	aid := newAuthor(t, c, "Ada")
	id := newBook(t, c, aid, "one")
	for _, title := range []string{"two", "three"} {
		c.Patch(rc+"/books/"+id, map[string]any{"title": title}).AssertStatus(http.StatusOK)
		if got := titles(t, c, rc+"/books"); !sameList(got, title) {
			t.Fatalf("list: %v, want %s", got, title)
		}
		if got := c.Get(rc + "/books/" + id).Map()["title"]; got != title {
			t.Fatalf("row: %v, want %s", got, title)
		}
	}
	// Nothing is served from a cache: a change behind the framework's back is seen.
	if _, err := app.DB.NewUpdate().Table("rc_books").Set("title = 'behind'").Where("id = ?", id).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := titles(t, c, rc+"/books"); !sameList(got, "behind") {
		t.Fatalf("list with Redis down: %v", got)
	}
	c.Delete(rc + "/books/" + id).AssertStatus(http.StatusNoContent)
	c.Get(rc+"/books/"+id).AssertError(http.StatusNotFound, "NotFound")
}

// A result scoped to the caller is cached per scope: the filter is in the
// SQL, which is the key.
func TestCacheScopeIsolation(t *testing.T) {
	t.Parallel()
	a := newCacheApp(t, nil, nil)
	aid := newAuthor(t, a.Client, "Ada")
	for _, title := range []string{"ada:1", "ada:2", "grace:1"} {
		newBook(t, a.Client, aid, title)
	}
	mine := func(owner string) []string {
		var out []string
		a.Client.WithHeader("X-Owner", owner).Get(rc + "/mine").AssertStatus(http.StatusOK).JSON(&out)
		return out
	}
	for range 2 {
		if got := mine("ada"); !sameList(got, "ada:1", "ada:2") {
			t.Fatalf("ada sees %v", got)
		}
		if got := mine("grace"); !sameList(got, "grace:1") {
			t.Fatalf("grace sees %v", got)
		}
		if got := mine("eve"); len(got) != 0 {
			t.Fatalf("eve sees %v", got)
		}
	}
	// Served from the cache, and invalidated by a write through the view set.
	newBook(t, a.Client, aid, "grace:2")
	if got := mine("grace"); !sameList(got, "grace:1", "grace:2") {
		t.Fatalf("grace after a create: %v", got)
	}
}

// Bad parameters get their 400 before any cache lookup; endless distinct or
// huge query strings are answered but cached only up to the per-model cap,
// under fixed-length keys; parameters the list ignores share one entry.
func TestCacheBadAndHugeQueries(t *testing.T) {
	t.Parallel()
	app := newCacheApp(t, nil, nil)
	c := app.Client
	aid := newAuthor(t, c, "Ada")
	newBook(t, c, aid, "needle")
	lists := app.Cache.Model("rc_books:list", nil, cache.ModelOptions{})
	for _, q := range []string{"per_page=abc", "per_page=0", "offset=-1", "offset=1e3"} {
		c.Get(rc+"/books?"+q).AssertError(http.StatusBadRequest, "ValidationError")
	}
	if n := lists.Len(); n != 0 {
		t.Fatalf("invalid requests created %d cache entries", n)
	}
	// Parameters that do not change the query do not make new entries.
	for _, q := range []string{"", "?a=1", "?b=2&c=3", "?per_page=30", "?per_page=500&per_page=100"} {
		_ = titles(t, c, rc+"/books"+q)
	}
	if n := lists.Len(); n != 2 { // per_page 30 and 100
		t.Fatalf("%d entries for two distinct queries", n)
	}
	huge := strings.Repeat("x", 12_000) // the server reads at most 16 KB of headers
	if got := titles(t, c, rc+"/books?search="+huge); len(got) != 0 {
		t.Fatalf("huge search: %v", got)
	}
	for i := range cache.DefaultMaxVariants + 50 {
		_ = titles(t, c, fmt.Sprintf(rc+"/books?search=%s%d", url.QueryEscape(huge[:100]), i))
	}
	if n := lists.Len(); n > cache.DefaultMaxVariants {
		t.Fatalf("%d list entries, more than the cap %d", n, cache.DefaultMaxVariants)
	}
	if got := titles(t, c, rc+"/books?search=NEEDLE"); !sameList(got, "needle") {
		t.Fatalf("search still works past the cap: %v", got)
	}
	if rdb := app.Cache.Redis(); rdb != nil {
		keys, err := rdb.Keys(context.Background(), app.Settings.CacheKeyPrefix+"mc:rc_books:list:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > cache.DefaultMaxVariants {
			t.Fatalf("redis holds %d list entries, more than the cap", len(keys))
		}
		for _, k := range keys {
			if len(k) > len(app.Settings.CacheKeyPrefix)+64 {
				t.Fatalf("a key of %d bytes", len(k))
			}
		}
	}
}
