// Package perm decides who may do what, the way Django does: model
// permissions ("blog.change_post", django.contrib.auth's has_perm) held by
// users and groups, and permission policies on routes and resources (Django
// REST framework's permission classes), composable and declared where the
// route is declared.
//
//	r.Get("/stats", p.OptionalAuth(), perm.Route(p, perm.IsStaff), stats(p))
//	var posts = &rest.ModelViewSet[Post]{Path: "/posts", Owner: "owner_id", Policy: perm.OwnerOrReadOnly}
//
// A refused request answers 401 NotAuthenticated when nobody is signed in,
// 403 PermissionDenied otherwise, and 404 NotFound for a row the user may not
// even see, so that ids do not leak.
//
// The permissions a user holds come from the project's authenticator when it
// implements Provider (the users app's, read through the cache); superusers
// hold every permission.
package perm

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
	"manouche/core/api"
)

// Action is what a request does to a model: Django's four default permissions.
type Action string

// The actions of the model permissions every installed model has.
const (
	View   Action = "view"
	Add    Action = "add"
	Change Action = "change"
	Delete Action = "delete"
)

// Actions are the four actions, in Django's order of the admin's checkboxes.
var Actions = []Action{View, Add, Change, Delete}

// ActionOf maps an HTTP method to its action: GET, HEAD and OPTIONS view,
// POST adds, PUT and PATCH change, DELETE deletes.
func ActionOf(method string) Action {
	switch method {
	case fiber.MethodPost:
		return Add
	case fiber.MethodPut, fiber.MethodPatch:
		return Change
	case fiber.MethodDelete:
		return Delete
	}
	return View
}

// Safe reports whether a method only reads (GET, HEAD, OPTIONS).
func Safe(method string) bool {
	return method == fiber.MethodGet || method == fiber.MethodHead || method == fiber.MethodOptions
}

// Name is a permission's full name: Name("blog", Change, "post") is
// "blog.change_post".
func Name(app string, a Action, model string) string { return app + "." + string(a) + "_" + model }

// ModelName is a model's name in its permissions: its Go type's name in lower
// case, (*Post)(nil) → "post" (Django's model_name).
func ModelName(model any) string {
	t := reflect.TypeOf(model)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return strings.ToLower(t.Name())
}

// Label is a model's app and name, "blog.post": the app is the installed app
// whose Models lists the model's type (else the last element of its package
// path, which is the app's name for apps startapp writes).
func Label(p *core.Project, model any) string {
	t := reflect.TypeOf(model)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	if p != nil {
		for _, app := range p.Apps() {
			m, ok := app.(core.Modeler)
			if !ok {
				continue
			}
			for _, x := range m.Models() {
				xt := reflect.TypeOf(x)
				for xt != nil && xt.Kind() == reflect.Pointer {
					xt = xt.Elem()
				}
				if xt == t {
					return app.Name() + "." + strings.ToLower(t.Name())
				}
			}
		}
	}
	pkg := t.PkgPath()
	if i := strings.LastIndexByte(pkg, '/'); i >= 0 {
		pkg = pkg[i+1:]
	}
	return pkg + "." + strings.ToLower(t.Name())
}

// ModelPerm is the permission of an action on a model label ("blog.post"):
// ModelPerm("blog.post", Change) is "blog.change_post".
func ModelPerm(label string, a Action) string {
	app, model, _ := strings.Cut(label, ".")
	return Name(app, a, model)
}

// Subject is what a signed-in user holds: its flags and the full names of
// its permissions, its own and its groups', sorted.
type Subject struct {
	Active    bool     `json:"active"`
	Staff     bool     `json:"staff"`
	Superuser bool     `json:"superuser"`
	Perms     []string `json:"perms"`
}

// Has reports whether the subject holds perm: an active superuser holds
// every permission, an inactive user none.
func (s *Subject) Has(perm string) bool {
	if s == nil || !s.Active {
		return false
	}
	if s.Superuser {
		return true
	}
	_, found := slices.BinarySearch(s.Perms, perm)
	return found
}

// Provider is the optional interface of the project's core.Authenticator that
// says what a user holds (the users app's accounts). Without one a signed-in
// user is active and holds no permission.
type Provider interface {
	Subject(ctx context.Context, u core.User) (*Subject, error)
}

// Of returns what u holds in project p; nil for an anonymous request.
func Of(ctx context.Context, p *core.Project, u core.User) (*Subject, error) {
	if u == nil {
		return nil, nil
	}
	if pr, ok := p.Auth().(Provider); ok {
		s, err := pr.Subject(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("perm: permissions of %s: %w", u.UserID(), err)
		}
		return s, nil
	}
	return &Subject{Active: true}, nil
}

