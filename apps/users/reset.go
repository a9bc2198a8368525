package users

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core/api"
)

// Password reset tokens are stateless, like Django's
// PasswordResetTokenGenerator: USERID-TIMESTAMP-HMAC, where the HMAC (keyed
// with SECRET_KEY) covers the user's id, password hash and last login. Using
// one sets a new password, which changes the hash and so kills the token:
// it is single-use, and dies when the password changes by any other way too.

const msgBadResetToken = "The password reset link is invalid or has expired."

// ResetToken returns a password reset token for u, made at t.
func (a *Accounts) ResetToken(u *User, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 36)
	id := strings.ReplaceAll(u.ID.String(), "-", "")
	return id + "-" + ts + "-" + a.resetMAC(u, ts)
}

func (a *Accounts) resetMAC(u *User, ts string) string {
	m := hmac.New(sha256.New, []byte("manouche.users.password_reset:"+a.p.Settings.SecretKey))
	login := ""
	if u.LastLogin != nil {
		login = u.LastLogin.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	fmt.Fprintf(m, "%s|%s|%s|%s", u.ID, u.Password, login, ts)
	return hex.EncodeToString(m.Sum(nil))
}

// checkResetToken returns the user a valid, unexpired token belongs to.
func (a *Accounts) checkResetToken(ctx context.Context, token string) (*User, error) {
	bad := api.Validation(api.FieldErr("token", msgBadResetToken))
	parts := strings.Split(token, "-")
	if len(token) > 200 || len(parts) != 3 || len(parts[0]) != 32 {
		return nil, bad
	}
	uid, err := uuid.Parse(parts[0])
	if err != nil {
		return nil, bad
	}
	secs, err := strconv.ParseInt(parts[1], 36, 64)
	if err != nil {
		return nil, bad
	}
	if time.Since(time.Unix(secs, 0)) > a.p.Settings.PasswordResetTimeout {
		return nil, bad
	}
	u := new(User)
	if err := a.p.DB.NewSelect().Model(u).Where("id = ?", uid).Scan(ctx); err != nil {
		return nil, bad
	}
	if !hmac.Equal([]byte(a.resetMAC(u, parts[1])), []byte(parts[2])) || !u.IsActive {
		return nil, bad
	}
	return u, nil
}

// RequestReset queues the reset email when an active user has that email; it
// says nothing either way.
func (a *Accounts) RequestReset(ctx context.Context, email string) error {
	u, err := a.ByEmail(ctx, email)
	if err != nil {
		return err
	}
	if u == nil || !u.IsActive {
		return nil
	}
	st := a.p.Settings
	token := a.ResetToken(u, time.Now())
	data := map[string]any{
		"SiteName":  st.SiteName,
		"Email":     u.Email,
		"User":      u,
		"ResetURL":  st.Frontend() + "/reset-password/" + token + "/",
		"ExpiresIn": humanDuration(st.PasswordResetTimeout),
	}
	return a.p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return a.p.SendMail(ctx, &tx, "users/email/password_reset", data, u.Email)
	})
}

// ConfirmReset sets a new password with a reset token, and revokes every auth
// token of the user.
func (a *Accounts) ConfirmReset(ctx context.Context, token, plain string) error {
	u, err := a.checkResetToken(ctx, token)
	if err != nil {
		return err
	}
	if msgs := ValidatePassword(plain, u); len(msgs) > 0 {
		return fieldErrors("new_password", msgs)
	}
	return a.SetPassword(ctx, u, plain, "")
}

func fieldErrors(field string, msgs []string) error {
	errs := make([]api.FieldError, len(msgs))
	for i, m := range msgs {
		errs[i] = api.FieldErr(field, m)
	}
	return api.Validation(errs...)
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}
