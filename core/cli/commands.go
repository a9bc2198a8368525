package cli

import (
	"context"
	"fmt"
	"io"
	"manouche/core"
	"manouche/core/server"
	"manouche/core/version"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"manouche/core/db"
	"manouche/migrations"
	"manouche/migrations/autodetect"
)

func (cl *commandLine) runserverCmd() *cobra.Command {
	var noMigrate bool
	cmd := &cobra.Command{
		Use:   "runserver [ADDR]",
		Short: "Start the web server",
		Long: `Start the web server on ADDR: a port (8080), HOST:PORT (0.0.0.0:8080) or :PORT.
Without ADDR it listens on LISTEN_HOST:PORT: 127.0.0.1:8000 in development,
0.0.0.0:$PORT in production. In development, pending migrations are applied
first, so the first run needs nothing else, and models with changes that no
migration reflects are reported. SIGTERM and SIGINT stop accepting
connections and let in-flight requests finish within SHUTDOWN_TIMEOUT; under
` + "`go run`" + `, the server also stops when go run is killed. A port already in use
is reported with the process holding it (on Linux).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := cl.settings()
			if err != nil {
				return err
			}
			addr := net.JoinHostPort(st.ListenHost, strconv.Itoa(st.Port))
			if len(args) == 1 {
				if addr, err = parseAddr(args[0], st.ListenHost); err != nil {
					return err
				}
			}
			// The port first: when it is taken, that is the one line to print.
			ln, err := server.Listen(addr)
			if err != nil {
				return err
			}
			defer ln.Close()
			p, err := cl.load(ctx)
			if err != nil {
				return err
			}
			ctx, cancel := server.StopWithGoRun(ctx)
			defer cancel()
			out := cmd.OutOrStdout()
			if st.Layer == "development" && !noMigrate {
				if err := migrateAll(ctx, p, out, true); err != nil {
					return err
				}
			}
			if st.Layer == "development" {
				if apps, err := UnmigratedApps(ctx, cl.env.Installed); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: cannot compare the models with their migrations: %v\n", err)
				} else if len(apps) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s\n", unmigratedMessage(apps))
				}
			}
			srv, err := server.New(p)
			if err != nil {
				return err
			}
			stopServices, err := p.StartServices(ctx)
			if err != nil {
				return err
			}
			// On SIGTERM the services (the email worker with RUN_WORKER)
			// stop beside the HTTP drain, within the same SHUTDOWN_TIMEOUT.
			servicesDone := make(chan struct{})
			serving, stopServing := context.WithCancel(ctx)
			defer stopServing()
			go func() {
				defer close(servicesDone)
				<-serving.Done()
				_, hard := server.ShutdownPhases(st.ShutdownTimeout)
				sctx, cancel := context.WithTimeout(context.Background(), hard)
				defer cancel()
				stopServices(sctx)
			}()
			err = srv.Serve(ctx, ln, func(a net.Addr) {
				fmt.Fprintf(out, "%s %s (SETTINGS=%s) serving on http://%s/\nQuit with CONTROL-C.\n", st.SiteName, version.Get(), st.Layer, a)
			})
			stopServing()
			<-servicesDone
			return err
		},
	}
	cmd.Flags().BoolVar(&noMigrate, "nomigrate", false, "do not apply pending migrations before starting (development)")
	return cmd
}

// parseAddr reads runserver's ADDR argument.
func parseAddr(s, defaultHost string) (string, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return "", UsageError("%q is not a port number (1-65535)", s)
		}
		return net.JoinHostPort(defaultHost, s), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", UsageError("%q is not an address: use PORT, HOST:PORT or :PORT", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", UsageError("%q is not an address: the port must be a number from 0 to 65535", s)
	}
	return net.JoinHostPort(host, port), nil
}

func (cl *commandLine) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate [APP [TARGET]]",
		Short: "Apply (or unapply) database migrations",
		Long: `Without arguments, apply every pending migration: the framework's own first,
then each installed app's, in installed order.
With APP, bring that app up to date; with APP TARGET, move it forward or back
to the migration TARGET (its name, or a unique prefix such as its timestamp);
TARGET zero unapplies all of the app's migrations.
A lock makes concurrent runs (a Heroku release and another dyno) safe.`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := cl.load(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				return migrateAll(ctx, p, out, false)
			}
			runner := p.Migrations()
			runner.Progress = progress(out)
			target := ""
			if len(args) == 2 {
				target = args[1]
			} else {
				status, err := runner.Status(ctx)
				if err != nil {
					return err
				}
				for _, as := range status {
					if as.App == args[0] && len(as.Migrations) > 0 {
						target = as.Migrations[len(as.Migrations)-1].Name
					}
				}
				if target == "" {
					target = "zero"
				}
			}
			fmt.Fprintf(out, "Migrating %s to %s:\n", args[0], target)
			rep, err := runner.MigrateApp(ctx, args[0], target)
			if rep != nil {
				reportMissing(cmd.ErrOrStderr(), rep.Missing)
				if err == nil && len(rep.Applied)+len(rep.Unapplied) == 0 {
					fmt.Fprintln(out, "  No migrations to apply.")
				}
			}
			return err
		},
	}
}

// migrateAll applies every pending migration, printing each.
func migrateAll(ctx context.Context, p *core.Project, out io.Writer, quietWhenNone bool) error {
	runner := p.Migrations()
	runner.Progress = progress(out)
	if !quietWhenNone {
		fmt.Fprintln(out, "Running migrations:")
	}
	rep, err := runner.Migrate(ctx)
	if rep != nil {
		reportMissing(out, rep.Missing)
		if err == nil && len(rep.Applied) == 0 && !quietWhenNone {
			fmt.Fprintln(out, "  No migrations to apply.")
		}
	}
	return err
}

func progress(out io.Writer) func(action, app, name string, took time.Duration) {
	return func(action, app, name string, took time.Duration) {
		verb := map[string]string{"apply": "Applying", "unapply": "Unapplying"}[action]
		fmt.Fprintf(out, "  %s %s.%s... OK (%s)\n", verb, app, name, took.Round(time.Millisecond))
	}
}

func reportMissing(out io.Writer, missing []string) {
	for _, m := range missing {
		app, name, _ := strings.Cut(m, " ")
		fmt.Fprintf(out, "WARNING: migration %s.%s is recorded as applied but its files are gone (deleted, renamed, or its app uninstalled).\n", app, name)
	}
}

func (cl *commandLine) showmigrationsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "showmigrations [APP...]",
		Short: "List migrations and whether each is applied",
		Long:  "List every app's migrations: [X] applied, [ ] pending. A migration recorded as applied whose files are gone is flagged.",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := cl.load(ctx)
			if err != nil {
				return err
			}
			status, err := p.Migrations().Status(ctx)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, a := range args {
				want[a] = true
			}
			out := cmd.OutOrStdout()
			found := 0
			for _, as := range status {
				if len(want) > 0 && !want[as.App] {
					continue
				}
				found++
				fmt.Fprintln(out, as.App)
				if len(as.Migrations) == 0 {
					fmt.Fprintln(out, " (no migrations)")
				}
				for _, m := range as.Migrations {
					mark := " "
					if m.Applied {
						mark = "X"
					}
					note := ""
					if m.Missing {
						note = "  (applied, but its files are gone)"
					}
					fmt.Fprintf(out, " [%s] %s%s\n", mark, m.Name, note)
				}
			}
			if len(want) > 0 && found < len(want) {
				return fmt.Errorf("showmigrations: no app with migrations among %s", strings.Join(args, ", "))
			}
			return nil
		},
	}
}

func (cl *commandLine) makemigrationsCmd() *cobra.Command {
	var empty, check bool
	cmd := &cobra.Command{
		Use:   "makemigrations APP [NAME]",
		Short: "Write a new migration for an app",
		Long: `Compare the app's models (its Models() method) with the schema its migrations
produce, and write the difference as a new timestamped migration into the
app's migrations folder (apps/APP/migrations): up and down SQL for Postgres and
for SQLite (.up.postgres.sql, .up.sqlite.sql, .down.postgres.sql,
.down.sqlite.sql). It detects new and deleted models, new and removed fields,
changed types and nullability, new unique columns and declared indexes, new
foreign keys. No database server is needed: the migrations are applied to a
scratch SQLite file. NAME names the migration (default: from the changes).
makemigrations APP NAME --empty writes an empty pair to fill in by hand.
makemigrations --check [APP...] writes nothing and exits with status 1 when
an app's models (every app's, without APP) have changes that no migration
reflects: for CI.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if check {
				return nil
			}
			return cobra.RangeArgs(1, 2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if check {
				if empty {
					return UsageError("makemigrations: --check and --empty cannot go together")
				}
				return checkMigrations(cmd.Context(), cl.env.Installed, out, args)
			}
			app := args[0]
			dir, err := migrationsDir(cl.env.Installed, app)
			if err != nil {
				return err
			}
			if empty {
				name := "auto"
				if len(args) == 2 {
					name = args[1]
				}
				up, down, err := migrations.MakeEmpty(dir, name, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "Migrations for %s:\n  %s\n  %s\n", app, up, down)
				fmt.Fprintf(out, "Write the SQL, then run `go run . migrate` (the files are embedded: rebuild to pick them up).\n")
				return nil
			}
			if app == migrations.FrameworkApp {
				return UsageError("makemigrations %s: the framework's migrations are written by hand: use `makemigrations %s NAME --empty`", app, app)
			}
			a, _ := core.Lookup(cl.env.Installed, app)
			if _, ok := a.(core.Modeler); !ok {
				return UsageError("makemigrations %s: the app has no models to compare: give it a Models() []any method, or write the migration by hand with `makemigrations %s NAME --empty`", app, app)
			}
			// This app's migrations from its folder on disk, so that files
			// written since the last build count.
			changes, err := modelChanges(cmd.Context(), cl.env.Installed, a, true)
			if err != nil {
				return err
			}
			if changes.Empty() {
				fmt.Fprintf(out, "No changes detected in app '%s'\n", app)
				return nil
			}
			name := changes.SuggestName()
			if len(args) == 2 {
				name = args[1]
			}
			paths, err := autodetect.WriteChanges(dir, name, time.Now(), changes)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Migrations for '%s':\n", app)
			for _, p := range paths {
				fmt.Fprintf(out, "  %s\n", p)
			}
			for _, op := range changes.Operations() {
				fmt.Fprintf(out, "    - %s\n", op)
			}
			for _, w := range changes.Warnings() {
				fmt.Fprintf(out, "WARNING: %s.\n", w)
			}
			fmt.Fprintf(out, "Review the SQL, then run `go run . migrate` (the files are embedded: rebuild to pick them up).\n")
			return nil
		},
	}
	cmd.Flags().BoolVar(&empty, "empty", false, "write an empty migration pair to fill in by hand")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit with status 1 when models have changes without a migration (for CI)")
	return cmd
}

