package core

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"manouche/settings"
)

// Issue is one finding of `check`.
type Issue struct {
	Level string // ERROR or WARNING
	ID    string // e.g. security.W018, as in Django
	Msg   string
}

// DeployIssues returns what `check --deploy` reports for st: the settings a
// production deployment must not keep (Django's deployment checklist).
func DeployIssues(st *settings.Settings) []Issue {
	var out []Issue
	warn := func(id, msg string) { out = append(out, Issue{"WARNING", id, msg}) }
	if st.Debug {
		warn("security.W018", "DEBUG is on in deployment: it shows internals in error responses. Set DEBUG=false.")
	}
	if len(st.SecretKey) < 50 || strings.Contains(st.SecretKey, "insecure") || strings.Contains(st.SecretKey, "testing") {
		warn("security.W009", "SECRET_KEY is short, or a development key: use at least 50 random characters.")
	}
	if len(st.AllowedHosts) == 0 || slices.Contains(st.AllowedHosts, "*") {
		warn("security.W020", "ALLOWED_HOSTS is empty or allows any host: list the site's domains.")
	}
	if st.SiteScheme != "https" {
		warn("security.W008", "SITE_SCHEME is not https: links in emails and API pagination will use http.")
	}
	// Each kind of backend (mail, storage): the selected one's own warning.
	for _, k := range st.Kinds() {
		if k.DeployWarning != "" {
			warn(k.Kind+".W001", fmt.Sprintf("%s is %q: %s", k.Setting, k.Selected, k.DeployWarning))
		}
	}
	if strings.HasPrefix(st.DatabaseURL, "sqlite") {
		warn("db.W001", "DATABASE_URL is SQLite: on Heroku the disk is wiped on every restart. Use Postgres.")
	}
	if st.RedisURL == "" {
		warn("cache.W001", "REDIS_URL is not set: the cache and the rate limits are per process, and a revoked token is only revoked in the process that revoked it.")
	}
	if slices.Contains(st.CORSAllowedOrigins, "*") {
		warn("security.W040", "CORS_ALLOWED_ORIGINS allows any origin.")
	}
	return out
}

func (cl *commandLine) checkCmd() *cobra.Command {
	var deploy bool
	var failLevel string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the project for problems (--deploy: for a production deployment)",
		Long: `Load the settings, connect to the database and the other services, and report
pending migrations and models with changes that no migration reflects. With --deploy, also check the settings against a production
checklist (DEBUG, SECRET_KEY, ALLOWED_HOSTS, HTTPS, email, storage, cache).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var issues []Issue
			p, err := cl.load(ctx)
			if err != nil {
				return err
			}
			for name, err := range p.Check(ctx, 5*time.Second) {
				issues = append(issues, Issue{"ERROR", name + ".E001", fmt.Sprintf("%s is unavailable: %v", name, err)})
			}
			if pending, err := p.Migrations().Pending(ctx); err != nil {
				issues = append(issues, Issue{"ERROR", "migrations.E001", err.Error()})
			} else if len(pending) > 0 {
				issues = append(issues, Issue{"WARNING", "migrations.W001", fmt.Sprintf("%d unapplied migration(s): run `migrate`.", len(pending))})
			}
			if apps, err := UnmigratedApps(ctx); err != nil {
				issues = append(issues, Issue{"ERROR", "migrations.E002", err.Error()})
			} else if len(apps) > 0 {
				issues = append(issues, Issue{"WARNING", "migrations.W002", unmigratedMessage(apps)})
			}
			if deploy {
				issues = append(issues, DeployIssues(p.Settings)...)
			}
			out := cmd.OutOrStdout()
			failing := 0
			for _, is := range issues {
				fmt.Fprintf(out, "%s %s: %s\n", is.Level, is.ID, is.Msg)
				if is.Level == "ERROR" || strings.EqualFold(failLevel, "WARNING") {
					failing++
				}
			}
			if len(issues) == 0 {
				fmt.Fprintln(out, "System check identified no issues.")
			} else {
				fmt.Fprintf(out, "System check identified %d issue(s).\n", len(issues))
			}
			if failing > 0 {
				return fmt.Errorf("check: %d issue(s) at or above %s", failing, strings.ToUpper(failLevel))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&deploy, "deploy", false, "check the settings for a production deployment")
	cmd.Flags().StringVar(&failLevel, "fail-level", "ERROR", "exit non-zero for issues at this level or above (ERROR or WARNING)")
	return cmd
}
