package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"manouche/core/api"
)

// Route is one registered route, as the server lists it.
type Route struct {
	Method, Path string
	// App is the installed app that added it, or "core".
	App string
	// Auth is "token" when the route sits behind RequireAuth (on the route
	// or on a prefix), else what the server says ("none").
	Auth string
}

// Documented reports whether a route belongs in the document: the JSON API
// under /api and the health endpoints (not the admin, media or pages).
func Documented(path string) bool {
	return path == "/api" || strings.HasPrefix(path, "/api/") || path == "/health" || strings.HasPrefix(path, "/health/")
}

// CommonErrors says which error statuses an operation declares without being
// told, because the stack answers them whatever the route is:
//
//   - every route: 400 (a Host header ALLOWED_HOSTS refuses, a NUL in the
//     URL, a malformed body or query), 413 (a body above MAX_UPLOAD_SIZE),
//     431 (request headers above the server's limit), 500, 503
//     (REQUEST_TIMEOUT, a drain, a service down);
//   - every /api route but the document and its docs page: 406 (an Accept
//     header asking another version) and 429 (the anonymous API throttle);
//   - a route that reads a token (RequireAuth or OptionalAuth): 401;
//   - a route with path parameters: 404 (unknown id);
//   - a route with a body: 415 (a content type or encoding it cannot read);
//   - a route with permissions: 403.
func CommonErrors(path string, op Op, auth string, hasPathParams bool) []int {
	out := []int{400, 413, 431, 500, 503}
	if strings.HasPrefix(path, "/api") && path != DocumentPath && path != DocsPath && !strings.HasPrefix(path, DocsPath+"/") {
		out = append(out, 406, 429)
	}
	if auth != "" {
		out = append(out, 401)
	}
	if hasPathParams {
		out = append(out, 404)
	}
	if op.Body != nil || op.Upload != "" {
		out = append(out, 415)
	}
	if len(op.Permissions) > 0 || op.Permission != "" {
		out = append(out, 403)
	}
	return out
}

// errorTypes are the error_type values of each status (API.md).
var errorTypes = map[int]string{
	400: "ValidationError (field errors) or ParseError (the body is not valid JSON, or a value has the wrong type)",
	401: "NotAuthenticated (no credentials; with WWW-Authenticate: Bearer) or AuthenticationFailed (a bad, expired or revoked token)",
	403: "PermissionDenied",
	404: "NotFound",
	405: "MethodNotAllowed",
	406: "NotAcceptable: the Accept header asks for another API version",
	413: "PayloadTooLarge: the body is above MAX_UPLOAD_SIZE",
	415: "UnsupportedMediaType",
	431: "ParseError: the request's header fields are too large",
	429: "Throttled (Retry-After says how many seconds to wait)",
	500: "ServerError",
	503: "ServiceUnavailable (REQUEST_TIMEOUT, a restart, or a backing service down)",
}

// ErrorSchema is the API's error shape (API.md), #/components/schemas/Error.
func ErrorSchema() *Schema {
	types := []any{api.TypeValidation, api.TypeParse, api.TypeNotAuthenticated, api.TypeAuthenticationFailed,
		api.TypePermissionDenied, api.TypeNotFound, api.TypeMethodNotAllowed, api.TypeNotAcceptable,
		api.TypePayloadTooLarge, api.TypeUnsupportedMedia, api.TypeThrottled, api.TypeServerError,
		api.TypeServiceUnavailable}
	return &Schema{
		Type:        "object",
		Description: "Every error of the API has this shape. `field` names the field of a ValidationError entry (or non_field_errors); other errors have one entry with a message only.",
		Required:    []string{"error_type", "errors"},
		Properties: map[string]*Schema{
			"error_type": {Type: "string", Enum: types},
			"errors": {Type: "array", Items: &Schema{
				Type:     "object",
				Required: []string{"message"},
				Properties: map[string]*Schema{
					"field":   {Type: "string"},
					"message": {Type: "string"},
				},
				AdditionalProperties: false,
			}},
		},
		AdditionalProperties: false,
	}
}

