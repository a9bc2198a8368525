package fuzzapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// methods are the HTTP methods an OpenAPI path item can hold, in the order
// operations are listed.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operation is one method on one path of the document, with what it takes.
type operation struct {
	Method string // upper case
	Path   string // the document's template, /api/posts/{id}
	Params []param
	Body   *requestBody
	// Secured: the operation names a bearer security scheme; Anonymous: it
	// also allows no credentials ({} among its requirements).
	Secured, Anonymous bool
}

// ID names the operation in reports: "GET /api/posts/{id}".
func (o *operation) ID() string { return o.Method + " " + o.Path }

// pathParams lists the names of the path's parameters.
func (o *operation) pathParams() []string {
	var out []string
	for _, p := range o.Params {
		if p.In == "path" {
			out = append(out, p.Name)
		}
	}
	return out
}

type param struct {
	Name, In string
	Required bool
	Schema   map[string]any
}

type requestBody struct {
	Required bool
	// Media maps each declared content type to its schema.
	Media map[string]map[string]any
	Types []string // Media's keys, sorted
}

// spec is the document as generic JSON, enough to build requests from; the
// validator reads the same bytes through libopenapi.
type spec struct {
	raw map[string]any
	ops []*operation
}

// parseSpec reads the operations of an OpenAPI 3.x JSON document.
func parseSpec(doc []byte) (*spec, error) {
	var raw map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("fuzzapi: the document is not JSON: %w", err)
	}
	version, _ := raw["openapi"].(string)
	if !strings.HasPrefix(version, "3.") {
		return nil, fmt.Errorf("fuzzapi: the document is not OpenAPI 3 (openapi: %q)", version)
	}
	s := &spec{raw: raw}
	bearer := map[string]bool{}
	if comps, ok := raw["components"].(map[string]any); ok {
		if schemes, ok := comps["securitySchemes"].(map[string]any); ok {
			for name, v := range schemes {
				sc, _ := s.resolve(v).(map[string]any)
				if sc["type"] == "http" && strings.EqualFold(fmt.Sprint(sc["scheme"]), "bearer") ||
					sc["type"] == "oauth2" || sc["type"] == "openIdConnect" {
					bearer[name] = true
				}
			}
		}
	}
	globalSec, hasGlobalSec := raw["security"].([]any)
	paths, _ := raw["paths"].(map[string]any)
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, path := range names {
		item, _ := s.resolve(paths[path]).(map[string]any)
		common := s.params(item["parameters"])
		for _, m := range methods {
			o, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			op := &operation{Method: strings.ToUpper(m), Path: path}
			op.Params = mergeParams(common, s.params(o["parameters"]))
			if rb, ok := s.resolve(o["requestBody"]).(map[string]any); ok {
				op.Body = s.body(rb)
			}
			sec, has := o["security"].([]any)
			if !has && hasGlobalSec {
				sec = globalSec
			}
			for _, req := range sec {
				r, _ := req.(map[string]any)
				if len(r) == 0 {
					op.Anonymous = true
				}
				for name := range r {
					if bearer[name] {
						op.Secured = true
					}
				}
			}
			if !op.Secured {
				op.Anonymous = true
			}
			s.ops = append(s.ops, op)
		}
	}
	if len(s.ops) == 0 {
		return nil, fmt.Errorf("fuzzapi: the document has no operations")
	}
	return s, nil
}

func (s *spec) params(v any) []param {
	list, _ := v.([]any)
	var out []param
	for _, item := range list {
		p, ok := s.resolve(item).(map[string]any)
		if !ok {
			continue
		}
		name, _ := p["name"].(string)
		in, _ := p["in"].(string)
		if name == "" || in == "cookie" {
			continue
		}
		if in == "header" && isReservedHeader(name) {
			continue // OpenAPI ignores Accept, Content-Type and Authorization parameters
		}
		req, _ := p["required"].(bool)
		sch, _ := s.resolve(p["schema"]).(map[string]any)
		if sch == nil {
			sch = map[string]any{"type": "string"}
		}
		out = append(out, param{Name: name, In: in, Required: req || in == "path", Schema: sch})
	}
	return out
}

func isReservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "accept", "content-type", "authorization":
		return true
	}
	return false
}

// mergeParams overrides the path item's parameters with the operation's of
// the same name and location.
func mergeParams(common, own []param) []param {
	out := slices.Clone(own)
	for _, c := range common {
		if !slices.ContainsFunc(own, func(p param) bool { return p.Name == c.Name && p.In == c.In }) {
			out = append(out, c)
		}
	}
	return out
}

func (s *spec) body(rb map[string]any) *requestBody {
	b := &requestBody{Media: map[string]map[string]any{}}
	b.Required, _ = rb["required"].(bool)
	content, _ := rb["content"].(map[string]any)
	for ct, v := range content {
		mt, _ := v.(map[string]any)
		sch, _ := s.resolve(mt["schema"]).(map[string]any)
		if sch == nil {
			sch = map[string]any{}
		}
		b.Media[ct] = sch
		b.Types = append(b.Types, ct)
	}
	if len(b.Types) == 0 {
		return nil
	}
	sort.Strings(b.Types)
	return b
}

// resolve follows a local $ref ("#/components/schemas/Error"), through
// chains of them; anything else is returned as it is.
func (s *spec) resolve(v any) any {
	for range 32 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return v
		}
		var cur any = s.raw
		for _, tok := range strings.Split(ref[2:], "/") {
			tok, _ = url.PathUnescape(tok)
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
			cm, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = cm[tok]
		}
		v = cur
	}
	return nil
}
