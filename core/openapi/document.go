// Package openapi describes the project's JSON API as an OpenAPI 3.1
// document, built from the routes themselves, the way drf-spectacular builds
// one from Django REST framework's views and serializers.
//
// A route is described where it is registered, in Go types: the struct its
// handler binds and the struct it answers are the schemas.
//
//	d := openapi.Describe(r, p)
//	d.Post("/auth/login", openapi.Op{
//		Summary:   "Log in",
//		Body:      LoginRequest{},
//		Responses: openapi.Responses{200: AuthResponse{}},
//	}, throttle, h.login)
//
// The server builds the document once at start-up from every registered
// route (Build) and serves it at GET /api/openapi.json, with Swagger UI at
// /api/docs (setting API_DOCS). A route registered without a description
// still appears, marked x-undescribed, and `check` and `go run . openapi`
// report it.
package openapi

// Version is the OpenAPI version of the documents this package writes.
const Version = "3.1.0"

// Document is an OpenAPI 3.1 document (the parts this package writes).
type Document struct {
	OpenAPI    string               `json:"openapi"`
	Info       Info                 `json:"info"`
	Servers    []Server             `json:"servers,omitempty"`
	Paths      map[string]*PathItem `json:"paths"`
	Components Components           `json:"components"`
	Tags       []Tag                `json:"tags,omitempty"`
}

// Info is the document's title and version.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// Server is a base URL of the API.
type Server struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// Tag groups operations in the docs page (one per app).
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Components holds the named schemas and the security schemes.
type Components struct {
	Schemas         map[string]*Schema         `json:"schemas"`
	SecuritySchemes map[string]*SecurityScheme `json:"securitySchemes"`
}

// SecurityScheme is how a client authenticates.
type SecurityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	Description  string `json:"description,omitempty"`
}

// PathItem holds the operations of one path.
type PathItem struct {
	Get     *Operation `json:"get,omitempty"`
	Put     *Operation `json:"put,omitempty"`
	Post    *Operation `json:"post,omitempty"`
	Delete  *Operation `json:"delete,omitempty"`
	Options *Operation `json:"options,omitempty"`
	Head    *Operation `json:"head,omitempty"`
	Patch   *Operation `json:"patch,omitempty"`
	Trace   *Operation `json:"trace,omitempty"`
}

// Operations returns the path's operations by HTTP method.
func (pi *PathItem) Operations() map[string]*Operation {
	out := map[string]*Operation{}
	for m, op := range map[string]*Operation{"GET": pi.Get, "PUT": pi.Put, "POST": pi.Post, "DELETE": pi.Delete,
		"OPTIONS": pi.Options, "HEAD": pi.Head, "PATCH": pi.Patch, "TRACE": pi.Trace} {
		if op != nil {
			out[m] = op
		}
	}
	return out
}

// set puts op under method; it reports false for a method OpenAPI has no
// field for (CONNECT, or a custom one).
func (pi *PathItem) set(method string, op *Operation) bool {
	switch method {
	case "GET":
		pi.Get = op
	case "PUT":
		pi.Put = op
	case "POST":
		pi.Post = op
	case "DELETE":
		pi.Delete = op
	case "OPTIONS":
		pi.Options = op
	case "HEAD":
		pi.Head = op
	case "PATCH":
		pi.Patch = op
	case "TRACE":
		pi.Trace = op
	default:
		return false
	}
	return true
}

// Operation is one method of one path.
type Operation struct {
	OperationID string                `json:"operationId"`
	Summary     string                `json:"summary,omitempty"`
	Description string                `json:"description,omitempty"`
	Tags        []string              `json:"tags,omitempty"`
	Deprecated  bool                  `json:"deprecated,omitempty"`
	Parameters  []*Parameter          `json:"parameters,omitempty"`
	RequestBody *RequestBody          `json:"requestBody,omitempty"`
	Responses   map[string]*Response  `json:"responses"`
	Security    []map[string][]string `json:"security,omitempty"`
	// Permissions are the permission codenames the route requires
	// ("blog.change_post"), as the x-permissions extension.
	Permissions []string `json:"x-permissions,omitempty"`
	// Undescribed marks a route registered without a description.
	Undescribed bool `json:"x-undescribed,omitempty"`
}

// Parameter is a path, query or header parameter.
type Parameter struct {
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Schema      *Schema `json:"schema"`
}

// RequestBody is an operation's body, by content type.
type RequestBody struct {
	Description string                `json:"description,omitempty"`
	Required    bool                  `json:"required,omitempty"`
	Content     map[string]*MediaType `json:"content"`
}

// Response is one status's answer.
type Response struct {
	Description string                `json:"description"`
	Headers     map[string]*Header    `json:"headers,omitempty"`
	Content     map[string]*MediaType `json:"content,omitempty"`
}

// Header is a response header.
type Header struct {
	Description string  `json:"description,omitempty"`
	Schema      *Schema `json:"schema"`
}

// MediaType is a body's schema for one content type.
type MediaType struct {
	Schema *Schema `json:"schema"`
}

// Schema is a JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it).
type Schema struct {
	Ref         string `json:"$ref,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Type is a type name, or a list of them (["string", "null"]).
	Type       any                `json:"type,omitempty"`
	Format     string             `json:"format,omitempty"`
	Enum       []any              `json:"enum,omitempty"`
	Default    any                `json:"default,omitempty"`
	Properties map[string]*Schema `json:"properties,omitempty"`
	Required   []string           `json:"required,omitempty"`
	// AdditionalProperties is false (a closed object) or a *Schema.
	AdditionalProperties any       `json:"additionalProperties,omitempty"`
	Items                *Schema   `json:"items,omitempty"`
	MinLength            *int      `json:"minLength,omitempty"`
	MaxLength            *int      `json:"maxLength,omitempty"`
	Minimum              *float64  `json:"minimum,omitempty"`
	Maximum              *float64  `json:"maximum,omitempty"`
	Pattern              string    `json:"pattern,omitempty"`
	ReadOnly             bool      `json:"readOnly,omitempty"`
	WriteOnly            bool      `json:"writeOnly,omitempty"`
	AnyOf                []*Schema `json:"anyOf,omitempty"`
	ContentMediaType     string    `json:"contentMediaType,omitempty"`
}

// Nullable returns s allowing null as well: its type list gains "null" (a
// reference becomes anyOf the reference and null).
func (s *Schema) Nullable() *Schema {
	if s.Ref != "" || s.Type == nil {
		return &Schema{AnyOf: []*Schema{s, {Type: "null"}}}
	}
	c := *s
	switch t := s.Type.(type) {
	case string:
		c.Type = []string{t, "null"}
	case []string:
		for _, x := range t {
			if x == "null" {
				return &c
			}
		}
		c.Type = append(append([]string{}, t...), "null")
	}
	if len(c.Enum) > 0 {
		c.Enum = append(append([]any{}, c.Enum...), nil)
	}
	return &c
}

// Ref returns a reference to the component schema name.
func Ref(name string) *Schema { return &Schema{Ref: "#/components/schemas/" + name} }

func intp(n int) *int { return &n }

func floatp(f float64) *float64 { return &f }
