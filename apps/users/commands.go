package users

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"manouche/core"
	"manouche/core/api"
)

// Commands adds createsuperuser and changepassword.
func (App) Commands(load core.Loader) []*cobra.Command {
	return []*cobra.Command{createsuperuserCmd(load), changepasswordCmd(load)}
}

func createsuperuserCmd(load core.Loader) *cobra.Command {
	var noInput bool
	var email string
	cmd := &cobra.Command{
		Use:   "createsuperuser",
		Short: "Create a superuser (staff with every permission)",
		Long: `Create a superuser: an active staff user with every permission, who can log in
to /admin and to the API. Interactive by default; with --noinput it reads
SUPERUSER_EMAIL and SUPERUSER_PASSWORD from the environment (for scripts and
Heroku's release phase).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := bufio.NewReader(cmd.InOrStdin())
			out := cmd.OutOrStdout()
			var plain string
			if noInput {
				if email == "" {
					email = os.Getenv("SUPERUSER_EMAIL")
				}
				plain = os.Getenv("SUPERUSER_PASSWORD")
				var missing []string
				if email == "" {
					missing = append(missing, "SUPERUSER_EMAIL")
				}
				if plain == "" {
					missing = append(missing, "SUPERUSER_PASSWORD")
				}
				if len(missing) > 0 {
					return fmt.Errorf("createsuperuser --noinput: set %s", strings.Join(missing, " and "))
				}
			} else {
				var err error
				if email == "" {
					if email, err = prompt(in, out, "Email: "); err != nil {
						return err
					}
				}
				if plain, err = askNewPassword(in, out); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			p, err := load(ctx)
			if err != nil {
				return err
			}
			u := &User{Email: strings.TrimSpace(email), IsActive: true, IsStaff: true, IsSuperuser: true}
			if err := api.Validate(&struct {
				Email string `json:"email" validate:"required,max=254,email"`
			}{u.Email}); err != nil {
				return fmt.Errorf("createsuperuser: %q is not a valid email address", email)
			}
			if msgs := ValidatePassword(plain, u); len(msgs) > 0 {
				return fmt.Errorf("createsuperuser: %s", strings.Join(msgs, " "))
			}
			if err := NewAccounts(p).CreateUser(ctx, p.DB, u, plain); err != nil {
				var apiErr *api.Error
				if errors.As(err, &apiErr) {
					return fmt.Errorf("createsuperuser: a user with the email %s already exists", u.Email)
				}
				return err
			}
			fmt.Fprintf(out, "Superuser %s created successfully.\n", u.Email)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noInput, "noinput", false, "do not prompt: read SUPERUSER_EMAIL and SUPERUSER_PASSWORD from the environment")
	cmd.Flags().StringVar(&email, "email", "", "the superuser's email (instead of prompting or SUPERUSER_EMAIL)")
	return cmd
}

func changepasswordCmd(load core.Loader) *cobra.Command {
	return &cobra.Command{
		Use:   "changepassword EMAIL",
		Short: "Change a user's password (and sign them out everywhere)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := load(ctx)
			if err != nil {
				return err
			}
			accounts := NewAccounts(p)
			u, err := accounts.ByEmail(ctx, args[0])
			if err != nil {
				return err
			}
			if u == nil {
				return fmt.Errorf("changepassword: no user with the email %s", args[0])
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Changing password for user %s\n", u.Email)
			in := bufio.NewReader(cmd.InOrStdin())
			plain, err := askNewPassword(in, out)
			if err != nil {
				return err
			}
			if msgs := ValidatePassword(plain, u); len(msgs) > 0 {
				return fmt.Errorf("changepassword: %s", strings.Join(msgs, " "))
			}
			if err := accounts.SetPassword(ctx, u, plain, ""); err != nil {
				return err
			}
			fmt.Fprintf(out, "Password changed successfully for user %s.\n", u.Email)
			return nil
		},
	}
}

func askNewPassword(in *bufio.Reader, out io.Writer) (string, error) {
	first, err := prompt(in, out, "Password: ")
	if err != nil {
		return "", err
	}
	second, err := prompt(in, out, "Password (again): ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("passwords do not match")
	}
	if first == "" {
		return "", errors.New("a blank password is not allowed")
	}
	return first, nil
}

func prompt(in *bufio.Reader, out io.Writer, label string) (string, error) {
	fmt.Fprint(out, label)
	line, err := in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no input: run it in a terminal, or use --noinput")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
