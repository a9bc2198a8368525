package users

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/api"
)

// Me is a user as the API shows it to its owner (GET and PATCH /api/me,
// the avatar routes).
type Me struct {
	ID        string  `json:"id" format:"uuid"`
	Email     string  `json:"email"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	AvatarURL *string `json:"avatar_url" format:"uri" doc:"The absolute URL of the avatar, or null."`
}

// AuthResponse is the answer to register and login: the user and a new
// bearer token.
type AuthResponse struct {
	ID        string `json:"id" format:"uuid"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	AuthToken string `json:"auth_token"`
}

func authBody(u *User, token string) AuthResponse {
	return AuthResponse{ID: u.ID.String(), Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, AuthToken: token}
}

// RegisterRequest is the body of POST /api/auth/register.
type RegisterRequest struct {
	Email     string `json:"email" validate:"required,max=254,email"`
	Password  string `json:"password" validate:"required,max=4096" trim:"false"`
	FirstName string `json:"first_name" validate:"max=120"`
	LastName  string `json:"last_name" validate:"max=120"`
}

// LoginRequest is the body of POST /api/auth/login.
type LoginRequest struct {
	Email    string `json:"email" validate:"required,max=254"`
	Password string `json:"password" validate:"required,max=4096" trim:"false"`
}

// PasswordChangeRequest is the body of POST /api/auth/password_change.
type PasswordChangeRequest struct {
	CurrentPassword string `json:"current_password" validate:"required,max=4096" trim:"false"`
	NewPassword     string `json:"new_password" validate:"required,max=4096" trim:"false"`
}

// PasswordResetRequest is the body of POST /api/auth/password_reset.
type PasswordResetRequest struct {
	Email string `json:"email" validate:"required,max=254,email"`
}

// PasswordResetConfirmRequest is the body of POST
// /api/auth/password_reset_confirm.
type PasswordResetConfirmRequest struct {
	Token       string `json:"token" validate:"required,max=200"`
	NewPassword string `json:"new_password" validate:"required,max=4096" trim:"false"`
}

// MeUpdate is the body of PATCH /api/me: the fields sent are changed;
// unknown and read-only ones are ignored.
type MeUpdate struct {
	Email     *string `json:"email" validate:"omitnil,required,max=254,email"`
	FirstName *string `json:"first_name" validate:"omitnil,max=120"`
	LastName  *string `json:"last_name" validate:"omitnil,max=120"`
}

// Message is an answer that only says something (password_reset's).
type Message struct {
	Message string `json:"message"`
}

// msgResetSent is password_reset's answer, whether the email has an account or not.
const msgResetSent = "Further instructions will be sent to the email if it exists"

// handlers holds what the routes of one project share.
type handlers struct {
	p        *core.Project
	accounts *Accounts
}

func (h *handlers) register(c *fiber.Ctx) error {
	var in RegisterRequest
	if err := api.Bind(c, &in); err != nil {
		return err
	}
	u := &User{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, IsActive: true}
	if msgs := ValidatePassword(in.Password, u); len(msgs) > 0 {
		return fieldErrors("password", msgs)
	}
	ctx := c.UserContext()
	if existing, err := h.accounts.ByEmail(ctx, in.Email); err != nil {
		return err
	} else if existing != nil {
		return api.Validation(api.FieldErr("email", msgEmailTaken))
	}
	now := time.Now().UTC()
	u.LastLogin = &now
	// Hash before the transaction: on SQLite a write transaction holds the
	// database's one write lock, and concurrent registrations would wait on
	// each other's hashing (argon2id) past the busy timeout.
	hash, err := hashPassword(in.Password)
	if err != nil {
		return err
	}
	u.Password = hash
	tx, err := h.p.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := h.accounts.CreateUser(ctx, tx, u, ""); err != nil {
		return err
	}
	token, err := h.accounts.IssueToken(ctx, tx, u.ID)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		if isUnique(err) {
			return api.Validation(api.FieldErr("email", msgEmailTaken))
		}
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(authBody(u, token))
}