// checkMigrations is makemigrations --check: it lists, for each app (every
// installed app when apps is empty), the operations a migration would need,
// and fails when there is any.
func checkMigrations(ctx context.Context, installed []core.App, out io.Writer, apps []string) error {
	var targets []core.App
	if len(apps) == 0 {
		targets = installed
	}
	for _, name := range apps {
		a, ok := core.Lookup(installed, name)
		if !ok {
			_, err := migrationsDir(installed, name) // the usage error naming the installed apps
			return err
		}
		if _, ok := a.(core.Modeler); !ok {
			return UsageError("makemigrations --check %s: the app has no models to compare (no Models() method)", name)
		}
		targets = append(targets, a)
	}
	var missing []string
	for _, a := range targets {
		changes, err := modelChanges(ctx, installed, a, true)
		if err != nil {
			return err
		}
		if changes.Empty() {
			continue
		}
		missing = append(missing, a.Name())
		fmt.Fprintf(out, "Migrations for '%s' would be written:\n", a.Name())
		for _, op := range changes.Operations() {
			fmt.Fprintf(out, "    - %s\n", op)
		}
	}
	if len(missing) == 0 {
		fmt.Fprintln(out, "No changes detected")
		return nil
	}
	return fmt.Errorf("makemigrations --check: %s", unmigratedMessage(missing))
}

