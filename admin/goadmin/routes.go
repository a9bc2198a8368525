package goadmin

import (
	"strings"

	"manouche/admin"
)

// RouteAuth says what a route under /admin requires, for the routes command:
// "" for the public ones (login page, sign-in, assets), "staff session" or
// "superuser session" for the pages staff use, and "blocked" for what GoAdmin
// registers but the guard refuses with a 404 (its installer, menu and role
// editors, ...). A path with parameters (/admin/info/:__prefix) is a page of
// whatever model it names: a staff session.
func RouteAuth(method, path string) string {
	lower := strings.ToLower(path)
	if lower != admin.Prefix && !strings.HasPrefix(lower, admin.Prefix+"/") {
		return ""
	}
	rel := lower[len(admin.Prefix):]
	if strings.Contains(rel, ":") || strings.Contains(rel, "*") {
		if strings.HasPrefix(rel, "/assets/") {
			return ""
		}
		return "staff session"
	}
	r, ok := (&Admin{}).classify(method, rel)
	switch {
	case !ok:
		return "blocked"
	case r.public:
		return ""
	case r.superuser:
		return "superuser session"
	}
	return "staff session"
}
