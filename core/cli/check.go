package cli

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"manouche/core"
	"manouche/core/cache"
	"manouche/core/checks"
	"manouche/core/db"
	"manouche/core/mail"
	"manouche/core/server"
	"manouche/core/storage"
	"manouche/settings"
)

// Issue is one finding of `check` (see package checks).
type Issue = checks.Issue

// DefaultProcesses is how many processes `check --deploy` assumes share the
// database and Redis: two web dynos, a worker, the release phase and one
// `heroku run` (the budget of settings/common.toml). --processes changes it.
const DefaultProcesses = 5

// DeployIssues returns what `check --deploy` reports from the settings
// alone, Django's deployment checklist with Django's ids where Django has
// one, and the installed apps' own deployment checks (core.DeployChecker:
// the admin's cookies).
func DeployIssues(st *settings.Settings, installed ...core.App) []Issue {
	var out []Issue
	warn := func(id, format string, args ...any) { out = append(out, checks.Warningf(id, format, args...)) }
	if st.Debug {
		warn("security.W018", "DEBUG is on in deployment: error responses show internals. Set DEBUG=false.")
	}
	if weakSecretKey(st.SecretKey) {
		warn("security.W009", "SECRET_KEY is shorter than 50 characters, has fewer than 5 different characters, or is a development key: sessions and tokens signed with it can be forged. Set a long random one (for example `openssl rand -base64 48`).")
	}
	switch {
	case len(st.AllowedHosts) == 0:
		warn("security.W020", "ALLOWED_HOSTS is empty: every request will be refused. List the site's domains (it defaults to SITE_DOMAIN).")
	case slices.Contains(st.AllowedHosts, "*"):
		warn("security.W020", "ALLOWED_HOSTS allows any host (\"*\"): list the site's domains, so that a forged Host header cannot reach the site.")
	}
	if st.SecureHSTSSeconds <= 0 {
		warn("security.W004", "SECURE_HSTS_SECONDS is not set: browsers are not told to use only HTTPS. Set it (31536000 is a year) once the whole site is served over HTTPS; a wrong value can break the site for that long.")
	} else {
		if !st.SecureHSTSIncludeSubdomains {
			warn("security.W005", "SECURE_HSTS_INCLUDE_SUBDOMAINS is not on: subdomains may still be reached over HTTP. Turn it on if every subdomain is HTTPS-only.")
		}
		if !st.SecureHSTSPreload {
			warn("security.W021", "SECURE_HSTS_PRELOAD is not on: the domain cannot be submitted to the browsers' HSTS preload list. Turn it on only if you mean to submit it.")
		}
	}
	if !st.SecureSSLRedirect {
		warn("security.W008", "SECURE_SSL_REDIRECT is not on: plain-HTTP requests are served instead of redirected to HTTPS. Turn it on unless a proxy in front already redirects.")
	}
	if st.SiteScheme != "https" {
		warn("site.W001", "SITE_SCHEME is not https: links in emails and API pagination will use http, and the admin's cookies are not Secure.")
	}
	for _, app := range installed {
		if dc, ok := app.(core.DeployChecker); ok {
			out = append(out, dc.DeployChecks(st)...)
		}
	}
	// Each kind of backend (mail, storage): the selected one's own warning.
	for _, k := range st.Kinds() {
		if k.DeployWarning != "" {
			warn(k.Kind+".W001", "%s is %q: %s", k.Setting, k.Selected, k.DeployWarning)
		}
	}
	if strings.HasPrefix(st.DatabaseURL, "sqlite") {
		warn("db.W001", "DATABASE_URL is SQLite: on Heroku the disk is wiped on every restart. Use Postgres.")
	}
	if st.RedisURL == "" {
		warn("cache.W001", "REDIS_URL is not set: the cache and the rate limits are per process, and a revoked token is only revoked in the process that revoked it.")
	} else if plainRedis(st) {
		warn("cache.W002", "REDIS_URL is a plain redis:// URL to another machine: commands and the password cross the network in clear. Use the rediss:// URL (Heroku Redis gives one; REDIS_TLS_URL on older plans).")
	}
	if slices.Contains(st.CORSAllowedOrigins, "*") {
		warn("security.W040", "CORS_ALLOWED_ORIGINS allows any origin.")
	}
	return out
}

// weakSecretKey is Django's test (fewer than 50 characters, fewer than 5
// distinct ones, Django's insecure prefix) plus the development and testing
// keys this project ships.
func weakSecretKey(key string) bool {
	distinct := map[rune]bool{}
	for _, r := range key {
		distinct[r] = true
	}
	return len(key) < 50 || len(distinct) < 5 || strings.HasPrefix(key, "django-insecure-") ||
		strings.Contains(key, "insecure") || strings.Contains(key, "not-for-production")
}