// migrationsDir finds the folder an app's migrations live in, relative to the
// project root (the working directory).
func migrationsDir(installed []core.App, app string) (string, error) {
	if app == migrations.FrameworkApp {
		return filepath.Join("migrations", "sql"), nil
	}
	a, ok := core.Lookup(installed, app)
	if !ok {
		var names []string
		for _, a := range installed {
			names = append(names, a.Name())
		}
		return "", UsageError("no installed app named %q (installed: %s)", app, strings.Join(names, ", "))
	}
	if _, ok := a.(core.Migrator); !ok {
		return "", fmt.Errorf("app %s has no migrations folder: give it a Migrations() fs.FS method embedding apps/%s/migrations", app, app)
	}
	dir := filepath.Join("apps", app, "migrations")
	if _, err := os.Stat(filepath.Join("apps", app)); err != nil {
		return "", fmt.Errorf("apps/%s not found: run makemigrations from the project's root folder", app)
	}
	return dir, nil
}

func (cl *commandLine) settingsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "settings",
		Short: "Print the effective settings and where each value came from",
		Long:  "Print every setting, secrets masked, with the layer it came from: common.toml, the SETTINGS layer, .env or the environment (like Django's diffsettings --all).",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := cl.settings()
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), st.String())
			return nil
		},
	}
}

func (cl *commandLine) dbshellCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dbshell",
		Short: "Open the database's command-line client (psql or sqlite3)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := cl.settings()
			if err != nil {
				return err
			}
			cfg, err := db.ParseURL(st.DatabaseURL)
			if err != nil {
				return err
			}
			client, clientArgs := "psql", []string{st.DatabaseURL}
			if cfg.Path != "" {
				client, clientArgs = "sqlite3", []string{cfg.Path}
			}
			path, err := exec.LookPath(client)
			if err != nil {
				return fmt.Errorf("dbshell: %s is not installed or not on PATH", client)
			}
			c := exec.CommandContext(cmd.Context(), path, clientArgs...)
			c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			return c.Run()
		},
	}
}
