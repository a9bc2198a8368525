package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"manouche/core/server"
)

func (cl *commandLine) openapiCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Write the API's OpenAPI 3.1 document (stdout, or -o FILE)",
		Long: `Write the OpenAPI 3.1 document of the JSON API, built from the registered
routes and their descriptions (the one GET /api/openapi.json serves), to stdout
or to FILE. Generate a client from it, such as a Swift one with
swift-openapi-generator. Each /api route registered without a description is
named on stderr (it is in the document, marked x-undescribed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			p, err := cl.load(cmd.Context())
			if err != nil {
				return err
			}
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("openapi: %v (has `go run . migrate` run?)", r)
				}
			}()
			srv, err := server.New(p)
			if err != nil {
				return err
			}
			doc, undescribed, err := srv.OpenAPI()
			if err != nil {
				return err
			}
			for _, r := range undescribed {
				fmt.Fprintf(cmd.ErrOrStderr(), "openapi: %s %s (app %s) has no description: register it with openapi.Describe\n", r.Method, r.Path, r.App)
			}
			b, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return fmt.Errorf("openapi: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "openapi: wrote %s (%d bytes, %d paths)\n", out, len(b), len(doc.Paths))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the document to this file instead of stdout")
	return cmd
}
