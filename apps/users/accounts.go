package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/cache"
	"manouche/core/db"
)

// How long token and user entries stay in the cache. Revocations and updates
// delete them at once; the TTL only bounds memory.
const (
	tokenCacheTTL = 5 * time.Minute
	userCacheTTL  = 5 * time.Minute
)

// Messages of the API contract.
const (
	msgEmailTaken     = "Email is already taken."
	msgBadCredentials = "Unable to log in with provided credentials."
)

// Accounts is the users app's service: accounts, passwords and tokens. It is
// built per project and is safe for concurrent use.
type Accounts struct {
	p *core.Project
}

// NewAccounts returns the accounts service of a project.
func NewAccounts(p *core.Project) *Accounts { return &Accounts{p: p} }

// Principal is the authenticated user of a request and the token it used.
type Principal struct {
	*User
	TokenHash string
}

// tokenEntry is what the cache keeps per token: its expiry and a snapshot of
// its user, so that authenticating a request is one cache read. Every change
// to a user drops the entries of all its tokens (Forget).
type tokenEntry struct {
	User      User
	ExpiresAt time.Time
}

func tokenKey(hash string) string { return "users:token:" + hash }
func userKey(id string) string    { return "users:user:" + id }

// HashToken returns the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateUser stores a new user with plain as its hashed password; with plain
// "" it keeps u.Password as it is (already hashed, or empty: unusable).
// A taken email (whatever its case) is a ValidationError on email.
func (a *Accounts) CreateUser(ctx context.Context, idb bun.IDB, u *User, plain string) error {
	if u.ID == uuid.Nil {
		u.ID = uuid.New()
	}
	if u.DateJoined.IsZero() {
		u.DateJoined = time.Now().UTC()
	}
	if plain != "" {
		hash, err := hashPassword(plain)
		if err != nil {
			return err
		}
		u.Password = hash
	}
	if _, err := idb.NewInsert().Model(u).Exec(ctx); err != nil {
		if db.IsUniqueViolation(err) {
			return api.Validation(api.FieldErr("email", msgEmailTaken))
		}
		return fmt.Errorf("users: create: %w", err)
	}
	return nil
}

// ByEmail finds a user by email, case-insensitively.
func (a *Accounts) ByEmail(ctx context.Context, email string) (*User, error) {
	if strings.IndexByte(email, 0) >= 0 {
		// No stored email holds one (the binder refuses it), and Postgres
		// refuses NUL in a query parameter: not found, not an error.
		return nil, nil
	}
	u := new(User)
	err := a.p.DB.NewSelect().Model(u).Where("lower(email) = lower(?)", strings.TrimSpace(email)).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: find by email: %w", err)
	}
	return u, nil
}

// ByID returns a user, read through the cache. A missing user is (nil, nil).
func (a *Accounts) ByID(ctx context.Context, id string) (*User, error) {
	var u User
	err := a.p.Cache.Once(ctx, userKey(id), &u, userCacheTTL, func(ctx context.Context) (any, error) {
		uid, err := uuid.Parse(id)
		if err != nil {
			return nil, cache.ErrNotFound
		}
		row := new(User)
		err = a.p.DB.NewSelect().Model(row).Where("id = ?", uid).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, cache.ErrNotFound
		}
		return row, err
	})
	if errors.Is(err, cache.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: load %s: %w", id, err)
	}
	return &u, nil
}

// Forget drops a user, and the token entries that carry a copy of it, from
// the cache; call it after every change to the row.
func (a *Accounts) Forget(ctx context.Context, id string) {
	keys := []string{userKey(id)}
	if uid, err := uuid.Parse(id); err == nil {
		var hashes []string
		if err := a.p.DB.NewSelect().Model((*Token)(nil)).Column("key_hash").Where("user_id = ?", uid).Scan(ctx, &hashes); err != nil {
			a.p.Log.Warn("users: list tokens to forget", "user", id, "error", err)
		}
		for _, h := range hashes {
			keys = append(keys, tokenKey(h))
		}
	}
	if err := a.p.Cache.Delete(ctx, keys...); err != nil {
		a.p.Log.Warn("users: cache delete", "user", id, "error", err)
	}
}

// Login checks an email and password. Unknown emails, wrong passwords and
// inactive users all give the same ValidationError, in about the same time.
func (a *Accounts) Login(ctx context.Context, email, plain string) (*User, string, error) {
	u, err := a.ByEmail(ctx, email)
	if err != nil {
		return nil, "", err
	}
	if u == nil {
		// Hash anyway, so an unknown email takes as long as a wrong password.
		_, _ = checkPassword(plain, dummyHash())
		return nil, "", api.Validation(api.FieldErr(api.NonFieldErrors, msgBadCredentials))
	}
	ok, err := checkPassword(plain, u.Password)
	if err != nil || !ok || !u.IsActive {
		return nil, "", api.Validation(api.FieldErr(api.NonFieldErrors, msgBadCredentials))
	}
	now := time.Now().UTC()
	u.LastLogin = &now
	var token string
	err = a.p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model(u).Column("last_login").WherePK().Exec(ctx); err != nil {
			return err
		}
		token, err = a.IssueToken(ctx, tx, u.ID)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("users: login: %w", err)
	}
	a.Forget(ctx, u.ID.String())
	return u, token, nil
}

