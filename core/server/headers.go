package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"manouche/core/api"
)

// securityHeaderValues are the security headers every response carries:
// Fiber's helmet middleware's, with its defaults except where noted
// (TestSecurityHeadersMatchHelmet compares the two).
var securityHeaderValues = [][2]string{
	{fiber.HeaderXXSSProtection, "0"},
	{fiber.HeaderXContentTypeOptions, "nosniff"},
	{fiber.HeaderXFrameOptions, "DENY"},             // helmet: SAMEORIGIN
	{"Cross-Origin-Embedder-Policy", "unsafe-none"}, // helmet: require-corp
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "cross-origin"}, // helmet: same-origin
	{"Origin-Agent-Cluster", "?1"},
	{"Referrer-Policy", "same-origin"}, // helmet: no-referrer
	{"X-DNS-Prefetch-Control", "off"},
	{"X-Download-Options", "noopen"},
	{"X-Permitted-Cross-Domain-Policies", "none"},
	// No Content-Security-Policy (helmet's default is none either).
}

// headerKV is a response header with its name as fasthttp writes it.
type headerKV struct{ key, value []byte }

// canonicalHeaders returns the headers with their names normalized as
// ResponseHeader.Set would (X-DNS-Prefetch-Control: X-Dns-Prefetch-Control),
// in order, ready for SetCanonical.
func canonicalHeaders(kvs [][2]string) []headerKV {
	var h fasthttp.ResponseHeader
	for _, kv := range kvs {
		h.Set(kv[0], kv[1])
	}
	out := make([]headerKV, 0, len(kvs))
	h.VisitAll(func(k, v []byte) {
		if string(k) == fiber.HeaderContentType || string(k) == fiber.HeaderServer {
			return // VisitAll's defaults, not ours
		}
		out = append(out, headerKV{append([]byte(nil), k...), append([]byte(nil), v...)})
	})
	return out
}

// securityHeaders sets the security headers on every response, like
// helmet.New with securityHeaderValues, but from names and values prepared
// once: helmet normalizes each name and builds each value again on every
// request (and asks c.Protocol(), the proxy check included, for an HSTS it
// is not configured to send). With hstsSeconds > 0 it also sets
// Strict-Transport-Security on https responses only (RFC 6797: a browser
// ignores it over plain HTTP), the scheme read as api.Scheme reads it:
// behind NUM_PROXIES proxies, from X-Forwarded-Proto (helmet's own check
// trusts no proxy and would never see https behind the router).
func securityHeaders(hstsSeconds int, subdomains, preload bool) fiber.Handler {
	headers := canonicalHeaders(securityHeaderValues)
	var hsts []byte
	if hstsSeconds > 0 {
		v := "max-age=" + strconv.Itoa(hstsSeconds)
		if subdomains {
			v += "; includeSubDomains"
		}
		if preload {
			v += "; preload"
		}
		hsts = []byte(v)
	}
	hstsKey := []byte(fiber.HeaderStrictTransportSecurity)
	return func(c *fiber.Ctx) error {
		h := &c.Response().Header
		for _, kv := range headers {
			h.SetCanonical(kv.key, kv.value)
		}
		if hsts != nil && api.Scheme(c) == "https" {
			h.SetCanonical(hstsKey, hsts)
		}
		return c.Next()
	}
}
