package site

import (
	"manouche/admin/goadmin"
	"manouche/core"
	"manouche/core/checks"
	"manouche/settings"
)

// secureCookies tells whether the admin marks its cookies Secure: when the
// site is served over https (SITE_SCHEME=https, or SECURE_SSL_REDIRECT: both
// on in production).
func secureCookies(st *settings.Settings) bool {
	return st.SiteScheme == "https" || st.SecureSSLRedirect
}

// DeployChecks implements core.DeployChecker: Django's cookie checks, read
// from the attributes the admin gives its cookies under these settings.
func (App) DeployChecks(st *settings.Settings) []checks.Issue {
	flags := goadmin.Config{SecureCookies: secureCookies(st)}.Cookies()
	var out []checks.Issue
	if !flags.SessionSecure {
		out = append(out, checks.Warningf("security.W012", "the admin's session cookie is not Secure (SITE_SCHEME is not https): it can be sent over plain HTTP and stolen. Serve the site over https and set SITE_SCHEME=https."))
	}
	if !flags.SessionHTTPOnly {
		out = append(out, checks.Warningf("security.W013", "the admin's session cookie is not HttpOnly: a script injected in a page could read it."))
	}
	if !flags.CSRFSecure {
		out = append(out, checks.Warningf("security.W016", "the admin's CSRF cookie is not Secure (SITE_SCHEME is not https). Serve the site over https and set SITE_SCHEME=https."))
	}
	return out
}

var _ core.DeployChecker = App{}
