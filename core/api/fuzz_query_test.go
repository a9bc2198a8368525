package api_test

import (
	"errors"
	"math"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"manouche/core/api"
)

// queryCtx runs fn with a Fiber context for GET /api/items?rawQuery on host
// example.com, without a server.
func queryCtx(app *fiber.App, requestURI string, fn func(c *fiber.Ctx)) {
	fctx := &fasthttp.RequestCtx{}
	fctx.Request.Header.SetMethod(fiber.MethodGet)
	fctx.Request.SetRequestURI(requestURI)
	fctx.Request.Header.SetHost("example.com")
	c := app.AcquireCtx(fctx)
	defer app.ReleaseCtx(c)
	fn(c)
}

// FuzzPageOf checks the list query parser (offset, per_page) and the links
// of a list page (NewList) on any query string:
//   - PageOf answers a page within the contract's bounds (offset >= 0,
//     1 <= per_page <= 100, the defaults for absent parameters), or a 400
//     ValidationError naming only offset and per_page, each once, and only
//     when that parameter was sent;
//   - the next and previous links parse back (PageOf on the link) to the
//     page after and the page before, with the same per_page;
//   - the links keep every other query parameter with the value the
//     handler read (search=..., filters), as the contract says.
func FuzzPageOf(f *testing.F) {
	for _, s := range []string{
		"",
		"offset=30",
		"offset=10&per_page=20",
		"per_page=500",
		"offset=9223372036854775807",
		"offset=9223372036854775807&per_page=100",
		"offset=-9223372036854775808",
		"offset=99999999999999999999",
		"offset=1e3&per_page=0x10",
		"offset=+5&per_page=-0",
		"offset=%00&per_page=%ff",
		"offset=1&offset=2&per_page=3&per_page=4",
		"search=caf%C3%A9+au+lait&offset=30",
		"search=%zz&offset=30",
		"search=a;b&offset=30",
		"search=%E2%80%AE%F0%9F%98%80&offset=1&per_page=1",
		"search==&=x&&offset=2&per_page=1",
		"search&offset=5&per_page=2",
		"se%61rch=x&offset=5&per_page=2",
		"offset=５&per_page=１",
		"a[]=1&a[]=2&offset=3&per_page=1",
		"per_page=100&offset=100&search=" + strings.Repeat("%F0%9F%98%80", 2000),
		"per_page=100&offset=100&search=" + strings.Repeat("%00", 100),
	} {
		f.Add(s)
	}
	app := fiber.New()
	f.Fuzz(func(t *testing.T, rawQuery string) {
		if !validRequestTarget(rawQuery) {
			t.Skip("not a request target an HTTP client can send: control bytes, spaces or a fragment")
		}
		var page api.Page
		var perr error
		var other map[string][]string
		var offsetSent, perPageSent bool
		var next, prev *string
		queryCtx(app, "/api/items?"+rawQuery, func(c *fiber.Ctx) {
			offsetSent, perPageSent = c.Query("offset") != "", c.Query("per_page") != ""
			page, perr = api.PageOf(c)
			if perr != nil {
				return
			}
			other = otherParams(c)
			count := math.MaxInt
			if page.Offset < math.MaxInt-2*page.PerPage {
				count = page.Offset + 2*page.PerPage
			}
			l := api.NewList(c, "", page, count, []int{})
			next, prev = l.Next, l.Previous
		})
		if perr != nil {
			var e *api.Error
			if !errors.As(perr, &e) || e.Status != 400 || e.Type != api.TypeValidation || len(e.Errors) == 0 || len(e.Errors) > 2 {
				t.Fatalf("PageOf(%q) = %v, want a 400 ValidationError", rawQuery, perr)
			}
			seen := map[string]bool{}
			for _, fe := range e.Errors {
				if fe.Field != "offset" && fe.Field != "per_page" || seen[fe.Field] || fe.Message == "" {
					t.Fatalf("PageOf(%q): bad entry %+v in %v", rawQuery, fe, perr)
				}
				seen[fe.Field] = true
			}
			if seen["offset"] && !offsetSent || seen["per_page"] && !perPageSent {
				t.Fatalf("PageOf(%q): an error on a parameter that was not sent: %v", rawQuery, perr)
			}
			return
		}
		if page.Offset < 0 || page.PerPage < 1 || page.PerPage > api.MaxPerPage {
			t.Fatalf("PageOf(%q) = %+v, out of the contract's bounds", rawQuery, page)
		}
		if !offsetSent && page.Offset != 0 || !perPageSent && page.PerPage != api.DefaultPerPage {
			t.Fatalf("PageOf(%q) = %+v, want the defaults for absent parameters", rawQuery, page)
		}
		check := func(name string, link *string, want api.Page) {
			u, err := url.Parse(*link)
			if err != nil || u.Scheme != "http" || u.Host != "example.com" || u.Path != "/api/items" {
				t.Fatalf("%s link of %q: %q (%v)", name, rawQuery, *link, err)
			}
			queryCtx(app, u.RequestURI(), func(c *fiber.Ctx) {
				got, err := api.PageOf(c)
				if err != nil || got != want {
					t.Fatalf("%s link of %q: %q reads as %+v, %v; want %+v", name, rawQuery, *link, got, err, want)
				}
				if kept := otherParams(c); !equalParams(kept, other) {
					t.Fatalf("%s link of %q: %q keeps the parameters %q, want %q", name, rawQuery, *link, kept, other)
				}
			})
		}
		if page.Offset < math.MaxInt-2*page.PerPage {
			if next == nil {
				t.Fatalf("PageOf(%q): no next link with rows left", rawQuery)
			}
			check("next", next, api.Page{Offset: page.Offset + page.PerPage, PerPage: page.PerPage})
		}
		if page.Offset > 0 {
			if prev == nil {
				t.Fatalf("PageOf(%q): no previous link at offset %d", rawQuery, page.Offset)
			}
			check("previous", prev, api.Page{Offset: max(page.Offset-page.PerPage, 0), PerPage: page.PerPage})
		}
	})
}

// validRequestTarget reports whether a query string can appear as it is in
// a request line: no control bytes, spaces or '#' (clients percent-encode them).
func validRequestTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == 0x7f || b == '#' {
			return false
		}
	}
	return true
}

// otherParams returns the query parameters but offset and per_page, as the
// handler reads them.
func otherParams(c *fiber.Ctx) map[string][]string {
	out := map[string][]string{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if key := string(k); key != "offset" && key != "per_page" {
			out[key] = append(out[key], string(v))
		}
	})
	return out
}

func equalParams(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}