// plainRedis reports whether REDIS_URL is redis:// (no TLS) to a server that
// is not this machine, or at all in production.
func plainRedis(st *settings.Settings) bool {
	scheme, rest, _ := strings.Cut(st.RedisURL, "://")
	if scheme != "redis" {
		return false
	}
	if st.Layer == "production" {
		return true
	}
	host := rest
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	host, _, _ = strings.Cut(host, "/")
	return !checks.IsLocal(host)
}

// probeSet is what `check --deploy` probes live, opened from the settings
// the way the project opens them; close releases it.
type probeSet struct {
	probes []namedProbe
	closer []func()
	issues []Issue // what could not even be opened
}

type namedProbe struct {
	name string
	p    checks.Prober
}

// openProbes opens every service the settings name, through the same
// registries the project uses, and keeps those that implement
// checks.Prober: a new mail or storage backend brings its own probe.
func openProbes(ctx context.Context, st *settings.Settings, processes int) *probeSet {
	ps := &probeSet{}
	pools, poolsText := 1, "DB_MAX_CONNS"
	if st.DatabaseConnectionPoolURL != "" {
		// Through a transaction pooler the web pool's server connections are
		// the pooler's, fewer than its clients; counted whole, as the worst case.
		pools, poolsText = 2, "2 pools (DATABASE_URL and DATABASE_CONNECTION_POOL_URL) x DB_MAX_CONNS"
	}
	ps.probes = append(ps.probes, namedProbe{"database", db.Probe{
		URL: st.DatabaseURL, Options: core.DatabaseOptions(st, "DATABASE_URL"),
		Budget:     processes * pools * st.DBMaxConns,
		BudgetText: fmt.Sprintf("%d processes x %s %d; --processes changes the count", processes, poolsText, st.DBMaxConns),
	}})
	if st.DatabaseConnectionPoolURL != "" {
		o := core.DatabaseOptions(st, "DATABASE_CONNECTION_POOL_URL")
		o.Pooler = true
		ps.probes = append(ps.probes, namedProbe{"database pool", db.Probe{URL: st.DatabaseConnectionPoolURL, Options: o}})
	}
	if st.RedisURL != "" {
		c, err := cache.New(cache.Config{RedisURL: st.RedisURL, MaxConns: 1})
		if err != nil {
			ps.issues = append(ps.issues, checks.Errorf("cache.E002", "REDIS_URL: %v", err))
		} else {
			ps.closer = append(ps.closer, func() { _ = c.Close() })
			ps.probes = append(ps.probes, namedProbe{"cache", c})
		}
	}
	if m, err := mail.Open(ctx, st); err != nil {
		ps.issues = append(ps.issues, checks.Errorf("mail.E002", "EMAIL_BACKEND=%s: %v", st.EmailBackend, err))
	} else {
		if c, ok := m.(mail.Closer); ok {
			ps.closer = append(ps.closer, func() { _ = c.Close() })
		}
		if p, ok := m.(checks.Prober); ok {
			ps.probes = append(ps.probes, namedProbe{"mail", p})
		}
	}
	if s, err := storage.Open(ctx, st); err != nil {
		ps.issues = append(ps.issues, checks.Errorf("storage.E004", "STORAGE_BACKEND=%s: %v", st.StorageBackend, err))
	} else {
		ps.closer = append(ps.closer, func() { _ = storage.Close(s) })
		if p, ok := s.(checks.Prober); ok {
			ps.probes = append(ps.probes, namedProbe{"storage", p})
		}
	}
	return ps
}

// run runs every probe at once, each within timeout, and returns their
// findings in the order the probes were opened.
func (ps *probeSet) run(ctx context.Context, timeout time.Duration) []Issue {
	results := make([][]Issue, len(ps.probes))
	var wg sync.WaitGroup
	for i, np := range ps.probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			done := make(chan []Issue, 1)
			go func() { done <- np.p.Probe(pctx) }()
			select {
			case results[i] = <-done:
			case <-time.After(timeout + time.Second):
				// A probe that ignores its deadline is reported, not waited for.
				results[i] = []Issue{checks.Errorf(np.name+".E000", "the %s probe did not finish within %v.", np.name, timeout)}
			}
		}()
	}
	wg.Wait()
	out := slices.Clone(ps.issues)
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

func (ps *probeSet) close() {
	for _, c := range ps.closer {
		c()
	}
}

