package goadmin

import (
	"manouche/admin"

	"bytes"
	"errors"
	"mime/multipart"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// GoAdmin reads its parameters from a request it rebuilds itself (its Fiber adapter parses the
// raw request URI with net/url and the body with net/http), which is not the request fasthttp
// parsed for the guard: a '#' in the query, a ';', a duplicated key or a Content-Type spelt in
// another case are read differently by the two. So the guard never passes the client's request
// on: it refuses a request URI a browser would not send, keeps only the parameters it knows and
// has validated, and hands GoAdmin a request URI, a body and cookies it wrote itself.

// Parameters of GoAdmin's pages and forms besides the ones of guard.go.
const (
	paramNoAnimation = "__go_admin_no_animation_"
	paramToken       = "__go_admin_t_"        // GoAdmin's form token
	paramPrevious    = "__go_admin_previous_" // the list a form goes back to after saving
	paramPostType    = "__go_admin_post_type" // "continue editing" after saving
	filterOperator   = "__goadmin_operator__"
	filterStart      = "_start__goadmin"
	filterEnd        = "_end__goadmin"
	maxValueLen      = 500 // a search or filter value
)

// filterOperators are the operators GoAdmin turns into SQL without a syntax error.
var filterOperators = []string{"like", "gr", "gq", "eq", "ne", "le", "lq"}

// errBadURI is the reason for every refused request URI.
var errBadURI = errors.New("malformed request URI")

// splitRequestURI returns the path and the query of a raw request URI, refusing anything a
// browser never sends to a server: an absolute form, a fragment, a path with characters
// outside [A-Za-z0-9._~/-] (percent-encodings included), an empty, "." or ".." segment or a
// segment ending with a dot, and control characters or spaces in the query.
func splitRequestURI(raw string) (path, query string, err error) {
	if raw == "" || raw[0] != '/' || strings.ContainsRune(raw, '#') {
		return "", "", errBadURI
	}
	path, query, _ = strings.Cut(raw, "?")
	for i := 0; i < len(path); i++ {
		b := path[i]
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("._~/-", b) >= 0
		if !ok {
			return "", "", errBadURI
		}
	}
	segs := strings.Split(path[1:], "/")
	for i, s := range segs {
		if s == "" && i < len(segs)-1 || strings.HasSuffix(s, ".") {
			return "", "", errBadURI // "//", "/./", "/../", "users."
		}
	}
	for i := 0; i < len(query); i++ {
		if query[i] <= ' ' || query[i] >= 0x7f {
			return "", "", errBadURI
		}
	}
	return path, query, nil
}

// reservedKey reports whether a parameter name is one no client may send in any spelling:
// the route's table (the adapter appends it after the client's parameters, and GoAdmin reads
// the first), an action's id, and join filters (GoAdmin writes their names into SQL).
func reservedKey(key string) bool {
	k := strings.ToLower(key)
	return k == paramPrefix || k == paramOpID || strings.Contains(k, joinInfix)
}

// allowed validates values against the parameters the route takes in the query (form false)
// or in a POST body (form true) and returns those parameters only: anything else is dropped,
// so GoAdmin never reads it. A reserved name, a value out of its declaration or a parameter
// given twice is an error.
func (r route) allowed(values url.Values, form bool) (url.Values, error) {
	out := url.Values{}
	for key, vals := range values {
		if reservedKey(key) {
			return nil, errors.New("reserved parameter " + key)
		}
		check, ok := r.param(key, form)
		if !ok {
			continue
		}
		if len(vals) != 1 {
			return nil, errors.New("parameter " + key + " is given more than once")
		}
		if strings.IndexByte(vals[0], 0) >= 0 || !utf8.ValidString(vals[0]) {
			// No column holds either, and Postgres refuses both with an error GoAdmin
			// turns into a panic: a form error here, not a 500.
			return nil, errors.New("parameter " + key + " holds a NUL character or invalid UTF-8")
		}
		v, err := check(vals[0])
		if err != nil {
			return nil, err
		}
		out.Set(key, v)
	}
	return out, nil
}

// param returns the check of a parameter the route takes, or false. A check returns the
// value to pass on (the value itself, or a rewritten one).
func (r route) param(key string, form bool) (func(string) (string, error), bool) {
	if form {
		return r.formParam(key)
	}
	if r.public || r.model == "" {
		return nil, false // login's ref, the dashboard, logout and assets: handled elsewhere or none
	}
	switch key {
	case paramPage, paramPageSize:
		return func(v string) (string, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || (key == paramPageSize && n > maxPageSize) {
				return "", errors.New("bad page number or size")
			}
			return strconv.Itoa(n), nil
		}, true
	case paramSort:
		return func(v string) (string, error) {
			if !slices.Contains(r.sortable, v) {
				return "", errors.New("unknown sort column")
			}
			return v, nil
		}, true
	case paramSortType:
		return func(v string) (string, error) {
			if v != "asc" && v != "desc" {
				return "", errors.New("sort order must be asc or desc")
			}
			return v, nil
		}, true
	case paramColumns:
		return func(v string) (string, error) {
			for _, c := range strings.Split(v, ",") {
				if c != "" && !slices.Contains(r.columns, c) {
					return "", errors.New("unknown column")
				}
			}
			return v, nil
		}, true
	case paramNoAnimation:
		return func(v string) (string, error) {
			if v != "true" && v != "false" {
				return "", errors.New("bad " + paramNoAnimation)
			}
			return v, nil
		}, true
	case paramEditPK, paramDetailPK:
		return func(v string) (string, error) {
			if !validKey(r.pkKind, v) {
				return "", errors.New("malformed primary key")
			}
			return v, nil
		}, true
	case paramPKs:
		return r.keyList, true
	case searchParam:
		if !r.search {
			return nil, false
		}
		return func(v string) (string, error) { return v, checkLen(v) }, true
	}
	for _, f := range r.filters {
		switch key {
		case f, f + filterStart, f + filterEnd:
			return func(v string) (string, error) { return v, checkLen(v) }, true
		case f + filterOperator:
			return func(v string) (string, error) {
				if !slices.Contains(filterOperators, v) {
					return "", errors.New("unknown filter operator")
				}
				return v, nil
			}, true
		}
	}
	return nil, false
}

// formParam returns the check of a POST body field the route takes.
func (r route) formParam(key string) (func(string) (string, error), bool) {
	asIs := func(v string) (string, error) { return v, nil }
	switch r.verb {
	case "signin":
		if key == "username" || key == "password" {
			return asIs, true
		}
	case "delete":
		if key == paramActionID {
			return r.keyList, true
		}
	case "operation":
		if key == paramActionID {
			return r.key, true
		}
	case "new", "edit":
		switch {
		case key == r.pk:
			return func(v string) (string, error) {
				if v == "" && r.verb == "new" {
					return v, nil
				}
				return r.key(v)
			}, true
		case slices.Contains(r.form, key):
			return asIs, true
		case key == paramToken:
			return func(v string) (string, error) { return v, checkLen(v) }, true
		case key == paramPostType:
			return func(v string) (string, error) {
				if v != "0" && v != "1" {
					return "", errors.New("bad " + paramPostType)
				}
				return v, nil
			}, true
		case key == paramPrevious:
			return func(v string) (string, error) { return r.previous(v), nil }, true
		}
	}
	return nil, false
}

func (r route) key(v string) (string, error) {
	if !validKey(r.pkKind, v) {
		return "", errors.New("malformed primary key")
	}
	return v, nil
}

func (r route) keyList(v string) (string, error) {
	for _, id := range strings.Split(v, ",") {
		if !validKey(r.pkKind, id) {
			return "", errors.New("malformed primary key")
		}
	}
	return v, nil
}

func checkLen(v string) error {
	if len(v) > maxValueLen {
		return errors.New("parameter too long")
	}
	return nil
}

// previous rewrites the page a create or edit form goes back to (GoAdmin renders that list
// with the parameters of its query): a page of this model, with only the parameters its list
// takes, or the list itself.
func (r route) previous(v string) string {
	list := admin.Prefix + "/info/" + r.model
	u, err := url.Parse(v)
	if err != nil || u.Opaque != "" || u.User != nil || u.Fragment != "" {
		return list
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	if !strings.EqualFold(p, list) && !strings.EqualFold(p, list+"/edit") && !strings.EqualFold(p, list+"/new") &&
		!strings.EqualFold(p, list+"/detail") {
		return list
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return list
	}
	info := r
	info.verb = "info"
	clean, err := info.allowed(q, false)
	if err != nil || len(clean) == 0 {
		return list
	}
	return list + "?" + clean.Encode()
}

// handOver rewrites the request GoAdmin will read: the routed path with the approved query,
// the approved form as a fresh multipart body (or no body for GET and HEAD), the session
// cookie the guard checked and no other cookie, and no Referer (GoAdmin copies it into its
// forms' return address) unless keepReferer.
func handOver(c *fiber.Ctx, query, form url.Values, sid string, keepReferer bool) error {
	req := c.Request()
	uri := c.Path()
	if len(query) > 0 {
		uri += "?" + query.Encode()
	}
	req.SetRequestURI(uri)
	req.Header.DelAllCookies()
	if sid != "" {
		req.Header.SetCookie(sessionCookie, sid)
	}
	if !keepReferer {
		req.Header.Del(fiber.HeaderReferer)
	}
	req.Header.Del(fiber.HeaderContentEncoding)
	req.Header.Del(fiber.HeaderTransferEncoding)
	if form == nil {
		req.ResetBody()
		req.Header.Del(fiber.HeaderContentType)
		req.Header.SetContentLength(0)
		return nil
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.WriteField(k, form.Get(k)); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	req.SetBody(body.Bytes())
	req.Header.SetContentType(w.FormDataContentType())
	req.Header.SetContentLength(body.Len())
	req.PostArgs().Reset()
	return nil
}
