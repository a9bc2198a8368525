package core

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

// User is what the core needs to know of an authenticated user.
type User interface {
	// UserID is the user's primary key, as text.
	UserID() string
}

// Authenticator turns a bearer token into its user. It returns an error
// (typically api.AuthenticationFailed) for an unknown, expired or revoked token.
// The users app provides it; other apps use RequireAuth.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (User, error)
}

const userKey = "manouche.user"

// RequireAuth is the middleware that lets only requests with a valid bearer
// token through: no credentials answer 401 NotAuthenticated (with
// WWW-Authenticate: Bearer), bad ones 401 AuthenticationFailed. The user is
// then available through CurrentUser.
func (p *Project) RequireAuth() fiber.Handler {
	// A method value, not a closure: a closure is named after the function it
	// is inlined into, and the routes command recognises this handler by name.
	return requireAuth{p}.handle
}

// requireAuth is RequireAuth's handler.
type requireAuth struct{ p *Project }

func (m requireAuth) handle(c *fiber.Ctx) error {
	if CurrentUser(c) != nil {
		// The API throttle already authenticated this request's token.
		return c.Next()
	}
	token, ok := BearerToken(c)
	if !ok {
		if c.Get(fiber.HeaderAuthorization) != "" {
			return api.AuthenticationFailed("Invalid token header. Use: Authorization: Bearer <token>.")
		}
		return api.NotAuthenticated()
	}
	if m.p.Auth == nil {
		return api.AuthenticationFailed("")
	}
	u, err := m.p.Auth.Authenticate(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Locals(userKey, u)
	return c.Next()
}

// authenticated reports whether the request carries a valid bearer token,
// and then remembers its user for RequireAuth (one lookup per request). Only
// such a request leaves the anonymous API throttle: an Authorization header
// alone, malformed, unknown, expired or revoked, does not.
func (p *Project) authenticated(c *fiber.Ctx) bool {
	token, ok := BearerToken(c)
	if !ok || p.Auth == nil {
		return false
	}
	u, err := p.Auth.Authenticate(c.UserContext(), token)
	if err != nil || u == nil {
		return false
	}
	c.Locals(userKey, u)
	return true
}

// BearerToken returns the token of an `Authorization: Bearer <token>` header.
func BearerToken(c *fiber.Ctx) (string, bool) {
	h := strings.TrimSpace(c.Get(fiber.HeaderAuthorization))
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// CurrentUser returns the user RequireAuth authenticated, or nil.
func CurrentUser(c *fiber.Ctx) User {
	u, _ := c.Locals(userKey).(User)
	return u
}
