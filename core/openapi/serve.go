package openapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http/httptest"
	"path"
	"strings"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5/static"
	"github.com/swaggest/swgui/v5emb"

	"manouche/core"
)

// The paths the document and its docs page are served at.
const (
	DocumentPath = "/api/openapi.json"
	DocsPath     = "/api/docs"
)

// Served is the document as the server serves it: encoded once, at start-up.
type Served struct {
	body atomic.Pointer[[]byte]
}

// Set stores the encoded document.
func (s *Served) Set(b []byte) { s.body.Store(&b) }

// Bytes returns the encoded document (nil before Set).
func (s *Served) Bytes() []byte {
	if b := s.body.Load(); b != nil {
		return *b
	}
	return nil
}

// Mount registers, described, GET /api/openapi.json (the document, once
// Set) and the Swagger UI page at /api/docs with its assets, which ship in
// the binary (swgui's v5emb: no CDN). app must be the project's root.
func Mount(app fiber.Router, p *core.Project, title string) *Served {
	served := &Served{}
	d := Describe(app, p)
	d.Get(DocumentPath, Op{
		ID:        "openapi_document",
		Tags:      []string{"docs"},
		Summary:   "This OpenAPI document",
		Responses: Responses{200: Content{Type: "application/json", Schema: &Schema{Type: "object", Description: "An OpenAPI 3.1 document."}}},
	}, func(c *fiber.Ctx) error {
		b := served.Bytes()
		if b == nil {
			return fiber.ErrServiceUnavailable
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Response().Header.SetContentType(fiber.MIMEApplicationJSONCharsetUTF8)
		return c.Send(b)
	})
	page := docsPage(title)
	d.Get(DocsPath, Op{
		ID:        "docs_page",
		Tags:      []string{"docs"},
		Summary:   "The API's docs page (Swagger UI)",
		Responses: Responses{200: Content{Type: "text/html", Schema: &Schema{Type: "string"}}},
	}, func(c *fiber.Ctx) error {
		c.Response().Header.SetContentType(fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(page)
	})
	d.Get(DocsPath+"/:file", Op{
		ID:        "docs_asset",
		Tags:      []string{"docs"},
		Summary:   "An asset of the docs page (scripts, styles, icons)",
		Params:    []*Parameter{{Name: "file", In: "path", Schema: &Schema{Type: "string"}}},
		Responses: Responses{200: assetContents()},
		Errors:    []int{404},
	}, serveAsset)
	return served
}

// docsPage renders Swagger UI's page once: its assets are under DocsPath.
func docsPage(title string) []byte {
	h := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       title,
		SwaggerJSON: DocumentPath,
		BasePath:    DocsPath + "/",
		SettingsUI:  map[string]string{"defaultModelsExpandDepth": "1", "persistAuthorization": "true"},
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", DocsPath+"/", nil))
	if rec.Code != 200 {
		panic(fmt.Sprintf("openapi: rendering the docs page answered %d", rec.Code))
	}
	return rec.Body.Bytes()
}

// serveAsset answers one of Swagger UI's embedded files: gzipped to a
// client that accepts it, as stored, else inflated.
func serveAsset(c *fiber.Ctx) error {
	name := c.Params("file")
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return fiber.ErrNotFound
	}
	typ := mime.TypeByExtension(path.Ext(name))
	if typ == "" {
		typ = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if b, err := fs.ReadFile(static.FS, name); err == nil {
		c.Response().Header.SetContentType(typ)
		return c.Send(b)
	}
	gz, err := fs.ReadFile(static.FS, name+".gz")
	if err != nil {
		return fiber.ErrNotFound
	}
	c.Response().Header.SetContentType(typ)
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(gz)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("openapi: docs asset %s: %w", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("openapi: docs asset %s: %w", name, err)
	}
	return c.Send(b)
}

// assetContents are the content types of the docs page's assets.
func assetContents() Contents {
	var cs Contents
	for _, t := range []string{"text/javascript", "application/javascript", "text/css", "text/html",
		"image/png", "application/json", "application/octet-stream"} {
		cs = append(cs, Content{Type: t, Schema: &Schema{Type: "string"}})
	}
	return cs
}
