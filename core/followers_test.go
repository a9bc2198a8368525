package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/testenv"
	"manouche/core/testkit/testdb"
	"manouche/settings"
)

// onFollower rewrites a test database URL (a schema on the primary) to the
// same schema on the follower of TEST_REPLICA_URL.
func onFollower(t *testing.T, primary string) string {
	t.Helper()
	rep, err := url.Parse(testenv.Lookup(t, testenv.ReplicaURL))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(primary)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = rep.Host
	return u.String()
}

func isFollower(t *testing.T, db bun.IDB) bool {
	t.Helper()
	var in bool
	if err := db.QueryRowContext(context.Background(), "SELECT pg_is_in_recovery()").Scan(&in); err != nil {
		t.Fatal(err)
	}
	return in
}

type testUser string

func (u testUser) UserID() string { return string(u) }

// TestFollowers runs against a real streaming replica: reads go to the
// follower, a user who just wrote reads from the primary, and a follower
// that is down or lags beyond DATABASE_REPLICA_MAX_LAG is skipped.
func TestFollowers(t *testing.T) {
	primary := testdb.URL(t, testdb.Postgres)
	follower := onFollower(t, primary)
	dead := "postgres://app:app@127.0.0.1:1/app?sslmode=disable&connect_timeout=1"
	ctx := context.Background()
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{"TEST_FOLLOWER_VAR=" + follower}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
		"DATABASE_URL":             primary,
		"DATABASE_REPLICA_URLS":    dead + ",TEST_FOLLOWER_VAR",
		"DATABASE_REPLICA_MAX_LAG": "1s",
		"MEDIA_ROOT":               filepath.Join(t.TempDir(), "media"),
	}}, []core.App{coreTestApp{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_FOLLOWER_VAR", follower)
	p, err := core.New(ctx, st, core.Options{Apps: []core.App{coreTestApp{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Followers == nil {
		t.Fatal("no followers with DATABASE_REPLICA_URLS set")
	}
	status := p.Followers.Status()
	if len(status) != 2 || status[0].Usable || !status[1].Usable || status[1].Name != "TEST_FOLLOWER_VAR" {
		t.Fatalf("followers: %+v, want the dead one unusable and TEST_FOLLOWER_VAR usable", status)
	}

	// An anonymous read, many times: always the live follower (the dead one
	// is skipped), never the primary.
	app := fiber.New()
	var sawFollower, sawPrimary bool
	app.Get("/read", func(c *fiber.Ctx) error {
		if isFollower(t, p.ReadDB(c)) {
			sawFollower = true
		} else {
			sawPrimary = true
		}
		return nil
	})
	for range 6 {
		if _, err := app.Test(httptestRequest("GET", "/read", "")); err != nil {
			t.Fatal(err)
		}
	}
	if !sawFollower || sawPrimary {
		t.Errorf("anonymous reads: follower %v, primary %v; want the follower only", sawFollower, sawPrimary)
	}

	// Read-your-writes: after ann's write, ann reads from the primary for
	// the window; bob still reads from the follower.
	app2 := fiber.New()
	app2.Use(func(c *fiber.Ctx) error {
		if u := c.Get("X-User"); u != "" {
			c.Locals("manouche.user", core.User(testUser(u)))
		}
		return c.Next()
	})
	app2.Use(p.TrackWrites())
	app2.Post("/write", func(c *fiber.Ctx) error { return c.SendStatus(204) })
	where := ""
	app2.Get("/read", func(c *fiber.Ctx) error {
		where = "primary"
		if isFollower(t, p.ReadDB(c)) {
			where = "follower"
		}
		return nil
	})
	if _, err := app2.Test(httptestRequest("POST", "/write", "ann")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ user, want string }{{"ann", "primary"}, {"bob", "follower"}, {"", "follower"}} {
		if _, err := app2.Test(httptestRequest("GET", "/read", tc.user)); err != nil {
			t.Fatal(err)
		}
		if where != tc.want {
			t.Errorf("user %q right after ann's write reads from the %s, want the %s", tc.user, where, tc.want)
		}
	}
	time.Sleep(p.Followers.Window() + 200*time.Millisecond)
	if _, err := app2.Test(httptestRequest("GET", "/read", "ann")); err != nil {
		t.Fatal(err)
	}
	if where != "follower" {
		t.Errorf("ann reads from the %s after the window, want the follower", where)
	}

	// Lag: pause replay on the follower, write on the primary; once the
	// follower is further behind than DATABASE_REPLICA_MAX_LAG it is skipped.
	fdb := testdb.Open(t, follower)
	if _, err := fdb.ExecContext(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = fdb.ExecContext(context.Background(), "SELECT pg_wal_replay_resume()") })
	deadline := time.Now().Add(15 * time.Second)
	for p.Followers.Read() != p.DB && time.Now().Before(deadline) {
		if _, err := p.DB.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS lag_probe (n int); INSERT INTO lag_probe VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := p.Followers.Read(); got != p.DB {
		t.Fatalf("a follower paused for 15 s is still used: %+v", p.Followers.Status())
	}
	if s := p.Followers.Status()[1]; s.Usable || s.Reason == "" {
		t.Errorf("the lagging follower's status: %+v", s)
	}
	if _, err := fdb.ExecContext(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for p.Followers.Read() == p.DB && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if p.Followers.Read() == p.DB {
		t.Errorf("the follower is not used again after it caught up: %+v", p.Followers.Status())
	}
}

// TestFollowersBadInput: a follower variable that is not set, a malformed
// URL, and a primary given as a follower are refused with the variable named.
func TestFollowersBadInput(t *testing.T) {
	primary := testdb.URL(t, testdb.Postgres)
	for _, tc := range []struct {
		name    string
		entries []string
		want    string
	}{
		{"unset variable", []string{"HEROKU_POSTGRESQL_NOPE_URL"}, "HEROKU_POSTGRESQL_NOPE_URL, which is not set"},
		{"malformed", []string{"postgres://%zz"}, "DATABASE_REPLICA_URLS[0]"},
		{"sqlite", []string{"sqlite://x.db"}, "must be Postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
				"DATABASE_URL": primary, "DATABASE_REPLICA_URLS": strings.Join(tc.entries, ","), "MEDIA_ROOT": filepath.Join(t.TempDir(), "media"),
			}}, []core.App{coreTestApp{}})
			if err != nil {
				if !contains(err.Error(), tc.want) {
					t.Errorf("settings error %q does not say %q", err, tc.want)
				}
				return
			}
			p, err := core.New(context.Background(), st, core.Options{Apps: []core.App{coreTestApp{}}})
			if err == nil {
				p.Close()
				t.Fatalf("a project opened with DATABASE_REPLICA_URLS=%v", tc.entries)
			}
			if !contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	// The primary itself given as a follower: opened, but never used.
	st, err := core.LoadSettings(settings.Options{Layer: "testing", Environ: []string{}, DotEnv: "-", SkipAbsentApps: true, Overrides: map[string]any{
		"DATABASE_URL": primary, "DATABASE_REPLICA_URLS": primary, "MEDIA_ROOT": filepath.Join(t.TempDir(), "media"),
	}}, []core.App{coreTestApp{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.New(context.Background(), st, core.Options{Apps: []core.App{coreTestApp{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Followers.Read() != p.DB {
		t.Error("a server that is not in recovery is used as a follower")
	}
	if s := p.Followers.Status(); len(s) != 1 || !contains(s[0].Reason, "not a follower") {
		t.Errorf("status %+v", s)
	}
}

func httptestRequest(method, path, user string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	if user != "" {
		r.Header.Set("X-User", user)
	}
	return r
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
