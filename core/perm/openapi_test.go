package perm_test

import (
	"slices"
	"strings"
	"testing"

	"manouche/core/testkit"
)

// TestOpenAPIPermissions: each view set's policy shows in the document:
// a token required (security bearerAuth) or optional (bearerAuth or none),
// the permission codenames a route requires (x-permissions) and who may
// call it in the description; the document stays valid OpenAPI 3.1.
func TestOpenAPIPermissions(t *testing.T) {
	t.Parallel()
	a := testkit.New(t)
	doc := a.OpenAPI()
	const base = "/api/permtest/"
	tests := []struct {
		method, path string
		token        string // "required", "optional"
		perms        []string
		says         string // in the description
	}{
		{"GET", base + "modelperms", "required", []string{"permtest.view_note"}, "ModelPermissions"},
		{"POST", base + "modelperms", "required", []string{"permtest.add_note"}, "ModelPermissions"},
		{"DELETE", base + "modelperms/{id}", "required", []string{"permtest.delete_note"}, "ModelPermissions"},
		{"PATCH", base + "ownerorreadonly/{id}", "required", []string{"permtest.change_note"}, "owner"},
		{"GET", base + "ownerorreadonly/{id}", "required", nil, "OwnerOrReadOnly"},
		{"GET", base + "owneronly", "required", []string{"permtest.view_note"}, "own rows"},
		{"GET", base + "readonly", "optional", nil, ""},
		{"POST", base + "readonly", "required", nil, "signed-in"},
		{"GET", base + "staff", "required", nil, "Staff"},
		{"GET", base + "custom", "optional", nil, "policy NotLocked"},
	}
	for _, tt := range tests {
		pi := doc.Paths[tt.path]
		if pi == nil || pi.Operations()[tt.method] == nil {
			t.Errorf("%s %s is not in the document", tt.method, tt.path)
			continue
		}
		op := pi.Operations()[tt.method]
		token := ""
		switch {
		case len(op.Security) == 1 && op.Security[0]["bearerAuth"] != nil:
			token = "required"
		case len(op.Security) == 2 && op.Security[0]["bearerAuth"] != nil && len(op.Security[1]) == 0:
			token = "optional"
		}
		if token != tt.token {
			t.Errorf("%s %s: security %v, want a token %s", tt.method, tt.path, op.Security, tt.token)
		}
		if !slices.Equal(op.Permissions, tt.perms) {
			t.Errorf("%s %s: x-permissions %v, want %v", tt.method, tt.path, op.Permissions, tt.perms)
		}
		if !strings.Contains(op.Description, tt.says) {
			t.Errorf("%s %s: description %q does not say %q", tt.method, tt.path, op.Description, tt.says)
		}
		if tt.says != "" && op.Responses["403"] == nil {
			t.Errorf("%s %s: no 403 declared", tt.method, tt.path)
		}
	}
}