func (h *handlers) login(c *fiber.Ctx) error {
	var in LoginRequest
	if err := api.Bind(c, &in); err != nil {
		return err
	}
	u, token, err := h.accounts.Login(c.UserContext(), in.Email, in.Password)
	if err != nil {
		return err
	}
	return c.JSON(authBody(u, token))
}

func (h *handlers) logout(c *fiber.Ctx) error {
	pr := principal(c)
	if err := h.accounts.RevokeToken(c.UserContext(), pr.TokenHash); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h *handlers) passwordChange(c *fiber.Ctx) error {
	var in PasswordChangeRequest
	if err := api.Bind(c, &in); err != nil {
		return err
	}
	pr := principal(c)
	ctx := c.UserContext()
	// The cached user may predate a password change elsewhere: check the row.
	u, err := h.accounts.ByEmail(ctx, pr.Email)
	if err != nil {
		return err
	}
	if u == nil || u.ID != pr.ID {
		return api.AuthenticationFailed("User inactive or deleted.")
	}
	if ok, err := checkPassword(in.CurrentPassword, u.Password); err != nil || !ok {
		return api.Validation(api.FieldErr("current_password", "Your old password was entered incorrectly. Please enter it again."))
	}
	if msgs := ValidatePassword(in.NewPassword, u); len(msgs) > 0 {
		return fieldErrors("new_password", msgs)
	}
	if err := h.accounts.SetPassword(ctx, u, in.NewPassword, pr.TokenHash); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// resetFloor is the least time a password reset request takes, whether the
// email is known (render and queue an email) or not (one lookup), so that
// timing does not tell which emails have accounts.
const resetFloor = 150 * time.Millisecond

func (h *handlers) passwordReset(c *fiber.Ctx) error {
	var in PasswordResetRequest
	if err := api.Bind(c, &in); err != nil {
		return err
	}
	start := time.Now()
	err := h.accounts.RequestReset(c.UserContext(), in.Email)
	time.Sleep(resetFloor - time.Since(start))
	if err != nil {
		return err
	}
	return c.JSON(Message{Message: msgResetSent})
}

func (h *handlers) passwordResetConfirm(c *fiber.Ctx) error {
	var in PasswordResetConfirmRequest
	if err := api.Bind(c, &in); err != nil {
		return err
	}
	if err := h.accounts.ConfirmReset(c.UserContext(), in.Token, in.NewPassword); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (h *handlers) me(c *fiber.Ctx) error {
	return c.JSON(h.out(c, principal(c).User))
}

func (h *handlers) updateMe(c *fiber.Ctx) error {
	var in MeUpdate
	if err := api.Bind(c, &in); err != nil {
		return err
	}
	pr := principal(c)
	u := *pr.User
	var cols []string
	if in.Email != nil && *in.Email != u.Email {
		u.Email = *in.Email
		cols = append(cols, "email")
	}
	if in.FirstName != nil {
		u.FirstName = *in.FirstName
		cols = append(cols, "first_name")
	}
	if in.LastName != nil {
		u.LastName = *in.LastName
		cols = append(cols, "last_name")
	}
	ctx := c.UserContext()
	if len(cols) > 0 {
		if _, err := h.p.DB.NewUpdate().Model(&u).Column(cols...).WherePK().Exec(ctx); err != nil {
			if isUnique(err) {
				return api.Validation(api.FieldErr("email", msgEmailTaken))
			}
			return err
		}
		h.accounts.Forget(ctx, u.ID.String())
	}
	return c.JSON(h.out(c, &u))
}

// out renders a user for its owner; avatar_url is absolute or null.
func (h *handlers) out(c *fiber.Ctx, u *User) Me {
	return Me{ID: u.ID.String(), Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, AvatarURL: h.avatarURL(c, u)}
}

func principal(c *fiber.Ctx) *Principal {
	pr, _ := core.CurrentUser(c).(*Principal)
	if pr == nil {
		// RequireAuth guarantees a principal; reaching here is a wiring bug.
		panic("users: handler mounted without RequireAuth")
	}
	return pr
}
