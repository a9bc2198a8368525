package api

import (
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const numProxiesKey = "manouche.num_proxies"

// TrustProxies is the first middleware of the server: it records how many
// reverse proxies (NUM_PROXIES) stand in front of it, for ClientIP, Scheme
// and Host. The server configures Fiber to trust no forwarded header itself
// (c.IP, c.Protocol and c.Hostname read the socket and the Host header only),
// so these functions are the one place where X-Forwarded-* is read. A request
// that never passed through this middleware (errors raised while reading it)
// trusts no proxy.
func TrustProxies(n int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if n > 0 {
			c.Locals(numProxiesKey, n)
		}
		return c.Next()
	}
}

func numProxies(c *fiber.Ctx) int {
	n, _ := c.Locals(numProxiesKey).(int)
	return n
}

// forwarded returns the value a header carried when the n trusted proxies
// handed the request on, the way Django REST framework reads X-Forwarded-For:
// each proxy appends the address it received the request from, so the entry
// n from the right is the last one no client could have written (the leftmost
// one when there are fewer entries). Repeated header lines count as one list.
func forwarded(c *fiber.Ctx, header string, n int) string {
	var parts []string
	for _, v := range c.Request().Header.PeekAll(header) {
		for _, p := range strings.Split(string(v), ",") {
			parts = append(parts, strings.TrimSpace(p))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return parts[max(len(parts)-n, 0)]
}

// ClientIP returns the client's address: the socket's peer, or, with
// NUM_PROXIES trusted proxies, the address NUM_PROXIES entries from the right
// of X-Forwarded-For (the socket's when that is not an IP address).
// Throttles, the access log and the admin's operation log all use it.
func ClientIP(c *fiber.Ctx) string {
	socket := c.Context().RemoteIP().String()
	n := numProxies(c)
	if n <= 0 {
		return socket
	}
	ip := net.ParseIP(forwarded(c, fiber.HeaderXForwardedFor, n))
	if ip == nil {
		return socket
	}
	return ip.String()
}

// Scheme returns "https" or "http": https for a TLS connection, otherwise,
// with NUM_PROXIES trusted proxies, what X-Forwarded-Proto says (read like
// X-Forwarded-For), otherwise http. No other header (X-Forwarded-Ssl,
// X-Url-Scheme, X-Forwarded-Protocol) is read.
func Scheme(c *fiber.Ctx) string {
	if c.Context().IsTLS() {
		return "https"
	}
	if n := numProxies(c); n > 0 && strings.EqualFold(forwarded(c, fiber.HeaderXForwardedProto, n), "https") {
		return "https"
	}
	return "http"
}

// Host returns the host (with its port, if any) the client asked for: the
// request line's absolute URI or the Host header, never X-Forwarded-Host,
// whatever NUM_PROXIES says (like Django's default USE_X_FORWARDED_HOST =
// False): Heroku's router passes a client's X-Forwarded-Host on untouched.
// ALLOWED_HOSTS checks this value, so every link built from it is checked.
func Host(c *fiber.Ctx) string { return string(c.Request().URI().Host()) }

// BaseURL is Scheme://Host, the base of absolute links built from the request.
func BaseURL(c *fiber.Ctx) string { return Scheme(c) + "://" + Host(c) }
