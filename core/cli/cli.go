package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"manouche/core"
	"manouche/core/memlimit"
	"manouche/core/version"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"manouche/core/queue"
	"manouche/settings"
)

// Env is what the command line runs in: its arguments' environment and
// streams. Tests build one to run commands in-process.
type Env struct {
	// Installed is the installed list, apps.Installed (apps/apps.go); it
	// becomes Options.Apps when Options.Apps is nil.
	Installed []core.App
	// Settings are the options settings are loaded with (Environ, DotEnv, Layer).
	Settings settings.Options
	// Extensions add commands beside the core's (main.go passes the
	// generators, core/cli/generate).
	Extensions []Extension
	// Options are passed to core.New when a command builds the project.
	Options core.Options
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Extension adds commands to the command line, given the installed list and
// the project loader: generate.Commands adds startapp.
type Extension func(installed []core.App, load core.Loader) []*cobra.Command

// Main runs the command line with the process's arguments and exits with its
// status. main.go calls it with apps.Installed and the generators.
func Main(installed []core.App, ext ...Extension) {
	os.Exit(Execute(context.Background(), os.Args[1:], Env{Installed: installed, Extensions: ext, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

// Execute runs one command and returns the exit status: 0 on success, 1 on
// failure, 2 on a usage error such as an unknown command. A bad installed
// list (core.CheckApps) fails every command, before it runs.
func Execute(ctx context.Context, args []string, env Env) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	if env.Options.Apps == nil {
		env.Options.Apps = env.Installed
	}
	if err := core.CheckApps(env.Options.Apps); err != nil {
		fmt.Fprintf(env.Stderr, "Error: %s\n", err)
		return 1
	}
	env.Installed = env.Options.Apps
	cl := &commandLine{env: env}
	defer cl.close()
	root := cl.root()
	// The command's name, for the project's first log line.
	if c, _, err := root.Find(args); err == nil && c != root {
		cl.command = strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
	}
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	msg := err.Error()
	var usage usageError
	if strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") || strings.HasPrefix(msg, "unknown shorthand flag") ||
		errors.As(err, &usage) {
		fmt.Fprintf(env.Stderr, "Error: %s\n", strings.TrimRight(msg, "\n"))
		if strings.HasPrefix(msg, "unknown command") {
			fmt.Fprintf(env.Stderr, "\nAvailable commands: %s\nRun '%s --help' for more.\n", strings.Join(commandNames(root), ", "), root.Name())
		}
		return 2
	}
	fmt.Fprintf(env.Stderr, "Error: %s\n", msg)
	return 1
}

// usageError is a command used the wrong way (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// UsageError reports that a command was called the wrong way; the command line
// exits with status 2.
func UsageError(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func commandNames(root *cobra.Command) []string {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	sort.Strings(names)
	return names
}

// commandLine holds what the commands of one run share: the settings and the
// project, each built at most once.
type commandLine struct {
	env Env
	// command is the command being run ("runserver", "mailqueue failed").
	command string
	mu      sync.Mutex
	st      *settings.Settings
	project *core.Project
}

func (cl *commandLine) settings() (*settings.Settings, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.st != nil {
		return cl.st, nil
	}
	st, err := core.LoadSettings(cl.env.Settings, cl.env.Installed)
	if err != nil {
		return nil, err
	}
	cl.st = st
	return st, nil
}

func (cl *commandLine) load(ctx context.Context) (*core.Project, error) {
	st, err := cl.settings()
	if err != nil {
		return nil, err
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.project != nil {
		return cl.project, nil
	}
	opts := cl.env.Options
	if opts.Command == "" {
		opts.Command = cmp.Or(cl.command, "manouche")
	}
	p, err := core.New(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	cl.project = p
	// Without GOMEMLIMIT, a soft memory limit under the container's (a
	// dyno's 512 MB): Go does not read the cgroup by itself.
	memoryLimitOnce.Do(func() { memlimit.Apply(memlimit.DefaultCgroupRoot, p.Log) })
	return p, nil
}

// memoryLimitOnce applies the container's memory limit once per process.
var memoryLimitOnce sync.Once

// versionCmd prints the build's version (core/version).
func (cl *commandLine) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this build (the commit it was built from)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "manouche %s\n", version.Get())
			return nil
		},
	}
}

func (cl *commandLine) close() {
	if cl.project != nil {
		_ = cl.project.Close()
	}
}

func (cl *commandLine) root() *cobra.Command {
	name := filepath.Base(os.Args[0])
	if name == "" || strings.HasSuffix(name, ".test") {
		name = "manouche"
	}
	root := &cobra.Command{
		Use:           name,
		Short:         "Manouche: Django's way of building a backend, in Go",
		Long:          "Manouche runs and manages this project: the web server, the database and its migrations, the email worker, and each app's own commands.\n\nSettings come from SETTINGS (development, production, testing, or any settings/NAME.toml), .env and the environment; `settings` prints them.",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		cl.runserverCmd(),
		cl.migrateCmd(),
		cl.showmigrationsCmd(),
		cl.makemigrationsCmd(),
		cl.settingsCmd(),
		cl.checkCmd(),
		cl.dbshellCmd(),
		cl.routesCmd(),
		cl.openapiCmd(),
		cl.versionCmd(),
		cl.dumpdataCmd(),
		cl.loaddataCmd(),
		cl.fuzzapiCmd(),
	)
	root.AddCommand(queue.Commands(func(ctx context.Context) (*queue.Queue, error) {
		p, err := cl.load(ctx)
		if err != nil {
			return nil, err
		}
		return p.Queue, nil
	})...)
	for _, ext := range cl.env.Extensions {
		root.AddCommand(ext(cl.env.Installed, cl.load)...)
	}
	seen := map[string]string{}
	for _, c := range root.Commands() {
		seen[c.Name()] = "core"
	}
	for _, app := range cl.env.Installed {
		cmdr, ok := app.(core.Commander)
		if !ok {
			continue
		}
		for _, c := range cmdr.Commands(cl.load) {
			if owner, dup := seen[c.Name()]; dup {
				panic(fmt.Sprintf("app %s: command %q is already provided by %s", app.Name(), c.Name(), owner))
			}
			seen[c.Name()] = app.Name()
			root.AddCommand(c)
		}
	}
	usageErrors(root)
	return root
}

// usageErrors makes a wrong number of arguments and a bad flag value usage
// errors (exit status 2) on cmd and every command below it, as for an unknown
// command or flag.
func usageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err.Error()}
			}
			return nil
		}
	}
	for _, c := range cmd.Commands() {
		usageErrors(c)
	}
}