// IssueToken makes a new token for a user, valid for AUTH_TOKEN_TTL, and
// returns it: 32 random bytes, URL-safe base64. Only its hash is stored.
func (a *Accounts) IssueToken(ctx context.Context, idb bun.IDB, userID uuid.UUID) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("users: token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now().UTC()
	t := &Token{ID: uuid.New(), UserID: userID, KeyHash: HashToken(token), CreatedAt: now, ExpiresAt: now.Add(a.p.Settings.AuthTokenTTL)}
	if _, err := idb.NewInsert().Model(t).Exec(ctx); err != nil {
		return "", fmt.Errorf("users: store token: %w", err)
	}
	return token, nil
}

// Authenticate resolves a bearer token (core.Authenticator). On a warm cache it
// makes no database query: the token and its user both come from the cache.
func (a *Accounts) Authenticate(ctx context.Context, token string) (core.User, error) {
	if len(token) > 256 {
		return nil, api.AuthenticationFailed("Invalid token.")
	}
	hash := HashToken(token)
	var te tokenEntry
	err := a.p.Cache.OnceNear(ctx, tokenKey(hash), &te, tokenCacheTTL, func(ctx context.Context) (any, error) {
		t := new(Token)
		err := a.p.DB.NewSelect().Model(t).Where("key_hash = ?", hash).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, cache.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		u := new(User)
		err = a.p.DB.NewSelect().Model(u).Where("id = ?", t.UserID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, cache.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		return tokenEntry{User: *u, ExpiresAt: t.ExpiresAt}, nil
	})
	if errors.Is(err, cache.ErrNotFound) {
		return nil, api.AuthenticationFailed("Invalid token.")
	}
	if err != nil {
		return nil, fmt.Errorf("users: authenticate: %w", err)
	}
	if time.Now().After(te.ExpiresAt) {
		return nil, api.AuthenticationFailed("Token has expired.")
	}
	u := &te.User
	if !u.IsActive {
		return nil, api.AuthenticationFailed("User inactive or deleted.")
	}
	return &Principal{User: u, TokenHash: hash}, nil
}

// RevokeTokens deletes tokens of a user, all of them or all but keepHash, and
// removes them from the cache at once, so they stop working on every process.
func (a *Accounts) RevokeTokens(ctx context.Context, idb bun.IDB, userID uuid.UUID, keepHash string) error {
	var hashes []string
	q := idb.NewSelect().Model((*Token)(nil)).Column("key_hash").Where("user_id = ?", userID)
	if keepHash != "" {
		q = q.Where("key_hash <> ?", keepHash)
	}
	if err := q.Scan(ctx, &hashes); err != nil {
		return fmt.Errorf("users: list tokens: %w", err)
	}
	if len(hashes) == 0 {
		return nil
	}
	if _, err := idb.NewDelete().Model((*Token)(nil)).Where("key_hash IN (?)", bun.List(hashes)).Exec(ctx); err != nil {
		return fmt.Errorf("users: revoke tokens: %w", err)
	}
	return a.forgetTokens(ctx, hashes)
}

// RevokeToken deletes one token (logout).
func (a *Accounts) RevokeToken(ctx context.Context, hash string) error {
	if _, err := a.p.DB.NewDelete().Model((*Token)(nil)).Where("key_hash = ?", hash).Exec(ctx); err != nil {
		return fmt.Errorf("users: revoke token: %w", err)
	}
	return a.forgetTokens(ctx, []string{hash})
}

func (a *Accounts) forgetTokens(ctx context.Context, hashes []string) error {
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = tokenKey(h)
	}
	if err := a.p.Cache.Delete(ctx, keys...); err != nil {
		// The cache remembers failed deletes and replays them when Redis is back.
		a.p.Log.Warn("users: cache delete of revoked tokens failed", "error", err)
	}
	return nil
}

// SetPassword validates nothing: it hashes and stores a new password, revokes
// the user's tokens except keepHash, and forgets the cached user. Validation
// is the caller's (ValidatePassword).
func (a *Accounts) SetPassword(ctx context.Context, u *User, plain, keepHash string) error {
	hash, err := hashPassword(plain)
	if err != nil {
		return err
	}
	u.Password = hash
	err = a.p.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model(u).Column("password").WherePK().Exec(ctx); err != nil {
			return err
		}
		return a.RevokeTokens(ctx, tx, u.ID, keepHash)
	})
	if err != nil {
		return fmt.Errorf("users: set password: %w", err)
	}
	a.Forget(ctx, u.ID.String())
	return nil
}
