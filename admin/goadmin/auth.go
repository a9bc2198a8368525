package goadmin

import (
	"manouche/admin"

	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	gactx "github.com/GoAdminGroup/go-admin/context"
	"github.com/GoAdminGroup/go-admin/engine"
	"github.com/GoAdminGroup/go-admin/modules/auth"
	"github.com/GoAdminGroup/go-admin/plugins/admin/models"
)

// loginRefused is the one message every refused login gets, so it tells nothing about the account.
const loginRefused = "Please enter the correct email and password for a staff account."

// loginProcessor is GoAdmin's auth service: it checks the email and password with the users app,
// accepts active staff only, and mirrors the account into goadmin_users (GoAdmin's session and
// menus need an integer id there; the mirror's username is our user's id and its name the email,
// which is what the operation log shows).
func (a *Admin) loginProcessor(eng *engine.Engine) auth.Processor {
	return func(ctx *gactx.Context) (models.UserModel, bool, string) {
		email := strings.TrimSpace(ctx.FormValue("username"))
		password := ctx.FormValue("password")
		if email == "" || password == "" {
			return models.User(), false, loginRefused
		}
		rctx := ctx.Request.Context()
		u, err := a.cfg.Authenticate(rctx, email, password)
		if err != nil {
			if !errors.Is(err, admin.ErrInvalidCredentials) {
				a.log.Error("admin: login", "err", err)
			}
			return models.User(), false, loginRefused
		}
		if !u.IsActive || !u.IsStaff {
			return models.User(), false, loginRefused
		}
		role, err := a.roleFor(rctx, u)
		if err != nil {
			a.log.Error("admin: login", "err", err)
			return models.User(), false, "login failed, try again"
		}
		id, err := a.mirror(rctx, u, role)
		if err != nil {
			a.log.Error("admin: login", "err", err)
			return models.User(), false, "login failed, try again"
		}
		um := models.User().SetConn(eng.DefaultConnection()).Find(id)
		if um.IsEmpty() {
			return models.User(), false, "login failed, try again"
		}
		// The guard writes this into the session GoAdmin is about to open (bindNewSession).
		ctx.SetHeader(stampHeader, a.stamp(u))
		return um.WithRoles().WithPermissions().WithMenus(), true, "ok"
	}
}

// mirror creates or updates the goadmin_users row of u and its role, returning the row's id.
func (a *Admin) mirror(ctx context.Context, u admin.User, role int64) (int64, error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("admin: mirror user: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Write first: on SQLite a transaction that reads and then writes fails with "database is
	// locked" when another connection wrote in between; one that starts by writing waits its turn.
	if _, err := tx.ExecContext(ctx, a.rebind("UPDATE goadmin_users SET name = ? WHERE username = ?"), mirrorName(u.Email), u.ID); err != nil {
		return 0, fmt.Errorf("admin: mirror user: %w", err)
	}
	var id int64
	err = tx.QueryRowContext(ctx, a.rebind("SELECT id FROM goadmin_users WHERE username = ?"), u.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		// An empty password hash: GoAdmin's own login (bcrypt) can never match it.
		err = tx.QueryRowContext(ctx, a.rebind("INSERT INTO goadmin_users (username, password, name, avatar) VALUES (?, '', ?, '') RETURNING id"),
			u.ID, mirrorName(u.Email)).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("admin: mirror user: %w", err)
	}
	if err := a.setRole(ctx, tx, id, role); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("admin: mirror user: %w", err)
	}
	return id, nil
}