// headerIssues asks the project's own handler for its home page, in
// process, and reads the security headers its middleware sets: Django's
// clickjacking (W002, W019) and referrer policy (W022) checks, read from
// what the server really answers.
func headerIssues(p *core.Project, srv *server.Server) (out []Issue) {
	app := srv.Handler()
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = requestHost(p.Settings)
	// As the platform's router sends it: over https, so that an SSL redirect
	// (trusted through NUM_PROXIES) answers with the page, not a redirect.
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := app.Test(req, 10_000)
	if err != nil {
		return []Issue{checks.Warningf("core.W002", "could not ask the HTTP handler for / to read its security headers: %v", err)}
	}
	_ = resp.Body.Close()
	switch xfo := resp.Header.Get("X-Frame-Options"); {
	case xfo == "":
		out = append(out, checks.Warningf("security.W002", "responses carry no X-Frame-Options header: other sites can frame the site's pages (clickjacking)."))
	case !strings.EqualFold(xfo, "DENY"):
		out = append(out, checks.Warningf("security.W019", "responses carry X-Frame-Options: %s, not DENY: unless pages must be framed by the same origin, use DENY.", xfo))
	}
	if resp.Header.Get("Referrer-Policy") == "" {
		out = append(out, checks.Warningf("security.W022", "responses carry no Referrer-Policy header: full URLs leak to other sites in the Referer header."))
	}
	return out
}

// requestHost is a Host header ALLOWED_HOSTS accepts.
func requestHost(st *settings.Settings) string {
	for _, h := range st.AllowedHosts {
		if h != "*" && h != "" {
			return strings.TrimPrefix(h, ".")
		}
	}
	host := st.SiteDomain
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host
}

// probedChecks are the readiness checks that `check --deploy` replaces by
// its probes.
var probedChecks = map[string]bool{"database": true, "database pooler": true, "cache": true, "storage": true}

