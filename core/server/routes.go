package server

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
)

// Route is one route of the project's HTTP application, as the routes
// command lists it.
type Route struct {
	Method string
	Path   string
	// App is the installed app that added the route, or "core".
	App string
	// Handler is the function that answers, such as users.(*handlers).me.
	Handler string
	// Auth is what the route requires: "token" (RequireAuth), what the app
	// says through core.RouteAuthDescriber (the admin: "staff session"), or "none".
	Auth string
}

// Routes lists every route of the project's HTTP application (Handler), in
// path order, with the app that added it, its handler and what authentication
// it requires. HEAD routes that Fiber adds beside each GET are left out.
func (s *Server) Routes() []Route {
	app, p := s.app, s.p
	endpoints := map[*fiber.Handler]bool{}
	for _, r := range app.GetRoutes(true) {
		if len(r.Handlers) > 0 {
			endpoints[&r.Handlers[0]] = true
		}
	}
	// Middleware mounted with Use (on a prefix) guards every route below it.
	type use struct {
		method, prefix string
		auth           bool
	}
	var uses []use
	var out []Route
	gets := map[string]bool{}
	for _, r := range app.GetRoutes(false) {
		if len(r.Handlers) == 0 {
			continue
		}
		if !endpoints[&r.Handlers[0]] {
			u := use{method: r.Method, prefix: strings.TrimSuffix(r.Path, "/")}
			for _, h := range r.Handlers {
				u.auth = u.auth || core.IsRequireAuth(h)
			}
			uses = append(uses, u)
			continue
		}
		rt := Route{Method: r.Method, Path: r.Path, App: "core", Handler: shortFuncName(core.FuncName(r.Handlers[len(r.Handlers)-1]))}
		if owner, ok := s.owners[&r.Handlers[0]]; ok {
			rt.App = owner
		}
		for _, h := range r.Handlers {
			if core.IsRequireAuth(h) {
				rt.Auth = "token"
			}
		}
		if rt.Method == fiber.MethodGet {
			gets[rt.Path+" "+rt.Handler] = true
		}
		out = append(out, rt)
	}
	describers := map[string]core.RouteAuthDescriber{}
	for _, a := range p.Apps() {
		if d, ok := a.(core.RouteAuthDescriber); ok {
			describers[a.Name()] = d
		}
	}
	routes := out[:0]
	for _, rt := range out {
		if rt.Method == fiber.MethodHead && gets[rt.Path+" "+rt.Handler] {
			continue
		}
		for _, u := range uses {
			if u.auth && u.method == rt.Method && (u.prefix == "" || rt.Path == u.prefix || strings.HasPrefix(rt.Path, u.prefix+"/")) {
				rt.Auth = "token"
			}
		}
		if rt.Auth == "" {
			if d, ok := describers[rt.App]; ok {
				rt.Auth = d.RouteAuth(rt.Method, rt.Path)
			}
		}
		if rt.Auth == "" {
			rt.Auth = "none"
		}
		routes = append(routes, rt)
	}
	routes = collapseFiles(routes)
	order := map[string]int{}
	for i, m := range fiber.DefaultMethods {
		order[m] = i
	}
	sort.SliceStable(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return order[routes[i].Method] < order[routes[j].Method]
	})
	return routes
}

// collapseFiles turns the routes of a folder of static files (the admin's 48
// assets) into one row, /admin/assets/* with the handler's "(48 files)": a
// file route is one whose last segment has a dot, two folders deep at least,
// and the rows collapsed share method, app, handler, authentication and the
// first two folders.
func collapseFiles(routes []Route) []Route {
	type group struct {
		first int
		n     int
	}
	key := func(r Route) (string, string, bool) {
		segs := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
		last := segs[len(segs)-1]
		if len(segs) < 3 || !strings.Contains(last, ".") || strings.ContainsAny(r.Path, ":*") {
			return "", "", false
		}
		dir := "/" + segs[0] + "/" + segs[1]
		return strings.Join([]string{r.Method, r.App, r.Handler, r.Auth, dir}, " "), dir, true
	}
	groups := map[string]*group{}
	for i, r := range routes {
		if k, _, ok := key(r); ok {
			if g := groups[k]; g != nil {
				g.n++
			} else {
				groups[k] = &group{first: i, n: 1}
			}
		}
	}
	out := routes[:0:0]
	for i, r := range routes {
		k, dir, ok := key(r)
		if !ok || groups[k].n < 3 {
			out = append(out, r)
			continue
		}
		if groups[k].first == i {
			r.Path = dir + "/*"
			r.Handler = fmt.Sprintf("%s (%d files)", r.Handler, groups[k].n)
			out = append(out, r)
		}
	}
	return out
}

// recordOwners attributes the routes added since the last call to app.
func (s *Server) recordOwners(app string) {
	for _, stack := range s.app.Stack() {
		for _, r := range stack {
			if len(r.Handlers) == 0 {
				continue
			}
			if _, ok := s.owners[&r.Handlers[0]]; !ok {
				s.owners[&r.Handlers[0]] = app
			}
		}
	}
}

var closureSuffix = regexp.MustCompile(`(\.func\d+)+$|-fm$`)

// shortFuncName drops a function name's import path and closure suffixes:
// manouche/apps/users.(*handlers).me-fm becomes users.(*handlers).me.
func shortFuncName(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return closureSuffix.ReplaceAllString(name, "")
}

// WriteRoutes prints routes as a table.
func WriteRoutes(w io.Writer, routes []Route) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tPATH\tAPP\tHANDLER\tAUTH")
	for _, r := range routes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Method, r.Path, r.App, r.Handler, r.Auth)
	}
	return tw.Flush()
}
