// Package generate is the code generators' commands (startapp): main.go
// links them into the command line with cli.Main(apps.Installed,
// generate.Commands), so that nothing else (the core, the test kit) links the
// generators.
package generate

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"manouche/core"
	"manouche/core/cli"
	"manouche/core/scaffold"
)

// Commands are the generator commands, for cli.Main and cli.Env.Extensions.
func Commands(installed []core.App, _ core.Loader) []*cobra.Command {
	return []*cobra.Command{startappCmd(installed)}
}

func startappCmd(installedApps []core.App) *cobra.Command {
	var model, fields string
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
				Root: ".", App: args[0], Model: model, Fields: fields, Installed: installed,
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
			if len(res.Routes) > 0 {
				fmt.Fprintln(out, "Routes (a signed-in user's bearer token required):")
				for _, r := range res.Routes {
					fmt.Fprintf(out, "  %s\n", r)
				}
			}
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
	return cmd
}
