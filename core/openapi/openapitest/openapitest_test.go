package openapitest_test

import (
	"strings"
	"testing"

	"manouche/core/openapi/openapitest"
)

const valid = `{"openapi":"3.1.0","info":{"title":"t","version":"1"},
"paths":{"/a/{id}":{"get":{"operationId":"a","parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],
"responses":{"200":{"description":"OK","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}}},
"components":{"schemas":{"A":{"type":"object","properties":{"x":{"type":["string","null"]}},"additionalProperties":false}}}}`

// TestValidate: the checker passes a valid document and fails each broken
// one, so that a broken document fails the build's tests.
func TestValidate(t *testing.T) {
	t.Parallel()
	if err := openapitest.Validate([]byte(valid)); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	tests := []struct{ name, from, to string }{
		{"not 3.1", `"openapi":"3.1.0"`, `"openapi":"3.0.3"`},
		{"no info version", `"title":"t","version":"1"`, `"title":"t"`},
		{"response without description", `"200":{"description":"OK",`, `"200":{`},
		{"parameter in body", `"in":"path"`, `"in":"body"`},
		{"unresolved reference", `"$ref":"#/components/schemas/A"`, `"$ref":"#/components/schemas/Nope"`},
		{"path parameter not required", `"required":true,`, ``},
		{"status that is no status", `"200":`, `"two hundred":`},
		{"paths not an object", `"paths":{"/a/{id}"`, `"paths":[],"x":{"/a/{id}"`},
		{"not JSON", `{"openapi"`, `{openapi`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := strings.Replace(valid, tt.from, tt.to, 1)
			if doc == valid {
				t.Fatalf("the replacement changed nothing")
			}
			if err := openapitest.Validate([]byte(doc)); err == nil {
				t.Errorf("a broken document passed")
			}
		})
	}
}
