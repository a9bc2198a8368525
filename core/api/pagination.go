package api

import (
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// Pagination defaults of the API contract.
const (
	DefaultPerPage = 30
	MaxPerPage     = 100
)

// Page is a parsed offset/per_page pair.
type Page struct {
	Offset  int
	PerPage int
}

// PageOf reads offset (default 0) and per_page (default 30, at most 100) from
// the query string. per_page above 100 is treated as 100; a non-integer,
// per_page below 1 or offset below 0 is a ValidationError on that parameter.
func PageOf(c *fiber.Ctx) (Page, error) {
	p := Page{PerPage: DefaultPerPage}
	var errs []FieldError
	if s := c.Query("offset"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			errs = append(errs, FieldErr("offset", "A valid integer is required."))
		case n < 0:
			errs = append(errs, FieldErr("offset", "Ensure this value is greater than or equal to 0."))
		default:
			p.Offset = n
		}
	}
	if s := c.Query("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			errs = append(errs, FieldErr("per_page", "A valid integer is required."))
		case n < 1:
			errs = append(errs, FieldErr("per_page", "Ensure this value is greater than or equal to 1."))
		default:
			p.PerPage = min(n, MaxPerPage)
		}
	}
	if len(errs) > 0 {
		return Page{}, Validation(errs...)
	}
	return p, nil
}

// List is the body of a list response.
type List[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// NewList builds a list response for one page of results. base is the absolute
// URL of the site ("https://api.example.com"), or "" to build links from the
// request itself (BaseURL: its Host, checked by ALLOWED_HOSTS, and a scheme
// only trusted proxies can change); links keep the request's other query
// parameters.
func NewList[T any](c *fiber.Ctx, base string, p Page, count int, results []T) List[T] {
	if results == nil {
		results = []T{}
	}
	l := List[T]{Count: count, Results: results}
	link := func(offset int) *string {
		if base == "" {
			base = BaseURL(c)
		}
		// The parameters as the handler read them (fasthttp's parser), not
		// url.ParseQuery's: that one drops a pair it finds malformed
		// ("search=%zz", "search=a;b"), and the link would lose the filter.
		q := url.Values{}
		c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
		q.Set("offset", strconv.Itoa(offset))
		q.Set("per_page", strconv.Itoa(p.PerPage))
		s := base + c.Path() + "?" + q.Encode()
		return &s
	}
	// count-Offset, not Offset+PerPage: an offset near the largest int would
	// overflow into a negative "next" offset.
	if count-p.Offset > p.PerPage {
		l.Next = link(p.Offset + p.PerPage)
	}
	if p.Offset > 0 {
		l.Previous = link(max(p.Offset-p.PerPage, 0))
	}
	return l
}
