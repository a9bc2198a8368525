package api

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// MIMEJSON is the Content-Type of every JSON response of the API contract.
// (Fiber's c.JSON says application/json with no charset.)
const MIMEJSON = fiber.MIMEApplicationJSONCharsetUTF8

// JSONCharset is a middleware that gives every JSON response the contract's
// Content-Type, application/json; charset=utf-8, whichever handler wrote it
// (c.JSON of an app, a generated resource, GoAdmin). Errors carry it through
// Write, including those raised before any middleware runs.
func JSONCharset() fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		setJSONCharset(&c.Response().Header)
		return err
	}
}

// setJSONCharset adds charset=utf-8 to a JSON Content-Type (application/json
// or application/*+json) that names no charset.
func setJSONCharset(h *fasthttp.ResponseHeader) {
	ct := h.ContentType()
	if bytes.Equal(ct, []byte(fiber.MIMEApplicationJSON)) {
		// What c.JSON sets: the common case, without the parsing below.
		h.SetContentType(fiber.MIMEApplicationJSONCharsetUTF8)
		return
	}
	mt, params, _ := bytes.Cut(ct, []byte(";"))
	mt = bytes.ToLower(bytes.TrimSpace(mt))
	if !bytes.Equal(mt, []byte(fiber.MIMEApplicationJSON)) &&
		!(bytes.HasPrefix(mt, []byte("application/")) && bytes.HasSuffix(mt, []byte("+json"))) {
		return
	}
	if strings.Contains(strings.ToLower(string(params)), "charset") {
		return
	}
	h.SetContentType(string(mt) + "; charset=utf-8")
}
