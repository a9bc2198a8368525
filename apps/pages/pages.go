// Package pages is the first app: the site's home page and its plain-text
// files (robots.txt, humans.txt). It shows the shape every app has: a value
// listed in apps.Installed (apps/apps.go), routes, and templates that the
// project's templates/ folder can override.
package pages

import (
	"embed"
	"io/fs"

	"github.com/gofiber/fiber/v2"

	"manouche/core"
)

//go:embed templates
var templateFiles embed.FS

// App is the pages app.
type App struct{}

// Name is the app's name.
func (App) Name() string { return "pages" }

// Prefix mounts the pages at the site root.
func (App) Prefix() string { return "/" }

// Templates returns the app's own templates; templates/pages/… in the project overrides them.
func (App) Templates() fs.FS {
	sub, err := fs.Sub(templateFiles, "templates")
	if err != nil {
		panic(err)
	}
	return sub
}

// Routes serves GET /, /robots.txt and /humans.txt.
func (App) Routes(r fiber.Router, p *core.Project) {
	r.Get("/", func(c *fiber.Ctx) error {
		c.Type("html", "utf-8")
		return p.Templates.Render(c, "pages/index.html", fiber.Map{
			"SiteName": p.Settings.SiteName,
			"Debug":    p.Settings.Debug,
		})
	})
	r.Get("/robots.txt", textFile(p, "pages/robots.txt"))
	r.Get("/humans.txt", textFile(p, "pages/humans.txt"))
}

// textFile serves a template as text/plain.
func textFile(p *core.Project, name string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		b, err := fs.ReadFile(p.Templates.FS(), name)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
		return c.Send(b)
	}
}

var (
	_ core.Router    = App{}
	_ core.Templater = App{}
)
