package fuzzapi

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
)

// tinyPNG is a valid 1x1 PNG, the file of a valid upload.
var tinyPNG = func() []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	return b.Bytes()
}()

// badContentTypes replace a body's declared content type.
var badContentTypes = []string{"", "text/plain", "application/xml", "application/x-www-form-urlencoded",
	"multipart/form-data", "multipart/form-data; boundary=", "application/json; charset=\"", "application/json; charset=utf-16",
	"image/png", "*/*", "application/json, text/plain"}

// build makes request i of op. late is true in the last requests of the run,
// when operations that could remove the fuzzer's user get its real token.
func (f *fuzzer) build(r *rand.Rand, op *operation, late bool) *built {
	g := &gen{r: r, s: f.spec}
	b := &built{Method: op.Method, Header: http.Header{}}
	b.Header.Set("Accept", "application/json")
	mode := r.IntN(100)
	var variants []string

	// Path and query parameters.
	path := op.Path
	badPath := mode >= 70 && mode < 80 && len(op.pathParams()) > 0
	badQuery := mode >= 80 && mode < 88
	q := url.Values{}
	for _, p := range op.Params {
		switch p.In {
		case "path":
			v, what := f.pathValue(g, op, p, badPath)
			if what != "" {
				variants = append(variants, what)
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		case "query":
			if !p.Required && r.IntN(2) == 0 && !badQuery {
				continue
			}
			v := scalar(g.valid(p.Schema, p.Name, 0))
			if badQuery && r.IntN(2) == 0 {
				v = badScalar(g, p.Schema)
				variants = append(variants, "bad query parameter "+p.Name)
			}
			q.Add(p.Name, v)
		case "header":
			if p.Required || r.IntN(2) == 0 {
				b.Header.Set(p.Name, strings.Map(printable, scalar(g.valid(p.Schema, p.Name, 0))))
			}
		}
	}
	if badQuery && (len(variants) == 0 || r.IntN(3) == 0) {
		k := []string{"offset", "per_page", "search", "page", "ordering", g.word(5)}[r.IntN(6)]
		q.Add(k, badScalar(g, nil))
		variants = append(variants, "odd query parameter "+k)
	}
	b.URL = f.opts.BaseURL + path
	if len(q) > 0 {
		b.URL += "?" + q.Encode()
	}

	// The body.
	switch {
	case op.Body != nil && (op.Body.Required || r.IntN(5) > 0 || mode >= 40 && mode < 70):
		variants = append(variants, f.body(g, op, b, mode)...)
	case mode >= 60 && mode < 70:
		b.Body = []byte(rawBodies[r.IntN(len(rawBodies))])
		b.Header.Set("Content-Type", "application/json")
		variants = append(variants, "a body the operation does not take")
	}

	// Credentials.
	tok := ""
	if op.Secured || r.IntN(10) == 0 {
		tok = f.auth.current()
	}
	// An operation that could remove the caller itself (DELETE without an
	// id: /api/me) never gets the token of the user the run logs in as
	// before the end: it gets a disposable user's (signed up for it, again
	// when that one is gone) with --register, else the real token only in
	// the run's last requests.
	if op.Method == http.MethodDelete && len(op.pathParams()) == 0 && tok != "" {
		switch {
		case f.opts.Register:
			tok = f.auth.disposable()
		case !late:
			tok = ""
		}
	}
	if mode >= 88 && mode < 97 {
		if h := f.badAuth(g, tok); h != "" {
			b.Header.Set("Authorization", h)
		}
		variants = append(variants, "bad credentials")
	} else if tok != "" && op.Secured {
		b.Header.Set("Authorization", "Bearer "+tok)
		b.RealToken = tok
	}

	// Odd headers.
	if mode >= 97 {
		switch r.IntN(4) {
		case 0:
			b.Header.Set("Accept", []string{"application/vnd.manouche+json; version=9.9", "text/html", "application/xml", "*/*", "application/json;q=0"}[r.IntN(5)])
			variants = append(variants, "Accept "+b.Header.Get("Accept"))
		case 1:
			b.Header.Set("X-Request-ID", strings.Repeat("r", 1000))
			variants = append(variants, "a huge X-Request-ID")
		case 2:
			if b.Body != nil {
				b.Header.Set("Content-Encoding", "gzip")
				variants = append(variants, "Content-Encoding gzip on a plain body")
			}
		case 3:
			if r.IntN(4) == 0 {
				b.Body = bytes.Repeat([]byte("a"), 6<<20)
				b.Header.Set("Content-Type", "application/json")
				variants = append(variants, "a 6 MB body")
			}
		}
	}
	if len(variants) == 0 {
		variants = []string{"valid"}
	}
	b.Variant = strings.Join(variants, ", ")
	return b
}

// pathValue is a path parameter: an id the run created (when the path is a
// collection's item), one generated from the schema (an unknown id), or, when
// bad, a value no id is.
func (f *fuzzer) pathValue(g *gen, op *operation, p param, bad bool) (string, string) {
	if bad {
		switch g.r.IntN(3) {
		case 0:
			return []string{"nope", "0", "-1", "..", "%", "null", "00000000-0000-0000-0000-000000000000", g.uuid() + "x", strings.ToUpper(g.uuid())}[g.r.IntN(9)], "bad path parameter " + p.Name
		case 1:
			// Never empty: /posts/{id} with an empty id is /posts/, another
			// operation's path (a path parameter is required and has a value).
			if v := g.oddShort(p.Schema); v != "" {
				return v, "odd path parameter " + p.Name
			}
			return " ", "odd path parameter " + p.Name
		}
		return g.uuid(), "unknown id " + p.Name
	}
	collection, _, _ := strings.Cut(op.Path, "/{"+p.Name+"}")
	if g.r.IntN(10) < 8 {
		if id, ok := f.knownID(g.r, collection); ok {
			return id, ""
		}
	}
	return scalar(g.valid(p.Schema, p.Name, 0)), ""
}

// badScalar is a query parameter value the schema does not allow, or an odd one.
func badScalar(g *gen, sch map[string]any) string {
	types, _ := schemaTypes(sch)
	if (slices.Contains(types, "integer") || slices.Contains(types, "number")) && g.r.IntN(2) == 0 {
		return []string{"abc", "-1", "0", "1.5", "99999999999999999999", "1e3", "0x10", "", " 1", "９"}[g.r.IntN(10)]
	}
	return g.oddShort(sch)
}

// body sets the request's body and Content-Type, valid or not.
func (f *fuzzer) body(g *gen, op *operation, b *built, mode int) []string {
	ct := op.Body.Types[0]
	if slices.Contains(op.Body.Types, "application/json") {
		ct = "application/json"
	}
	sch := op.Body.Media[ct]
	var variants []string
	multi := strings.HasPrefix(ct, "multipart/form-data")
	switch {
	case mode >= 60 && mode < 70 && g.r.IntN(2) == 0:
		b.Body = []byte(rawBodies[g.r.IntN(len(rawBodies))])
		if multi {
			b.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		} else {
			b.Header.Set("Content-Type", ct)
		}
		return []string{"malformed body"}
	case mode >= 60 && mode < 70:
		bad := badContentTypes[g.r.IntN(len(badContentTypes))]
		obj, _ := g.valid(sch, "", 0).(map[string]any)
		b.Body, _ = json.Marshal(obj)
		if bad != "" {
			b.Header.Set("Content-Type", bad)
		}
		return []string{"Content-Type " + strings.TrimSpace(bad+" (declared "+ct+")")}
	}
	obj, isObj := g.valid(sch, "", 0).(map[string]any)
	if mode >= 40 && mode < 60 && isObj {
		var what string
		obj, what = g.mutate(obj, g.resolved(sch))
		variants = append(variants, what)
	}
	if multi {
		b.Body, b.Header["Content-Type"] = f.multipart(g, g.resolved(sch), obj, mode >= 40 && mode < 60)
		return variants
	}
	if isObj {
		b.Body, _ = json.Marshal(obj)
	} else {
		b.Body, _ = json.Marshal(g.valid(sch, "", 0))
	}
	b.Header.Set("Content-Type", ct)
	return variants
}

func (g *gen) resolved(v any) map[string]any {
	m, _ := g.s.resolve(v).(map[string]any)
	if all, ok := m["allOf"].([]any); ok {
		return g.mergeAll(all, m)
	}
	return m
}

// multipart encodes obj as multipart/form-data: binary properties as files
// (a tiny PNG, or when bad, bytes that are not an image, nothing, or a
// hostile file name), the others as values.
func (f *fuzzer) multipart(g *gen, sch, obj map[string]any, bad bool) ([]byte, []string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	props, _ := sch["properties"].(map[string]any)
	for _, k := range sortedKeys(obj) {
		ps, _ := g.s.resolve(props[k]).(map[string]any)
		format, _ := ps["format"].(string)
		if format == "binary" || ps["contentMediaType"] != nil || ps["contentEncoding"] != nil {
			name, content := "upload.png", tinyPNG
			if bad {
				switch g.r.IntN(4) {
				case 0:
					content = []byte("not an image at all")
				case 1:
					content = nil
				case 2:
					name = []string{"../../etc/passwd", "\u202egnp.exe", strings.Repeat("n", 3000), "a\"b.png"}[g.r.IntN(4)]
				case 3:
					content = append(bytes.Clone(tinyPNG[:20]), "truncated"...)
				}
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", multipart.FileContentDisposition(k, name))
			h.Set("Content-Type", "image/png")
			pw, _ := w.CreatePart(h)
			_, _ = pw.Write(content)
			continue
		}
		_ = w.WriteField(k, scalar(obj[k]))
	}
	_ = w.Close()
	return buf.Bytes(), []string{w.FormDataContentType()}
}

// badAuth is an Authorization header that must not authenticate: none,
// garbage, another scheme, a revoked or altered token, a long one. Request
// heads stay under 4 KB, fasthttp's default limit: a longer head is refused
// (431) by the HTTP server before any route, whatever the document says.
func (f *fuzzer) badAuth(g *gen, real string) string {
	choices := []string{
		"", "Bearer", "Bearer ", "Bearer " + g.word(43), "Basic dXNlcjpwYXNzd29yZA==", "Token " + g.word(40),
		"Bearer " + strings.Repeat("t", 2500), "Bearer ñ😀", "Bearer a b c", "Bearer " + g.uuid(),
	}
	if real != "" {
		choices = append(choices, "Bearer "+real+"x", "Bearer "+real[:len(real)/2], "Token "+real)
	}
	if old := f.auth.revokedToken(g.r); old != "" {
		choices = append(choices, "Bearer "+old, "Bearer "+old)
	}
	return choices[g.r.IntN(len(choices))]
}

// printable drops the bytes an HTTP header value cannot hold.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}
