package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"manouche/core/fixtures"
)

func (cl *commandLine) dumpdataCmd() *cobra.Command {
	var indent int
	var output string
	cmd := &cobra.Command{
		Use:   "dumpdata [APP[.Model] ...]",
		Short: "Write the rows of installed models as JSON (a fixture for loaddata)",
		Long: `Write the rows of the installed apps' models (all of them, an app's, or one
model's: users, users.user) to stdout or --output as a JSON array of
{"model", "pk", "fields"} objects, Django's format, ordered by model and
primary key. Values are written as stored: password hashes stay hashes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := fixtures.Models(cl.env.Installed)
			if err != nil {
				return err
			}
			ms, err := fixtures.Select(all, args)
			if err != nil {
				return UsageError("dumpdata: %v", err)
			}
			if indent < 0 {
				return UsageError("dumpdata: --indent must not be negative")
			}
			p, err := cl.load(cmd.Context())
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return fmt.Errorf("dumpdata: %w", err)
				}
				defer f.Close()
				w = f
			}
			if err := fixtures.Dump(cmd.Context(), p.DB, ms, w, indent); err != nil {
				return err
			}
			if f, ok := w.(*os.File); ok && output != "" {
				return f.Close()
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&indent, "indent", 0, "indent the JSON by this many spaces (0: one object per line)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

func (cl *commandLine) loaddataCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "loaddata FILE...",
		Short: "Load fixtures (JSON from dumpdata) into the database, in one transaction",
		Long: `Load the objects of one or more fixture files (dumpdata's JSON; - reads
stdin) in one transaction: an object whose primary key exists updates its
row, others are inserted. Objects may come in any order. Anything wrong (an
unknown model or field, a value of the wrong type, a row the database
refuses) loads nothing, and the message names the object and the field.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := fixtures.Models(cl.env.Installed)
			if err != nil {
				return err
			}
			files := map[string][]byte{}
			for _, name := range args {
				var data []byte
				if name == "-" {
					data, err = io.ReadAll(cl.env.Stdin)
				} else {
					data, err = os.ReadFile(name)
				}
				if err != nil {
					return UsageError("loaddata: %v", err)
				}
				files[name] = data
			}
			p, err := cl.load(cmd.Context())
			if err != nil {
				return err
			}
			n, err := fixtures.Load(cmd.Context(), p.DB, ms, files, args)
			if err != nil {
				return fmt.Errorf("loaddata: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Installed %d object(s) from %d fixture(s)\n", n, len(args))
			return nil
		},
	}
}