func (cl *commandLine) checkCmd() *cobra.Command {
	var deploy bool
	var failLevel string
	var processes int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the project for problems (--deploy: for a production deployment, probing every service)",
		Long: `Load the settings, connect to the database and the other services, and report
pending migrations and models with changes that no migration reflects.

With --deploy, also check the settings against Django's deployment checklist
(DEBUG, SECRET_KEY, ALLOWED_HOSTS, HSTS, SSL redirect, the admin's cookies,
X-Frame-Options, Referrer-Policy), then probe each service the settings name,
live, within --timeout each: the database (reachable, TLS in use, max_connections
against the pools of --processes processes), Redis (reachable, TLS), the mail
backend (SMTP: connect, EHLO, STARTTLS, AUTH, QUIT; no mail is sent) and the
storage backend (S3: the bucket exists; a probe object is written and deleted).
Pending migrations are an ERROR with --deploy.

The exit status is 1 when an issue is at --fail-level or above, so a release
phase can run it: migrate && check --deploy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			level := checks.Level(strings.ToUpper(failLevel))
			if level != checks.Error && level != checks.Warning {
				return UsageError("--fail-level %q: use ERROR or WARNING", failLevel)
			}
			if processes < 1 {
				return UsageError("--processes %d: at least 1", processes)
			}
			st, err := cl.settings()
			if err != nil {
				return err
			}
			var issues []Issue
			if deploy {
				issues = append(issues, DeployIssues(st, cl.env.Installed...)...)
				ps := openProbes(ctx, st, processes)
				issues = append(issues, ps.run(ctx, timeout)...)
				ps.close()
			}
			p, err := cl.load(ctx)
			switch {
			case err != nil && !deploy:
				return err
			case err != nil:
				// The database probe has said why already when it failed.
				if !slices.ContainsFunc(issues, func(is Issue) bool { return is.Level == checks.Error && strings.HasPrefix(is.ID, "database") }) {
					issues = append(issues, checks.Errorf("core.E001", "the project cannot start: %v", err))
				}
			default:
				issues = append(issues, cl.projectIssues(ctx, p, deploy)...)
			}
			return report(cmd, issues, level, st.SilencedSystemChecks)
		},
	}
	cmd.Flags().BoolVar(&deploy, "deploy", false, "check the settings for a production deployment and probe every service")
	cmd.Flags().StringVar(&failLevel, "fail-level", "ERROR", "exit non-zero for issues at this level or above (ERROR or WARNING)")
	cmd.Flags().IntVar(&processes, "processes", DefaultProcesses, "with --deploy: how many processes share the database (web dynos + workers + release + one-off)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "with --deploy: how long each service probe may take")
	return cmd
}

// projectIssues are the checks that need the running project: readiness,
// migrations, and with deploy the HTTP handler's security headers.
func (cl *commandLine) projectIssues(ctx context.Context, p *core.Project, deploy bool) []Issue {
	var issues []Issue
	failed := p.Check(ctx, 5*time.Second)
	names := make([]string, 0, len(failed))
	for name := range failed {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if deploy && probedChecks[name] {
			continue
		}
		issues = append(issues, checks.Errorf(strings.ReplaceAll(name, " ", "_")+".E001", "%s is unavailable: %v", name, failed[name]))
	}
	pending, err := p.Migrations().Pending(ctx)
	if err != nil {
		issues = append(issues, checks.Errorf("migrations.E001", "%v", err))
	} else if len(pending) > 0 && deploy {
		issues = append(issues, checks.Errorf("migrations.E003", "%d unapplied migration(s): the code expects tables they create. Run `migrate` before this check (release: migrate && check --deploy).", len(pending)))
	} else if len(pending) > 0 {
		issues = append(issues, checks.Warningf("migrations.W001", "%d unapplied migration(s): run `migrate`.", len(pending)))
	}
	if apps, err := UnmigratedApps(ctx, cl.env.Installed); err != nil {
		issues = append(issues, checks.Errorf("migrations.E002", "%v", err))
	} else if len(apps) > 0 {
		issues = append(issues, checks.Warningf("migrations.W002", "%s", unmigratedMessage(apps)))
	}
	if err == nil && len(pending) == 0 {
		// The routes need the migrated tables (the admin reads its own).
		srv, serr := buildServer(p)
		switch {
		case serr != nil:
			issues = append(issues, checks.Errorf("core.E002", "building the HTTP handler failed: %v", serr))
		default:
			issues = append(issues, undescribedIssues(srv)...)
			if deploy {
				issues = append(issues, headerIssues(p, srv)...)
			}
		}
	}
	if deploy && p.Settings.APIDocs {
		issues = append(issues, checks.Infof("openapi.I001", "API_DOCS is on: the API's OpenAPI document (/api/openapi.json) and docs page (/api/docs) are public, as a mobile team generating its client wants; set API_DOCS=false if the API should not be described to everyone."))
	}
	return issues
}

// buildServer builds the project's HTTP handler once for the checks that
// read it; an app's Routes that panics (a misconfiguration) is an error.
func buildServer(p *core.Project) (srv *server.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return server.New(p)
}

// undescribedIssues names each /api route registered without an OpenAPI
// description (openapi.W001): it is in the document, but only as its path.
func undescribedIssues(srv *server.Server) []Issue {
	_, undescribed, err := srv.OpenAPI()
	if err != nil {
		return []Issue{checks.Errorf("openapi.E001", "the OpenAPI document cannot be built: %v", err)}
	}
	var out []Issue
	for _, r := range undescribed {
		out = append(out, checks.Warningf("openapi.W001", "%s %s (app %s) has no OpenAPI description: register it with openapi.Describe(r, p).%s(path, openapi.Op{...}, handlers...) so that /api/openapi.json says what it reads and answers.",
			r.Method, r.Path, r.App, methodName(r.Method)))
	}
	return out
}

func methodName(m string) string {
	if m == "" {
		return "Add"
	}
	return m[:1] + strings.ToLower(m[1:])
}

// report prints the issues, Django's way, and fails when one is at level
// or above. INFO lines say what the probes found working; they are not
// counted as issues. Issues whose id is silenced (SILENCED_SYSTEM_CHECKS)
// are neither printed nor counted.
func report(cmd *cobra.Command, issues []Issue, level checks.Level, silenced []string) error {
	out := cmd.OutOrStdout()
	failing, counted, quiet := 0, 0, 0
	for _, is := range issues {
		if slices.Contains(silenced, is.ID) {
			quiet++
			continue
		}
		fmt.Fprintln(out, is)
		if is.Level == checks.Info {
			continue
		}
		counted++
		if is.Level == checks.Error || level == checks.Warning {
			failing++
		}
	}
	note := ""
	if quiet > 0 {
		note = fmt.Sprintf(" (%d silenced)", quiet)
	}
	if counted == 0 {
		fmt.Fprintf(out, "System check identified no issues%s.\n", note)
	} else {
		fmt.Fprintf(out, "System check identified %d issue(s)%s.\n", counted, note)
	}
	if failing > 0 {
		return fmt.Errorf("check: %d issue(s) at or above %s", failing, level)
	}
	return nil
}
