package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"manouche/core/server"
)

func (cl *commandLine) routesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "routes",
		Short: "List every route: method, path, app, handler and authentication",
		Long: `List every route of the web server, in path order: its method, its path, the
app that added it, the handler that answers and the authentication it needs
("token": a bearer token, RequireAuth; "staff session": the admin's login;
"none"). Like Rails' routes and django-extensions' show_urls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			p, err := cl.load(cmd.Context())
			if err != nil {
				return err
			}
			defer func() {
				// An app's Routes panics on a misconfiguration (the admin on an
				// unmigrated database): report it as the error it is.
				if r := recover(); r != nil {
					err = fmt.Errorf("routes: %v (has `go run . migrate` run?)", r)
				}
			}()
			srv, err := server.New(p)
			if err != nil {
				return err
			}
			return server.WriteRoutes(cmd.OutOrStdout(), srv.Routes())
		},
	}
}
