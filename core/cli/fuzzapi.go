package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"manouche/core/fuzzapi"
)

// errFindings makes fuzzapi exit 1 after its report when it found anything.
var errFindings = errors.New("fuzzapi: findings (see the report above)")

func (cl *commandLine) fuzzapiCmd() *cobra.Command {
	var opts fuzzapi.Options
	var seed int64
	cmd := &cobra.Command{
		Use:   "fuzzapi URL",
		Short: "Fuzz a running API from its OpenAPI document; report 5xx, undeclared answers and slow requests",
		Long: `Fuzz the API served at URL from its OpenAPI document (URL/api/openapi.json):
every operation gets generated requests, valid per the document and invalid
(wrong types, missing required fields, huge strings, odd unicode, unknown ids,
bad, revoked and malformed tokens, bad content types, malformed bodies).
Reported: any 5xx; any answer the document does not declare (status, content
type, body schema; fields the schema does not list too); any request slower
than --slow (or unanswered within --timeout). The report lists the requests
per operation and their statuses, then each finding with a curl command that
repeats it; the exit status is 1 when there is any finding.

It needs only the document, so it runs against any server, this project's or
not. Operations that need a token get one with --token, --register (signs up
a new user through POST /api/auth/register) or --email and --password (logs
in through POST /api/auth/login); the fuzzer logs in again when its own
requests revoke the token, and sends the real token to an operation that
could remove its user (DELETE without an id, such as /api/me) only at the
end. Throttled operations (429) rest for their Retry-After.

--seed makes a run reproducible (exactly so with --concurrency 1). Point it
at a development or staging server, never production: it creates rows.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.BaseURL = args[0]
			opts.Seed = uint64(seed)
			opts.Progress = cmd.ErrOrStderr()
			rep, err := fuzzapi.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			rep.Write(cmd.OutOrStdout())
			if rep.Failed() {
				return errFindings
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&opts.Requests, "requests", "n", 10000, "how many requests to send (the budget)")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "the longest a request may wait for its answer")
	fl.DurationVar(&opts.Slow, "slow", 2*time.Second, "an answer slower than this is a finding")
	fl.Int64Var(&seed, "seed", 1, "the random seed: the same seed sends the same requests")
	fl.IntVar(&opts.Concurrency, "concurrency", 4, "requests in flight at once")
	fl.StringVar(&opts.Token, "token", "", "a bearer token for the operations that need one")
	fl.BoolVar(&opts.Register, "register", false, "sign up a new user through the API and use its token")
	fl.StringVar(&opts.Email, "email", "", "log in as this user (with --password) for a token")
	fl.StringVar(&opts.Password, "password", "", "the password of --email")
	fl.StringVar(&opts.BodiesDir, "bodies", "", "where to write request bodies too big or binary for a curl command line (default: a new temporary folder)")
	return cmd
}