// HasPerm reports whether u holds perm ("blog.change_post") in project p,
// answered from the cache: user.has_perm.
func HasPerm(ctx context.Context, p *core.Project, u core.User, perm string) (bool, error) {
	s, err := Of(ctx, p, u)
	if err != nil {
		return false, err
	}
	return s.Has(perm), nil
}

// Request is what a policy decides on.
type Request struct {
	// Ctx is the request.
	Ctx *fiber.Ctx
	// Project is the running project.
	Project *core.Project
	// User is the signed-in user, or nil.
	User core.User
	// Model is the label of the resource's model ("blog.post"), or "" on a
	// route that serves no model.
	Model string
	// Action is what the request does: from its method, or set by the view.
	Action Action

	subject *Subject
	loaded  bool
}

// NewRequest describes c for the policies; model is a label or "".
func NewRequest(c *fiber.Ctx, p *core.Project, model string) *Request {
	return &Request{Ctx: c, Project: p, User: core.CurrentUser(c), Model: model, Action: ActionOf(c.Method())}
}

// Anonymous reports whether nobody is signed in.
func (r *Request) Anonymous() bool { return r.User == nil }

// Safe reports whether the request only reads.
func (r *Request) Safe() bool { return Safe(r.Ctx.Method()) }

// Subject is what the signed-in user holds, loaded once per request; nil when
// anonymous.
func (r *Request) Subject() (*Subject, error) {
	if !r.loaded {
		s, err := Of(r.Ctx.UserContext(), r.Project, r.User)
		if err != nil {
			return nil, err
		}
		r.subject, r.loaded = s, true
	}
	return r.subject, nil
}

// HasPerm reports whether the signed-in user holds perm.
func (r *Request) HasPerm(perm string) (bool, error) {
	s, err := r.Subject()
	if err != nil {
		return false, err
	}
	return s.Has(perm), nil
}

// HasModelPerm reports whether the signed-in user holds the permission of
// action a on the request's model; false on a route without a model.
func (r *Request) HasModelPerm(a Action) (bool, error) {
	if r.Model == "" {
		return false, nil
	}
	return r.HasPerm(ModelPerm(r.Model, a))
}

// Object is a row a policy decides on: its value (a pointer to the model)
// and the id of its owner, "" when the resource has no owner.
type Object struct {
	Value any
	Owner string
}

// Policy decides whether a request may go on. Allow decides on the route,
// before any row is read; AllowObject on one row of an object route (GET,
// PATCH, DELETE, PUT of /{id}). Both return nil, or the error to answer:
// Denied gives the right one of 401 and 403, and NotFound hides a row.
type Policy interface {
	Allow(r *Request) error
	AllowObject(r *Request, obj Object) error
}

// Scoper is a Policy that narrows lists to the signed-in user's own rows:
// OwnerOnly does, for users without the model's view permission.
type Scoper interface {
	// OwnRowsOnly reports whether a list shows only the user's own rows.
	OwnRowsOnly(r *Request) (bool, error)
}

// AnonymousChecker is a Policy that knows, before any request, whether it
// can ever let an anonymous request with method through. A route whose policy
// never can requires a signed-in user up front (core's RequireAuth, which
// the routes command shows as "token"); others authenticate a token when one
// is sent (core's OptionalAuth).
type AnonymousChecker interface {
	AllowsAnonymous(method string) bool
}

// AllowsAnonymous reports whether pol may let an anonymous request with
// method through: true unless it says otherwise.
func AllowsAnonymous(pol Policy, method string) bool {
	if a, ok := pol.(AnonymousChecker); ok {
		return a.AllowsAnonymous(method)
	}
	return true
}

// Denied is the refusal of a request: 401 NotAuthenticated when nobody is
// signed in, else 403 PermissionDenied with msg (Django REST framework's
// message when msg is "").
func Denied(r *Request, msg string) error {
	if r.Anonymous() {
		return api.NotAuthenticated()
	}
	return api.PermissionDenied(msg)
}

// NotFound is the refusal of a row the user may not see: 404, as if it did
// not exist.
func NotFound() error { return api.NotFound("") }

// Route is the middleware that checks pol's Allow on a route that serves no
// model; put it after p.RequireAuth() or p.OptionalAuth().
func Route(p *core.Project, pol Policy) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := pol.Allow(NewRequest(c, p, "")); err != nil {
			return err
		}
		return c.Next()
	}
}
