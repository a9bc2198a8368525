// Package generate is the code generators' commands (startapp): main.go
// links them into the command line with cli.Main(apps.Installed,
// generate.Commands), so that nothing else (the core, the test kit) links the
// generators.
package generate

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"manouche/core"
	"manouche/core/cli"
	"manouche/core/scaffold"
)

// Commands are the generator commands, for cli.Main and cli.Env.Extensions.
func Commands(installed []core.App, _ core.Loader) []*cobra.Command {
	return []*cobra.Command{startappCmd(installed), addmodelCmd(installed)}
}

func startappCmd(installedApps []core.App) *cobra.Command {
	var model, fields, owner string
	cmd := &cobra.Command{
		Use:   "startapp NAME [--model Model --fields \"name:type ...\"]",
		Short: "Create a new app in apps/NAME and install it",
		Long: `Create apps/NAME with the files every app has (registration and routes,
model, admin pages, migrations and templates folders, a test) and add it to
apps/apps.go. NAME is a Go package name: lower-case, not a Go keyword, not a
standard library package, not an installed app or an existing folder.

With --model and --fields it also writes the model, its first migration
(Postgres and SQLite), the CRUD JSON API (GET/POST /api/NAME/<models>,
GET/PATCH/DELETE /api/NAME/<models>/{id}, PUT .../{id}/<file field>), its
admin pages and tests of every route. Fields are name:type, separated by
spaces; types: ` + strings.Join(scaffold.KindNames(), ", ") + `.
string takes a maximum length (title:string:120, default 255); fk names a
model of an installed app (author:fk:users.User).

--owner gives each row an owner (a foreign key to users.User) set from the
signed-in user who creates it, never from the body: anyone signed in reads,
only the owner (or a user holding NAME.change_<model>, granted in the admin)
changes or deletes. --owner=private: only the owner even reads, and lists show
each user their own rows. Without --owner any signed-in user reads and
changes any row; the generated view set names its policy (package core/perm).

Nothing existing is overwritten; a refused command writes nothing.

  go run . startapp blog --model Post --fields "title:string:120 body:text published:bool"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.UsageError("startapp takes the app's NAME, e.g. `startapp blog`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var installed []string
			for _, a := range installedApps {
				installed = append(installed, a.Name())
			}
			res, err := scaffold.Generate(scaffold.Options{
				Root: ".", App: args[0], Model: model, Fields: fields, Owner: owner, Installed: installed,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created app %s:\n", args[0])
			for _, f := range res.Created {
				fmt.Fprintf(out, "  %s\n", f)
			}
			for _, f := range res.Modified {
				fmt.Fprintf(out, "Installed it in %s.\n", f)
			}
			printRoutes(out, res.Routes)
			next := [][2]string{
				{"go run . migrate", "create its tables"},
				{"go test ./apps/" + args[0] + "/...", "run its tests"},
				{"go run . runserver", "serve it"},
			}
			if model == "" {
				next = append([][2]string{{"add apps/" + args[0] + "/NAME.go, list it in app.go", "a model: a bun struct and a rest.ModelViewSet"},
					{"go run . makemigrations " + args[0], "write their migration"}}, next...)
			}
			fmt.Fprintln(out, "\nNext:")
			w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
			for _, n := range next {
				fmt.Fprintf(w, "  %s\t# %s\n", n[0], n[1])
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "the model's name, in CamelCase (Post)")
	cmd.Flags().StringVar(&fields, "fields", "", `the model's fields, "name:type ..." (needs --model)`)
	ownerFlag(cmd, &owner)
	return cmd
}

// ownerFlag declares --owner: bare, "public"; --owner=private.
func ownerFlag(cmd *cobra.Command, owner *string) {
	cmd.Flags().StringVar(owner, "owner", "", "give rows an owner: --owner (others read) or --owner=private (only the owner reads)")
	cmd.Flags().Lookup("owner").NoOptDefVal = scaffold.OwnerPublic
}

func printRoutes(out io.Writer, routes []string) {
	if len(routes) > 0 {
		fmt.Fprintln(out, "Routes (a signed-in user's bearer token required):")
		for _, r := range routes {
			fmt.Fprintf(out, "  %s\n", r)
		}
	}
}

func addmodelCmd(installedApps []core.App) *cobra.Command {
	var fields, owner string
	cmd := &cobra.Command{
		Use:   "addmodel APP MODEL --fields \"name:type ...\" [--owner[=private]]",
		Short: "Add a model to an existing app",
		Long: `Add a model to an installed app, generated or written by hand: its file
(apps/APP/<models>.go: the struct, its API and admin declaration), its tests,
its migration for Postgres and SQLite (written by the same autodetector as
makemigrations, so the app's other pending model changes are refused first),
and its entry in the app's resources list in app.go, plus the app in
DependsOn when a foreign key points to an app it does not depend on yet.
Fields and --owner are as for startapp. Nothing else is touched; a model the
command cannot add safely is refused with nothing written.

  go run . addmodel blog Comment --fields "body:text post:fk:blog.Post" --owner`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return cli.UsageError("addmodel takes the APP and the MODEL, e.g. `addmodel blog Comment --fields \"body:text\"`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var installed []string
			for _, a := range installedApps {
				installed = append(installed, a.Name())
			}
			if _, ok := core.Lookup(installedApps, args[0]); ok {
				ops, err := cli.PendingModelChanges(cmd.Context(), installedApps, args[0])
				if err != nil {
					return err
				}
				if len(ops) > 0 {
					return fmt.Errorf("addmodel: app %s has model changes no migration reflects (%s): run `go run . makemigrations %s` first, so that the new model's migration holds only its table", args[0], strings.Join(ops, "; "), args[0])
				}
			}
			res, err := scaffold.AddModel(scaffold.Options{
				Root: ".", App: args[0], Model: args[1], Fields: fields, Owner: owner, Installed: installed,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Added %s to app %s:\n", args[1], args[0])
			for _, f := range res.Created {
				fmt.Fprintf(out, "  %s\n", f)
			}
			for _, f := range res.Modified {
				fmt.Fprintf(out, "Listed it in %s.\n", f)
			}
			printRoutes(out, res.Routes)
			fmt.Fprintln(out, "\nNext:")
			w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
			for _, n := range [][2]string{
				{"go run . migrate", "create its table"},
				{"go test ./apps/" + args[0] + "/...", "run its tests"},
			} {
				fmt.Fprintf(w, "  %s\t# %s\n", n[0], n[1])
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&fields, "fields", "", `the model's fields, "name:type ..."`)
	ownerFlag(cmd, &owner)
	return cmd
}
