// Package admin declares the staff admin's pages the way Django's ModelAdmin does (ModelAdmin,
// Field, Kind, Action) and what the admin needs from the users app (User, Pages, Stat). It
// imports neither the core nor GoAdmin: apps declare their admin pages with it and build
// without GoAdmin. Package admin/goadmin serves these declarations with GoAdmin, and
// admin/site is the installed app that mounts it at /admin.
package admin

import "errors"

// Prefix is the URL path the admin is mounted at.
const Prefix = "/admin"

// User is what the admin needs to know about an account of the users app.
type User struct {
	ID          string
	Email       string
	FirstName   string
	LastName    string
	IsActive    bool
	IsStaff     bool
	IsSuperuser bool
	// SessionKey changes whenever the account's password changes (the users app gives its
	// password hash). A login binds the admin session to it, and the session ends as soon
	// as it differs: a password change, a reset or the changepassword command ends every
	// admin session of the account. It is never stored or shown, only a keyed digest of it.
	SessionKey string
}

// ErrInvalidCredentials is what Authenticate returns for an unknown email or a wrong password.
var ErrInvalidCredentials = errors.New("invalid email or password")

// Pages is the optional interface of an installed app that has admin pages. The admin's app
// glue (which imports the core; this package does not) collects them from every app.
type Pages interface {
	AdminPages() []ModelAdmin
}

// Stat is one figure on the dashboard.
type Stat struct {
	Label string
	Value int64
	// URL is an optional link under /admin, e.g. "/admin/info/users".
	URL string
}