// Build makes the document of routes from their descriptions. Routes
// outside /api and /health are left out; a documented route without a
// description is still in the document, marked x-undescribed, and returned
// in undescribed.
func Build(info Info, routes []Route, rs *Routes) (doc *Document, undescribed []Route, err error) {
	reg := NewRegistry()
	reg.Add("Error", ErrorSchema())
	doc = &Document{
		OpenAPI: Version,
		Info:    info,
		Paths:   map[string]*PathItem{},
		Components: Components{
			Schemas: reg.Schemas,
			SecuritySchemes: map[string]*SecurityScheme{"bearerAuth": {
				Type: "http", Scheme: "bearer",
				Description: "Authorization: Bearer <token>: the auth_token that register and login answer.",
			}},
		},
	}
	ids := map[string]string{}
	tags := map[string]bool{}
	for _, rt := range routes {
		if !Documented(rt.Path) || rt.Method == http.MethodHead || rt.Method == http.MethodConnect {
			continue
		}
		d, ok := rs.lookup(rt.Method, rt.Path)
		if !ok {
			undescribed = append(undescribed, rt)
			d = &described{}
		}
		op, err := operation(reg, rt, d, !ok)
		if err != nil {
			return nil, nil, err
		}
		path := oasPath(rt.Path)
		if prev, dup := ids[op.OperationID]; dup {
			return nil, nil, fmt.Errorf("openapi: %s %s and %s have the same operationId %q: give one an Op.ID", rt.Method, rt.Path, prev, op.OperationID)
		}
		ids[op.OperationID] = rt.Method + " " + rt.Path
		pi := doc.Paths[path]
		if pi == nil {
			pi = &PathItem{}
			doc.Paths[path] = pi
		}
		if !pi.set(rt.Method, op) {
			continue
		}
		for _, t := range op.Tags {
			tags[t] = true
		}
	}
	for t := range tags {
		doc.Tags = append(doc.Tags, Tag{Name: t})
	}
	sort.Slice(doc.Tags, func(i, j int) bool { return doc.Tags[i].Name < doc.Tags[j].Name })
	return doc, undescribed, nil
}

var paramRe = regexp.MustCompile(`:([A-Za-z0-9_]+)\??|\*|\+`)

// oasPath writes a Fiber path the OpenAPI way: /posts/:id is /posts/{id}.
func oasPath(p string) string {
	n := 0
	return paramRe.ReplaceAllStringFunc(p, func(m string) string {
		if m == "*" || m == "+" {
			n++
			if n == 1 {
				return "{path}"
			}
			return "{path" + strconv.Itoa(n) + "}"
		}
		return "{" + strings.TrimSuffix(m[1:], "?") + "}"
	})
}

// pathParams are the names of a Fiber path's parameters, in order.
func pathParams(p string) []string {
	var out []string
	for _, m := range paramRe.FindAllString(p, -1) {
		out = append(out, strings.Trim(oasPath(m), "{}"))
	}
	return out
}

var idClean = regexp.MustCompile(`[^A-Za-z0-9]+`)

// operationID derives an operationId: the path's fixed segments after /api
// and the action, blog_posts_list.
func operationID(rt Route, op Op) string {
	if op.ID != "" {
		return op.ID
	}
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(rt.Path, "/api"), "/") {
		if s == "" || strings.HasPrefix(s, ":") || s == "*" || s == "+" {
			continue
		}
		segs = append(segs, strings.Trim(idClean.ReplaceAllString(s, "_"), "_"))
	}
	action := op.Action
	if action == "" {
		action = strings.ToLower(rt.Method)
	}
	return strings.Join(append(segs, action), "_")
}

