package core

import (
	"context"
	"errors"
	"fmt"
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
// An installed app provides it (AuthProvider); other apps use RequireAuth.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (User, error)
}

// AuthProvider is an app that provides the project's authentication (the
// users app). New asks it for the Authenticator once, after the ready hooks;
// at most one installed app may be one. Without any, a project whose routes
// use RequireAuth refuses to build its HTTP handler, naming the app.
type AuthProvider interface {
	Authenticator(p *Project) (Authenticator, error)
}

// Auth returns the project's authenticator, or nil when no installed app
// provides one.
func (p *Project) Auth() Authenticator { return p.auth }

// resolveAuth asks the installed AuthProvider for the authenticator.
func (p *Project) resolveAuth() error {
	provider := ""
	for _, app := range p.apps {
		ap, ok := app.(AuthProvider)
		if !ok {
			continue
		}
		if provider != "" {
			return fmt.Errorf("apps %q and %q both provide authentication: keep one of them in apps.Installed (apps/apps.go)", provider, app.Name())
		}
		a, err := ap.Authenticator(p)
		if err != nil {
			return fmt.Errorf("app %s: authenticator: %w", app.Name(), err)
		}
		if a == nil {
			return fmt.Errorf("app %s: Authenticator returned nil", app.Name())
		}
		provider, p.auth = app.Name(), a
	}
	return nil
}

// missingAuth records that the app being mounted uses RequireAuth while no
// installed app provides authentication: building the handler fails with it.
func (p *Project) missingAuth() {
	p.mu.Lock()
	defer p.mu.Unlock()
	who := "an app"
	if p.mounting != "" {
		who = fmt.Sprintf("app %q", p.mounting)
	}
	msg := fmt.Sprintf("routes of %s need a signed-in user (RequireAuth) but no installed app provides authentication: add users.App{} to apps.Installed in apps/apps.go", who)
	for _, e := range p.authErrs {
		if e.Error() == msg {
			return
		}
	}
	p.authErrs = append(p.authErrs, errors.New(msg))
}

const userKey = "manouche.user"

// RequireAuth is the middleware that lets only requests with a valid bearer
// token through: no credentials answer 401 NotAuthenticated (with
// WWW-Authenticate: Bearer), bad ones 401 AuthenticationFailed. The user is
// then available through CurrentUser.
func (p *Project) RequireAuth() fiber.Handler {
	if p.auth == nil {
		p.missingAuth()
	}
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
	if m.p.auth == nil {
		return api.AuthenticationFailed("")
	}
	u, err := m.p.auth.Authenticate(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Locals(userKey, u)
	return c.Next()
}

// OptionalAuth is the middleware of routes open to anonymous clients that
// still need to know who is signed in (a permission policy that lets
// anonymous clients read): a valid bearer token makes its user the
// CurrentUser, a bad, expired or revoked one answers 401 AuthenticationFailed
// (as RequireAuth does), and no credentials go on anonymously.
func (p *Project) OptionalAuth() fiber.Handler { return optionalAuth{p}.handle }

// optionalAuth is OptionalAuth's handler.
type optionalAuth struct{ p *Project }

func (m optionalAuth) handle(c *fiber.Ctx) error {
	if CurrentUser(c) != nil || c.Get(fiber.HeaderAuthorization) == "" {
		return c.Next()
	}
	return requireAuth(m).handle(c)
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
