package users

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

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
to /admin and to the API. Interactive by default: the password is asked twice,
not shown on a terminal, and checked against the password validators (a weak
one can still be used, after a confirmation). With --noinput it reads
SUPERUSER_EMAIL and SUPERUSER_PASSWORD from the environment (for scripts and
Heroku's release phase).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := load(ctx)
			if err != nil {
				return err
			}
			accounts := NewAccounts(p)
			con := newConsole(cmd)
			u := &User{IsActive: true, IsStaff: true, IsSuperuser: true}
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
				u.Email = strings.TrimSpace(email)
				if err := checkNewEmail(ctx, accounts, u.Email); err != nil {
					return err
				}
				if msgs := ValidatePassword(plain, u); len(msgs) > 0 {
					return fmt.Errorf("createsuperuser: %s", strings.Join(msgs, " "))
				}
			} else {
				for {
					if email == "" {
						if email, err = con.line("Email: "); err != nil {
							return err
						}
					}
					u.Email = strings.TrimSpace(email)
					err := checkNewEmail(ctx, accounts, u.Email)
					if err == nil {
						break
					}
					// A wrong email given on the command line is not asked again.
					if cmd.Flags().Changed("email") {
						return err
					}
					fmt.Fprintf(con.errOut, "Error: %s\n", strings.TrimPrefix(err.Error(), "createsuperuser: "))
					email = ""
				}
				if plain, err = con.newPassword(u); err != nil {
					return err
				}
			}
			if err := accounts.CreateUser(ctx, p.DB, u, plain); err != nil {
				var apiErr *api.Error
				if errors.As(err, &apiErr) {
					return fmt.Errorf("createsuperuser: a user with the email %s already exists", u.Email)
				}
				return err
			}
			fmt.Fprintf(con.out, "Superuser %s created successfully.\n", u.Email)
			return nil
		},
	}
	cmd.Flags().BoolVar(&noInput, "noinput", false, "do not prompt: read SUPERUSER_EMAIL and SUPERUSER_PASSWORD from the environment")
	cmd.Flags().StringVar(&email, "email", "", "the superuser's email (instead of prompting or SUPERUSER_EMAIL)")
	return cmd
}

// checkNewEmail refuses an invalid email and one a user already has.
func checkNewEmail(ctx context.Context, accounts *Accounts, email string) error {
	if err := api.Validate(&struct {
		Email string `json:"email" validate:"required,max=254,email"`
	}{email}); err != nil {
		return fmt.Errorf("createsuperuser: %q is not a valid email address", email)
	}
	existing, err := accounts.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	if existing != nil {
		return fmt.Errorf("createsuperuser: a user with the email %s already exists", email)
	}
	return nil
}

func changepasswordCmd(load core.Loader) *cobra.Command {
	return &cobra.Command{
		Use:   "changepassword EMAIL",
		Short: "Change a user's password (and sign them out everywhere)",
		Long: `Change a user's password and revoke their tokens. The password is asked twice,
not shown on a terminal, and checked against the password validators (a weak
one can still be used, after a confirmation).`,
		Args: cobra.ExactArgs(1),
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
			con := newConsole(cmd)
			fmt.Fprintf(con.out, "Changing password for user %s\n", u.Email)
			plain, err := con.newPassword(u)
			if err != nil {
				return err
			}
			if err := accounts.SetPassword(ctx, u, plain, ""); err != nil {
				return err
			}
			fmt.Fprintf(con.out, "Password changed successfully for user %s.\n", u.Email)
			return nil
		},
	}
}

// console is what an interactive command talks to: its input, read line by
// line, with passwords read without echo when the input is a terminal.
type console struct {
	in     *bufio.Reader
	out    io.Writer
	errOut io.Writer
	// fd is the terminal's file descriptor, or -1 when the input is not one
	// (a pipe, a file, a test's reader): passwords are then read as lines.
	fd int
}

func newConsole(cmd *cobra.Command) *console {
	c := &console{in: bufio.NewReader(cmd.InOrStdin()), out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), fd: -1}
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.fd = int(f.Fd())
	}
	return c
}

// errNoInput is the error for an input that ends before the questions do.
var errNoInput = errors.New("no input: run it in a terminal, or use --noinput")

// line asks a question and returns the answer.
func (c *console) line(label string) (string, error) {
	fmt.Fprint(c.out, label)
	line, err := c.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errNoInput
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// password asks for a password, without echo on a terminal.
func (c *console) password(label string) (string, error) {
	if c.fd < 0 {
		return c.line(label)
	}
	fmt.Fprint(c.out, label)
	b, err := term.ReadPassword(c.fd)
	fmt.Fprintln(c.out)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", errNoInput
		}
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// newPassword asks for a new password for u the way Django does: twice,
// again after a mismatch or a blank one; one the validators refuse is
// explained, and used only if the user confirms.
func (c *console) newPassword(u *User) (string, error) {
	for {
		first, err := c.password("Password: ")
		if err != nil {
			return "", err
		}
		second, err := c.password("Password (again): ")
		if err != nil {
			return "", err
		}
		if first != second {
			fmt.Fprintln(c.errOut, "Error: Your passwords didn't match.")
			continue
		}
		if strings.TrimSpace(first) == "" {
			fmt.Fprintln(c.errOut, "Error: Blank passwords aren't allowed.")
			continue
		}
		msgs := ValidatePassword(first, u)
		if len(msgs) == 0 {
			return first, nil
		}
		fmt.Fprintln(c.errOut, strings.Join(msgs, "\n"))
		answer, err := c.line("Bypass password validation and create user anyway? [y/N]: ")
		if err != nil {
			return "", err
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a == "y" || a == "yes" {
			return first, nil
		}
	}
}