func operation(reg *Registry, rt Route, d *described, undescribed bool) (*Operation, error) {
	op := d.op
	auth := d.auth
	if rt.Auth == "token" {
		auth = "required"
	}
	o := &Operation{
		OperationID: operationID(rt, op),
		Summary:     op.Summary,
		Description: op.Description,
		Tags:        op.Tags,
		Deprecated:  op.Deprecated,
		Responses:   map[string]*Response{},
		Permissions: op.Permissions,
		Undescribed: undescribed,
	}
	if len(o.Tags) == 0 {
		o.Tags = []string{rt.App}
	}
	if undescribed {
		o.Summary = "Not described"
		o.Description = "This route was registered without an OpenAPI description (register it with openapi.Describe)."
	}
	if op.Permission != "" || len(op.Permissions) > 0 {
		var b strings.Builder
		b.WriteString(o.Description)
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("**Permission:** ")
		if op.Permission != "" {
			b.WriteString(op.Permission)
		}
		if len(op.Permissions) > 0 {
			if op.Permission != "" {
				b.WriteString(" ")
			}
			b.WriteString("Requires `" + strings.Join(op.Permissions, "`, `") + "`.")
		}
		o.Description = b.String()
	}
	switch auth {
	case "required":
		o.Security = []map[string][]string{{"bearerAuth": {}}}
	case "optional":
		o.Security = []map[string][]string{{"bearerAuth": {}}, {}}
	}

	// Parameters: the path's, typed by op.Params when given, then the query's.
	names := pathParams(rt.Path)
	given := map[string]*Parameter{}
	for _, p := range op.Params {
		given[p.In+" "+p.Name] = p
	}
	for _, n := range names {
		p := given["path "+n]
		if p == nil {
			p = &Parameter{Name: n, In: "path", Schema: &Schema{Type: "string"}}
		}
		c := *p
		c.Required = true
		o.Parameters = append(o.Parameters, &c)
	}
	for _, p := range op.Params {
		if p.In == "path" {
			if !slices.Contains(names, p.Name) {
				return nil, fmt.Errorf("openapi: %s %s: Params names path parameter %q, which the path does not have", rt.Method, rt.Path, p.Name)
			}
			continue
		}
		o.Parameters = append(o.Parameters, p)
	}
	if op.Query != nil {
		o.Parameters = append(o.Parameters, queryParams(reg, reflect.TypeOf(op.Query))...)
	}

	switch {
	case op.Upload != "":
		o.RequestBody = &RequestBody{Required: true, Content: map[string]*MediaType{
			"multipart/form-data": {Schema: &Schema{
				Type:       "object",
				Required:   []string{op.Upload},
				Properties: map[string]*Schema{op.Upload: {Type: "string", Format: "binary", ContentMediaType: "application/octet-stream"}},
			}},
		}}
	case op.Body != nil:
		s := reg.Of(op.Body, ForRequest)
		o.RequestBody = &RequestBody{Required: hasRequired(reg, s), Content: map[string]*MediaType{
			"application/json": {Schema: s},
		}}
	}

	statuses := map[int]bool{}
	for status, body := range op.Responses {
		statuses[status] = true
		if status >= 400 {
			continue
		}
		r := &Response{Description: statusText(status)}
		switch b := body.(type) {
		case nil:
		case Content:
			r.Content = map[string]*MediaType{b.Type: {Schema: b.Schema}}
		case Contents:
			r.Content = map[string]*MediaType{}
			for _, c := range b {
				r.Content[c.Type] = &MediaType{Schema: c.Schema}
			}
		default:
			r.Content = map[string]*MediaType{"application/json": {Schema: reg.Of(body, ForResponse)}}
		}
		o.Responses[strconv.Itoa(status)] = r
	}
	if undescribed {
		o.Responses["default"] = &Response{Description: "Not described."}
	}
	errs := append(CommonErrors(rt.Path, op, auth, len(names) > 0), op.Errors...)
	for status := range statuses {
		if status >= 400 {
			errs = append(errs, status)
		}
	}
	for _, status := range errs {
		o.Responses[strconv.Itoa(status)] = errorResponse(status)
	}
	return o, nil
}

// hasRequired says whether a body schema (or the component it references)
// has required fields: an empty body is read as {}, so a body with none may
// be left out.
func hasRequired(reg *Registry, s *Schema) bool {
	if s == nil {
		return false
	}
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		s = reg.Schemas[name]
	}
	return s != nil && len(s.Required) > 0
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(status)
}

func errorResponse(status int) *Response {
	desc := statusText(status)
	if t, ok := errorTypes[status]; ok {
		desc += ": " + t
	}
	r := &Response{Description: desc, Content: map[string]*MediaType{
		"application/json": {Schema: Ref("Error")},
	}}
	switch status {
	case 401:
		r.Headers = map[string]*Header{"WWW-Authenticate": {Description: "Bearer, when no credentials were sent.", Schema: &Schema{Type: "string"}}}
	case 429:
		r.Headers = map[string]*Header{"Retry-After": {Description: "Seconds to wait.", Schema: &Schema{Type: "integer"}}}
	}
	return r
}

// queryParams are the `query:"name"` fields of a struct.
func queryParams(reg *Registry, t reflect.Type) []*Parameter {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []*Parameter
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("query")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		r := parseRules(f.Tag.Get("validate"))
		s := reg.schema(ft, ForRequest)
		r.apply(s)
		if def := f.Tag.Get("default"); def != "" {
			s.Default = def
			if n, err := strconv.ParseFloat(def, 64); err == nil && (s.Type == "integer" || s.Type == "number") {
				s.Default = n
			}
		}
		out = append(out, &Parameter{Name: name, In: "query", Description: f.Tag.Get("doc"), Required: r.required, Schema: s})
	}
	return out
}
