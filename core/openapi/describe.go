package openapi

import (
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
)

// Op describes one route: what it reads and what it answers, in the Go types
// its handler binds and returns (drf-spectacular's extend_schema, next to the
// route instead of on the view).
type Op struct {
	// Summary is a one-line title; Description says more (Markdown).
	Summary, Description string
	// ID is the operationId (a Swift client's method name). Default: the
	// path's segments and Action, blog_posts_list.
	ID string
	// Action names the operation in a derived ID: list, create, retrieve,
	// partial_update, destroy... Default: the method in lower case.
	Action string
	// Tags group operations on the docs page; default: the app's name.
	Tags []string
	// Body is the JSON request body: a value of the struct the handler binds
	// (LoginRequest{}), or a Named schema.
	Body any
	// Upload makes the body multipart/form-data with one required file part
	// of that name ("file").
	Upload string
	// Query is a struct whose `query:"name"` fields are the query
	// parameters (with `doc:"..."` and validate rules as in bodies).
	Query any
	// Params are parameters given by hand: the types of path parameters
	// (each :name of the path is a string parameter otherwise), or query
	// parameters built from metadata.
	Params []*Parameter
	// Responses maps each success status to its body: a value of the struct
	// the handler answers (AuthResponse{}), a Named schema, a Content for a
	// non-JSON body, or nil for no body (204). Error statuses (400 and
	// above) listed here answer the API's Error shape whatever the value.
	Responses Responses
	// Errors are error statuses the route answers beyond those every route
	// can (see CommonErrors); each answers the Error shape.
	Errors []int
	// Permissions are the permission codenames the route requires
	// (x-permissions); Permission says in words who may call it.
	Permissions []string
	Permission  string
	// Deprecated marks the route as going away.
	Deprecated bool
}

// Responses maps statuses to bodies (see Op.Responses).
type Responses map[int]any

// NoContent is the body of a 204 response: none.
var NoContent any

// Routes holds the descriptions of one project's routes, by method and full
// path (Fiber's syntax: /api/blog/posts/:id).
type Routes struct {
	mu  sync.Mutex
	ops map[string]*described
}

// described is a registered description with what the handlers say.
type described struct {
	op Op
	// auth is "required" (RequireAuth among the handlers), "optional"
	// (OptionalAuth) or "".
	auth string
}

// For returns the project's route descriptions.
func For(p *core.Project) *Routes {
	return core.Shared(p, "openapi.routes", func(*core.Project) *Routes {
		return &Routes{ops: map[string]*described{}}
	})
}

// Lookup returns the description of the route method path (Fiber's syntax).
func (rs *Routes) Lookup(method, path string) (Op, bool) {
	d, ok := rs.lookup(method, path)
	if !ok {
		return Op{}, false
	}
	return d.op, true
}

func (rs *Routes) lookup(method, path string) (*described, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	d, ok := rs.ops[method+" "+normalize(path)]
	return d, ok
}

func (rs *Routes) add(method, path string, d *described) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.ops[method+" "+normalize(path)] = d
}

// normalize writes a path as Fiber's router lists it: one leading slash,
// no trailing one.
func normalize(path string) string {
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	for strings.Contains(path, "//") {
		path = strings.ReplaceAll(path, "//", "/")
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return path
}

// Router registers routes on a Fiber router together with their
// descriptions. Make one with Describe.
type Router struct {
	r      fiber.Router
	routes *Routes
	prefix string
}

// Describe wraps r (the router an app's Routes receives) so that each route
// is registered with its description, in one call:
//
//	d := openapi.Describe(r, p)
//	d.Get("/me", openapi.Op{Summary: "Who am I", Responses: openapi.Responses{200: Me{}}}, auth, h.me)
func Describe(r fiber.Router, p *core.Project) *Router {
	prefix := ""
	if g, ok := r.(*fiber.Group); ok {
		prefix = g.Prefix
	}
	return &Router{r: r, routes: For(p), prefix: prefix}
}

// Fiber returns the wrapped router, for routes registered without a
// description (reported by `check`).
func (d *Router) Fiber() fiber.Router { return d.r }

// Get registers a GET route (and Fiber's HEAD beside it) with its description.
func (d *Router) Get(path string, op Op, handlers ...fiber.Handler) {
	d.Add(fiber.MethodGet, path, op, handlers...)
}

// Post registers a POST route with its description.
func (d *Router) Post(path string, op Op, handlers ...fiber.Handler) {
	d.Add(fiber.MethodPost, path, op, handlers...)
}

// Put registers a PUT route with its description.
func (d *Router) Put(path string, op Op, handlers ...fiber.Handler) {
	d.Add(fiber.MethodPut, path, op, handlers...)
}

// Patch registers a PATCH route with its description.
func (d *Router) Patch(path string, op Op, handlers ...fiber.Handler) {
	d.Add(fiber.MethodPatch, path, op, handlers...)
}

// Delete registers a DELETE route with its description.
func (d *Router) Delete(path string, op Op, handlers ...fiber.Handler) {
	d.Add(fiber.MethodDelete, path, op, handlers...)
}

// Add registers a route of any method with its description. Authentication
// is read from the handlers: core's RequireAuth makes the route need a bearer
// token, OptionalAuth accept one.
func (d *Router) Add(method, path string, op Op, handlers ...fiber.Handler) {
	desc := &described{op: op}
	for _, h := range handlers {
		switch {
		case core.IsRequireAuth(h):
			desc.auth = "required"
		case core.IsOptionalAuth(h) && desc.auth == "":
			desc.auth = "optional"
		}
	}
	d.routes.add(method, d.prefix+path, desc)
	d.r.Add(method, path, handlers...)
}
