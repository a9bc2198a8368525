package core

import (
	"errors"
	"reflect"
	"runtime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

// MountRoutes adds the routes of every installed app that is a Router to
// root, in installed order, each under its Prefix. after, when not nil, runs
// once after each app's routes are added, with the app's name (core/server
// attributes routes to their apps with it). It runs once per project: an
// app's Routes runs once. It fails when an app's routes need a signed-in
// user and no installed app provides authentication.
func (p *Project) MountRoutes(root *fiber.App, after func(app string)) error {
	p.mu.Lock()
	if p.mounted {
		p.mu.Unlock()
		return errors.New("core: the project's routes are already mounted: build one server per project")
	}
	p.mounted = true
	p.mu.Unlock()
	for _, a := range p.apps {
		r, ok := a.(Router)
		if !ok {
			continue
		}
		p.mu.Lock()
		p.mounting = a.Name()
		p.mu.Unlock()
		if prefix := r.Prefix(); prefix == "" || prefix == "/" {
			r.Routes(root, p)
		} else {
			r.Routes(root.Group(strings.TrimSuffix(prefix, "/")), p)
		}
		if after != nil {
			after(a.Name())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mounting = ""
	return errors.Join(p.authErrs...)
}

// Authenticated reports whether the request carries a valid bearer token,
// and then remembers its user for RequireAuth and CurrentUser (one lookup
// per request). Only such a request leaves the anonymous API throttle: an
// Authorization header alone, malformed, unknown, expired or revoked, does
// not.
func (p *Project) Authenticated(c *fiber.Ctx) bool {
	token, ok := BearerToken(c)
	if !ok || p.auth == nil {
		return false
	}
	u, err := p.auth.Authenticate(c.UserContext(), token)
	if err != nil || u == nil {
		return false
	}
	c.Locals(userKey, u)
	return true
}

// ClientIP returns the client's address (see api.ClientIP): the socket's, or
// with NUM_PROXIES trusted proxies the address NUM_PROXIES entries from the
// right of X-Forwarded-For, the way Django REST framework's throttles read it.
func (p *Project) ClientIP(c *fiber.Ctx) string { return api.ClientIP(c) }

// IsRequireAuth reports whether h is the handler RequireAuth returns (the
// routes command marks the routes behind it as needing a token).
func IsRequireAuth(h fiber.Handler) bool {
	return h != nil && FuncName(h) == requireAuthName
}

var requireAuthName = FuncName(requireAuth{}.handle)

// FuncName is the qualified name of the function behind h, such as
// manouche/apps/users.(*handlers).me-fm.
func FuncName(h fiber.Handler) string {
	if h == nil {
		return ""
	}
	f := runtime.FuncForPC(reflect.ValueOf(h).Pointer())
	if f == nil {
		return ""
	}
	return f.Name()
}

// IsOptionalAuth reports whether h is the handler OptionalAuth returns (the
// OpenAPI document marks the routes behind it as accepting a token).
func IsOptionalAuth(h fiber.Handler) bool {
	return h != nil && FuncName(h) == optionalAuthName
}

var optionalAuthName = FuncName(optionalAuth{}.handle)
