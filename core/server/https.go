package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

// redirectExempt are the paths SECURE_SSL_REDIRECT leaves on plain HTTP:
// the health checks, which load balancers and uptime probes call on the
// dyno's or the host's plain-HTTP port (Django's SECURE_REDIRECT_EXEMPT).
func redirectExempt(path string) bool {
	return path == "/health" || strings.HasPrefix(path, "/health/")
}

// sslRedirect is SECURE_SSL_REDIRECT, like Django's SecurityMiddleware: a
// plain-HTTP GET or HEAD (the scheme read by api.Scheme, through the
// NUM_PROXIES trusted proxies) is sent to the same URL on https with a 301;
// any other plain-HTTP method answers 403 PermissionDenied, because a
// redirect would turn a POST into a GET (or make the client send its body,
// credentials included, in clear a second time), and the body already went
// out unencrypted. The host is the one ALLOWED_HOSTS accepted (api.Host:
// never X-Forwarded-Host); the path and query are the request's.
func sslRedirect() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if api.Scheme(c) == "https" || redirectExempt(c.Path()) {
			return c.Next()
		}
		u := c.Request().URI()
		target := "https://" + api.Host(c) + (&url.URL{Path: string(u.Path())}).EscapedPath()
		if q := u.QueryString(); len(q) > 0 {
			target += "?" + string(q)
		}
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead:
			c.Set(fiber.HeaderLocation, target)
			return c.SendStatus(http.StatusMovedPermanently)
		}
		return api.PermissionDenied("HTTPS is required: send the request to " + target + " (it was sent over plain HTTP, so treat any credentials it carried as exposed).")
	}
}