// mirrorName is the name GoAdmin shows for a staff member: the email, with any character
// outside a plain set replaced, because GoAdmin's operation log page writes the name into
// its HTML unescaped.
func mirrorName(email string) string {
	b := []rune(email)
	for i, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@.+-_", r)
		if !ok {
			b[i] = '?'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

func (a *Admin) setRole(ctx context.Context, tx *sql.Tx, id, role int64) error {
	if _, err := tx.ExecContext(ctx, a.rebind("DELETE FROM goadmin_role_users WHERE user_id = ?"), id); err != nil {
		return fmt.Errorf("admin: set role: %w", err)
	}
	if _, err := tx.ExecContext(ctx, a.rebind("INSERT INTO goadmin_role_users (role_id, user_id) VALUES (?, ?)"), role, id); err != nil {
		return fmt.Errorf("admin: set role: %w", err)
	}
	return nil
}

// session is a logged-in staff member as the guard sees it on each request.
type session struct {
	sid     string
	adminID int64 // goadmin_users.id
	user    admin.User
}

var errNoSession = errors.New("no admin session")

// loadSession reads the GoAdmin session named by sid and re-checks its account with the users app:
// an account that is gone, deactivated or no longer staff has no session. A change of superuser
// status or of the models the account may view updates its GoAdmin role (its menu) at once.
func (a *Admin) loadSession(ctx context.Context, sid string) (session, error) {
	if sid == "" || len(sid) > 64 {
		return session{}, errNoSession
	}
	var raw sql.NullString
	err := a.queryRow(ctx, `SELECT "values" FROM goadmin_session WHERE sid = ?`, sid).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return session{}, errNoSession
	}
	if err != nil {
		return session{}, fmt.Errorf("admin: load session: %w", err)
	}
	var values map[string]any
	if json.Unmarshal([]byte(raw.String), &values) != nil {
		return session{}, errNoSession
	}
	fid, ok := values["user_id"].(float64)
	if !ok {
		return session{}, errNoSession
	}
	stamp, _ := values[stampKey].(string)
	s := session{sid: sid, adminID: int64(fid)}
	var userID string
	var role sql.NullInt64
	err = a.queryRow(ctx, `SELECT u.username, r.role_id FROM goadmin_users u
		LEFT JOIN goadmin_role_users r ON r.user_id = u.id WHERE u.id = ?`, s.adminID).Scan(&userID, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return session{}, errNoSession
	}
	if err != nil {
		return session{}, fmt.Errorf("admin: load session: %w", err)
	}
	u, err := a.cfg.LoadUser(ctx, userID)
	if err != nil {
		return session{}, errors.Join(errNoSession, err)
	}
	if !u.IsActive || !u.IsStaff {
		return session{}, errNoSession
	}
	// A session opened before the password changed (or never bound by a sign-in) is over.
	if subtle.ConstantTimeCompare([]byte(stamp), []byte(a.sessionMAC(sid, a.stamp(u)))) != 1 {
		return session{}, errNoSession
	}
	s.user = u
	want, err := a.roleFor(ctx, u)
	if err != nil {
		return session{}, err
	}
	if !role.Valid || role.Int64 != want {
		tx, err := a.db.BeginTx(ctx, nil)
		if err != nil {
			return session{}, fmt.Errorf("admin: load session: %w", err)
		}
		defer func() { _ = tx.Rollback() }()
		if err := a.setRole(ctx, tx, s.adminID, want); err != nil {
			return session{}, err
		}
		if err := tx.Commit(); err != nil {
			return session{}, fmt.Errorf("admin: load session: %w", err)
		}
	}
	return s, nil
}

// stamp is the digest of an account's credentials a session is bound to: an HMAC under the
// secret key of the account's id and SessionKey.
func (a *Admin) stamp(u admin.User) string {
	h := hmac.New(sha256.New, []byte(a.cfg.SecretKey))
	h.Write([]byte("manouche-admin-session\x00" + u.ID + "\x00" + u.SessionKey))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// sessionMAC binds a stamp to one session id, so a session's values are worth nothing
// under another id.
func (a *Admin) sessionMAC(sid, stamp string) string {
	h := hmac.New(sha256.New, []byte(a.cfg.SecretKey))
	h.Write([]byte("manouche-admin-sid\x00" + sid + "\x00" + stamp))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// stampSession writes a stamp, bound to sid, into the values of the GoAdmin session sid.
func (a *Admin) stampSession(ctx context.Context, sid, stamp string) error {
	var raw sql.NullString
	if err := a.queryRow(ctx, `SELECT "values" FROM goadmin_session WHERE sid = ?`, sid).Scan(&raw); err != nil {
		return fmt.Errorf("admin: stamp session: %w", err)
	}
	values := map[string]any{}
	if err := json.Unmarshal([]byte(raw.String), &values); err != nil {
		return fmt.Errorf("admin: stamp session: %w", err)
	}
	values[stampKey] = a.sessionMAC(sid, stamp)
	b, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("admin: stamp session: %w", err)
	}
	if _, err := a.exec(ctx, `UPDATE goadmin_session SET "values" = ? WHERE sid = ?`, string(b), sid); err != nil {
		return fmt.Errorf("admin: stamp session: %w", err)
	}
	return nil
}

// endSession deletes a GoAdmin session row.
func (a *Admin) endSession(ctx context.Context, sid string) error {
	if _, err := a.exec(ctx, "DELETE FROM goadmin_session WHERE sid = ?", sid); err != nil {
		return fmt.Errorf("admin: end session: %w", err)
	}
	return nil
}

// currentUser returns whether the GoAdmin user of a request is a superuser (its role has "*").
func currentUser(ctx *gactx.Context) (admin.User, bool) {
	um, ok := ctx.User().(models.UserModel)
	if !ok {
		return admin.User{}, false
	}
	return admin.User{ID: um.UserName, Email: um.Name, IsActive: true, IsStaff: true, IsSuperuser: um.IsSuperAdmin()}, true
}
