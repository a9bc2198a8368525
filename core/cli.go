package core

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Settings are the options settings are loaded with (Environ, DotEnv, Layer).
	Settings settings.Options
	// Options are passed to New when a command builds the project.
	Options Options
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Main runs the command line with the process's arguments and exits with its
// status. main.go calls it.
func Main() {
	os.Exit(Execute(context.Background(), os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

// Execute runs one command and returns the exit status: 0 on success, 1 on
// failure, 2 on a usage error such as an unknown command.
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
	cl := &commandLine{env: env}
	defer cl.close()
	root := cl.root()
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
	env     Env
	mu      sync.Mutex
	st      *settings.Settings
	project *Project
}

func (cl *commandLine) settings() (*settings.Settings, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.st != nil {
		return cl.st, nil
	}
	st, err := LoadSettings(cl.env.Settings)
	if err != nil {
		return nil, err
	}
	cl.st = st
	return st, nil
}

func (cl *commandLine) load(ctx context.Context) (*Project, error) {
	st, err := cl.settings()
	if err != nil {
		return nil, err
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.project != nil {
		return cl.project, nil
	}
	p, err := New(ctx, st, cl.env.Options)
	if err != nil {
		return nil, err
	}
	cl.project = p
	return p, nil
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
		cl.startappCmd(),
		cl.routesCmd(),
	)
	root.AddCommand(queue.Commands(func(ctx context.Context) (*queue.Queue, error) {
		p, err := cl.load(ctx)
		if err != nil {
			return nil, err
		}
		return p.Queue, nil
	})...)
	seen := map[string]string{}
	for _, c := range root.Commands() {
		seen[c.Name()] = "core"
	}
	for _, app := range Apps() {
		cmdr, ok := app.(Commander)
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
