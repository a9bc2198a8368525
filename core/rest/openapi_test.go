package rest_test

import (
	"slices"
	"testing"

	"manouche/core/openapi"
	"manouche/core/testkit"
)

// TestOpenAPIDocument: a project with generated resources serves a valid
// OpenAPI 3.1 document in which each view set route appears with its
// method, its path parameter, the model's schemas (derived from its fields
// as the serializer sees them) and the list's query parameters and envelope.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	a := testkit.New(t)
	doc := a.OpenAPI()
	for _, r := range a.Server.Routes() {
		if !openapi.Documented(r.Path) {
			continue
		}
		pi := doc.Paths[oasPath(r.Path)]
		if pi == nil || pi.Operations()[r.Method] == nil {
			t.Errorf("%s %s is not in the document", r.Method, r.Path)
		}
	}
	ops := map[string]*openapi.Operation{}
	for path, pi := range doc.Paths {
		for m, op := range pi.Operations() {
			ops[m+" "+path] = op
		}
	}
	tests := []struct {
		key, id  string
		params   []string
		response string // the 2xx status and its schema's $ref
		body     string // the request body's $ref
	}{
		{"GET /api/resttest/things", "resttest_things_list", []string{"offset", "per_page", "search"}, "200 #/components/schemas/PaginatedthingList", ""},
		{"POST /api/resttest/things", "resttest_things_create", nil, "201 #/components/schemas/thing", "#/components/schemas/thingRequest"},
		{"GET /api/resttest/things/{id}", "resttest_things_retrieve", []string{"id"}, "200 #/components/schemas/thing", ""},
		{"PATCH /api/resttest/things/{id}", "resttest_things_partial_update", []string{"id"}, "200 #/components/schemas/thing", "#/components/schemas/PatchedthingRequest"},
		{"DELETE /api/resttest/things/{id}", "resttest_things_destroy", []string{"id"}, "204 ", ""},
		// Shown differently (read-only and write-only fields): its own names.
		{"GET /api/resttest/limited", "resttest_limited_list", []string{"offset", "per_page", "search"}, "200 #/components/schemas/PaginatedthingLimitedList", ""},
		{"PATCH /api/resttest/limited/{id}", "resttest_limited_partial_update", []string{"id"}, "200 #/components/schemas/thingLimited", "#/components/schemas/PatchedthingLimitedRequest"},
	}
	for _, tt := range tests {
		op := ops[tt.key]
		if op == nil {
			t.Errorf("%s: missing", tt.key)
			continue
		}
		if op.OperationID != tt.id {
			t.Errorf("%s: operationId %q, want %q", tt.key, op.OperationID, tt.id)
		}
		var params []string
		for _, p := range op.Parameters {
			params = append(params, p.Name)
		}
		if !slices.Equal(params, tt.params) {
			t.Errorf("%s: parameters %v, want %v", tt.key, params, tt.params)
		}
		found := false
		for status, r := range op.Responses {
			if status[0] != '2' {
				if r.Content["application/json"] == nil || r.Content["application/json"].Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s: %s does not answer the Error schema", tt.key, status)
				}
				continue
			}
			ref := ""
			if mt := r.Content["application/json"]; mt != nil {
				ref = mt.Schema.Ref
			}
			found = status+" "+ref == tt.response
		}
		if !found {
			t.Errorf("%s: no %s response", tt.key, tt.response)
		}
		if tt.body != "" && (op.RequestBody == nil || op.RequestBody.Content["application/json"].Schema.Ref != tt.body) {
			t.Errorf("%s: request body is not %s", tt.key, tt.body)
		}
		// Public view sets: a token is optional (a bad one is 401).
		if len(op.Security) != 2 || op.Responses["401"] == nil {
			t.Errorf("%s: security %v, want optional bearerAuth with a 401", tt.key, op.Security)
		}
	}
	// The model's schema is exact: every field shown, required, no others;
	// write-only fields only in requests, read-only ones only in answers.
	thing := doc.Components.Schemas["thing"]
	if thing == nil {
		t.Fatal("no thing schema")
	}
	if want := []string{"id", "created_at", "updated_at", "name", "secret", "score", "note"}; !slices.Equal(thing.Required, want) {
		t.Errorf("thing required %v, want %v", thing.Required, want)
	}
	if thing.AdditionalProperties != false {
		t.Errorf("thing allows other fields")
	}
	if s := thing.Properties["name"]; s.MaxLength == nil || *s.MaxLength != 10 {
		t.Errorf("name: %+v, want maxLength 10", s)
	}
	if s := thing.Properties["created_at"]; s.Format != "date-time" || !s.ReadOnly {
		t.Errorf("created_at: %+v, want a read-only date-time", s)
	}
	if s := thing.Properties["note"]; !slices.Equal(toStrings(s.Type), []string{"string", "null"}) {
		t.Errorf("note: type %v, want string or null", s.Type)
	}
	lim := doc.Components.Schemas["thingLimited"]
	if _, ok := lim.Properties["secret"]; ok {
		t.Errorf("thingLimited shows the write-only secret")
	}
	if s := lim.Properties["score"]; s == nil || !s.ReadOnly {
		t.Errorf("thingLimited's score is not read-only: %+v", s)
	}
	if _, ok := doc.Components.Schemas["PatchedthingLimitedRequest"].Properties["score"]; ok {
		t.Errorf("the limited update body has the read-only score")
	}
	create := doc.Components.Schemas["thingRequest"]
	if _, ok := create.Properties["id"]; ok {
		t.Errorf("the create body has the read-only id")
	}
	if !slices.Contains(create.Required, "name") || slices.Contains(create.Required, "note") {
		t.Errorf("create required %v: want name, not the nullable note", create.Required)
	}
}

func toStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []string:
		return t
	case []any:
		var out []string
		for _, x := range t {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}
