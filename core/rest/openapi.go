package rest

import (
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"manouche/core/models"
	"manouche/core/openapi"
	"manouche/core/perm"
)

// The OpenAPI description of a view set's routes, derived from the model's
// fields as the serializer sees them (drf-spectacular's names): Post (the
// answer), PostRequest (create), PatchedPostRequest (update) and
// PaginatedPostList (a page).

// fieldSchema is a field's schema as Output writes it.
func fieldSchema(f models.Field, custom bool) *openapi.Schema {
	var s *openapi.Schema
	switch f.Kind {
	case models.KindString, models.KindText:
		s = &openapi.Schema{Type: "string"}
		if f.MaxLen > 0 {
			n := f.MaxLen
			s.MaxLength = &n
		}
	case models.KindInt:
		s = &openapi.Schema{Type: "integer", Format: "int64"}
	case models.KindFloat:
		s = &openapi.Schema{Type: "number"}
	case models.KindBool:
		s = &openapi.Schema{Type: "boolean"}
	case models.KindDate:
		return nullable(&openapi.Schema{Type: "string", Format: "date"}, f.Null)
	case models.KindDateTime:
		return nullable(&openapi.Schema{Type: "string", Format: "date-time"}, f.Null)
	case models.KindUUID:
		return nullable(&openapi.Schema{Type: "string", Format: "uuid"}, f.Null)
	case models.KindFK:
		return nullable(&openapi.Schema{Type: "string", Format: "uuid", Description: "The id of a row of " + f.Ref.Table + "."}, f.Null)
	case models.KindImage, models.KindFile:
		return &openapi.Schema{Type: []string{"string", "null"}, Format: "uri",
			Description: "The absolute URL of the stored file, or null; upload it with PUT on the row's /" + f.Name + " route."}
	default:
		return &openapi.Schema{}
	}
	if custom {
		// A type that encodes itself (json.Marshaler) may write anything.
		return &openapi.Schema{}
	}
	return nullable(s, f.Null)
}

func nullable(s *openapi.Schema, null bool) *openapi.Schema {
	if null {
		return s.Nullable()
	}
	return s
}

// inputSchema is a field's schema in request bodies (see Decode and Apply).
func inputSchema(f models.Field) *openapi.Schema {
	var s *openapi.Schema
	switch f.Kind {
	case models.KindInt:
		s = &openapi.Schema{Type: "integer", Format: "int64"}
	case models.KindFloat:
		s = &openapi.Schema{Type: "number"}
	case models.KindBool:
		s = &openapi.Schema{Type: "boolean"}
	case models.KindDate:
		s = &openapi.Schema{Type: "string", Format: "date"}
	case models.KindDateTime:
		s = &openapi.Schema{Type: "string", Description: "An instant, RFC 3339 (YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z])."}
	case models.KindUUID:
		s = &openapi.Schema{Type: "string", Format: "uuid"}
	case models.KindFK:
		s = &openapi.Schema{Type: "string", Format: "uuid", Description: "The id of a row of " + f.Ref.Table + "."}
	default:
		s = &openapi.Schema{Type: "string"}
		if f.MaxLen > 0 {
			n := f.MaxLen
			s.MaxLength = &n
		}
	}
	return s
}

// schemas are a view set's component schemas, as built for one document.
type schemas struct {
	name                      string
	out, create, update, list *openapi.Schema
}

// components registers the view set's schemas in a document's registry,
// once per registry: a model served by two view sets that show it
// differently gets Post and Post2.
type components struct {
	mu    sync.Mutex
	names map[*openapi.Registry]schemas
	sc    schemas
}

func (c *components) refs(reg *openapi.Registry) schemas {
	c.mu.Lock()
	defer c.mu.Unlock()
	if got, ok := c.names[reg]; ok {
		return got
	}
	out := reg.Unique(c.sc.name, c.sc.out)
	list := *c.sc.list
	list.Properties = maps.Clone(list.Properties)
	list.Properties["results"] = &openapi.Schema{Type: "array", Items: openapi.Ref(out)}
	got := schemas{
		name:   out,
		out:    openapi.Ref(out),
		create: openapi.Ref(reg.Unique(c.sc.name+"Request", c.sc.create)),
		update: openapi.Ref(reg.Unique("Patched"+c.sc.name+"Request", c.sc.update)),
		list:   openapi.Ref(reg.Unique("Paginated"+c.sc.name+"List", &list)),
	}
	if c.names == nil {
		c.names = map[*openapi.Registry]schemas{}
	}
	c.names[reg] = got
	return got
}

func (v *ModelViewSet[T]) schemas(pl *plan) *components {
	name := pl.model.Type.Name()
	if len(v.Serializer.Fields) > 0 || len(v.Serializer.ReadOnly) > 0 || len(v.Serializer.WriteOnly) > 0 {
		// Shown differently from the model's own fields: named after the
		// view set too (Post served at /drafts: PostDrafts).
		for _, seg := range strings.FieldsFunc(v.Path, func(r rune) bool { return r == '/' || r == '_' || r == '-' }) {
			name += strings.ToUpper(seg[:1]) + seg[1:]
		}
	}
	out := &openapi.Schema{Type: "object", Properties: map[string]*openapi.Schema{}, AdditionalProperties: false}
	for i, f := range pl.out {
		s := fieldSchema(f, pl.custom[i])
		if f.Auto || f.Kind == models.KindImage || f.Kind == models.KindFile || v.readOnly(f) {
			c := *s
			c.ReadOnly = true
			s = &c
		}
		out.Properties[f.Name] = s
		out.Required = append(out.Required, f.Name)
	}
	create := &openapi.Schema{Type: "object", Properties: map[string]*openapi.Schema{},
		Description: "Fields not listed are ignored." + v.ownerNote()}
	update := &openapi.Schema{Type: "object", Properties: map[string]*openapi.Schema{},
		Description: "Any of the fields; those left out, or null, are left as they are. Fields not listed are ignored." + v.ownerNote()}
	for _, f := range pl.in {
		s := inputSchema(f)
		if required(f) {
			create.Properties[f.Name] = s
			create.Required = append(create.Required, f.Name)
		} else {
			create.Properties[f.Name] = s.Nullable()
		}
		update.Properties[f.Name] = s.Nullable()
	}
	list := &openapi.Schema{
		Type:     "object",
		Required: []string{"count", "next", "previous", "results"},
		Properties: map[string]*openapi.Schema{
			"count":    {Type: "integer", Minimum: new(float64)},
			"next":     {Type: []string{"string", "null"}, Format: "uri", Description: "The next page's absolute URL, or null."},
			"previous": {Type: []string{"string", "null"}, Format: "uri", Description: "The previous page's absolute URL, or null."},
		},
		AdditionalProperties: false,
	}
	return &components{sc: schemas{name: name, out: out, create: create, update: update, list: list}}
}

func (v *ModelViewSet[T]) readOnly(f models.Field) bool {
	for _, n := range v.Serializer.ReadOnly {
		if n == f.Name || n == f.Column {
			return true
		}
	}
	return false
}

func (v *ModelViewSet[T]) ownerNote() string {
	if v.Owner == "" {
		return ""
	}
	return " The owner is the signed-in user: a body naming it is refused."
}

// describe is the description of one of the view set's routes.
func (h *handlers[T]) describe(comp *components, method, action string) openapi.Op {
	plural := h.m.Table
	sc := comp.sc
	ref := func(pick func(schemas) *openapi.Schema) openapi.SchemaFunc {
		return func(reg *openapi.Registry) *openapi.Schema { return pick(comp.refs(reg)) }
	}
	out := ref(func(s schemas) *openapi.Schema { return s.out })
	op := openapi.Op{Action: action}
	idParam := &openapi.Parameter{Name: "id", In: "path", Schema: &openapi.Schema{Type: "string", Format: "uuid"},
		Description: "The row's id; one that is not a UUID, or that the user may not see, is not found (404)."}
	switch action {
	case "list":
		op.Summary = "List " + plural + ", a page at a time"
		op.Description = fmt.Sprintf("Ordered by %s. `search` matches %s (case-insensitive substring).", h.v.orderingDoc(), h.searchDoc())
		op.Params = []*openapi.Parameter{
			{Name: "offset", In: "query", Description: "How many rows to skip.", Schema: &openapi.Schema{Type: "integer", Minimum: new(float64), Default: 0}},
			{Name: "per_page", In: "query", Description: "Rows per page; above 100 is 100.", Schema: &openapi.Schema{Type: "integer", Minimum: floatp(1), Default: 30}},
		}
		if len(h.search) > 0 {
			op.Params = append(op.Params, &openapi.Parameter{Name: "search", In: "query",
				Description: "A case-insensitive substring of " + h.searchDoc() + ".", Schema: &openapi.Schema{Type: "string"}})
		}
		op.Responses = openapi.Responses{200: ref(func(s schemas) *openapi.Schema { return s.list })}
	case "create":
		op.Summary = "Create a " + sc.name
		op.Body = ref(func(s schemas) *openapi.Schema { return s.create })
		op.Responses = openapi.Responses{201: out}
	case "retrieve":
		op.Summary = "One " + sc.name
		op.Params = []*openapi.Parameter{idParam}
		op.Responses = openapi.Responses{200: out}
	case "partial_update":
		op.Summary = "Change fields of a " + sc.name
		op.Params = []*openapi.Parameter{idParam}
		op.Body = ref(func(s schemas) *openapi.Schema { return s.update })
		op.Responses = openapi.Responses{200: out}
	case "destroy":
		op.Summary = "Delete a " + sc.name + " and its files"
		op.Params = []*openapi.Parameter{idParam}
		op.Responses = openapi.Responses{204: openapi.NoContent}
	default: // upload
		op.Params = []*openapi.Parameter{idParam}
		op.Upload = UploadField
		op.Responses = openapi.Responses{200: out}
	}
	op.Permission, op.Permissions = h.permissionDoc(method, action)
	return op
}

// permissionDoc says who may use a route, from the view set's policy.
func (h *handlers[T]) permissionDoc(method, action string) (string, []string) {
	a := perm.ActionOf(method)
	code := perm.ModelPerm(h.label, a)
	object := action != "list" && action != "create"
	name := fmt.Sprint(h.policy)
	switch name {
	case "AllowAny":
		return "", nil
	case "IsAuthenticated":
		return "Any signed-in user (IsAuthenticated).", nil
	case "IsStaff":
		return "Staff members only (IsStaff: is_staff).", nil
	case "IsAuthenticatedOrReadOnly":
		if perm.Safe(method) {
			return "", nil
		}
		return "Any signed-in user (IsAuthenticatedOrReadOnly).", nil
	case "ModelPermissions":
		return "Users holding the model permission (ModelPermissions).", []string{code}
	case "OwnerOrReadOnly":
		if perm.Safe(method) || !object {
			return "Any signed-in user (OwnerOrReadOnly).", nil
		}
		return "The row's owner, or a user holding the model permission (OwnerOrReadOnly); others get 403.", []string{code}
	case "OwnerOnly":
		if !object {
			if action == "list" {
				return "Any signed-in user; the list shows only the user's own rows unless the user holds the model permission (OwnerOnly).", []string{code}
			}
			return "Any signed-in user (OwnerOnly).", nil
		}
		return "The row's owner, or a user holding the model permission (OwnerOnly); another's row is not found.", []string{code}
	}
	if !strings.Contains(name, "{") && name != "" {
		return "Decided by the policy " + name + ".", nil
	}
	return "Decided by the view set's permission policy.", nil
}

func (v *ModelViewSet[T]) orderingDoc() string {
	order := v.Ordering
	if order == "" {
		order = "-created_at (newest first)"
	}
	return "`" + order + "`"
}

func (h *handlers[T]) searchDoc() string {
	if len(h.search) == 0 {
		return "nothing"
	}
	return "`" + strings.Join(h.search, "`, `") + "`"
}

func floatp(f float64) *float64 { return &f }

// describedRoutes registers the view set's routes with their descriptions.
func (v *ModelViewSet[T]) describedRoutes(r fiber.Router, h *handlers[T], route func(method, path string, fn fiber.Handler) []fiber.Handler) {
	pl, _ := v.Serializer.compile()
	sc := v.schemas(pl)
	d := openapi.Describe(r, h.p)
	add := func(method, path, action string, fn fiber.Handler) {
		d.Add(method, path, h.describe(sc, method, action), route(method, path, fn)...)
	}
	add(fiber.MethodGet, v.Path, "list", h.list)
	add(fiber.MethodPost, v.Path, "create", h.create)
	add(fiber.MethodGet, v.Path+"/:id", "retrieve", h.get)
	add(fiber.MethodPatch, v.Path+"/:id", "partial_update", h.update)
	add(fiber.MethodDelete, v.Path+"/:id", "destroy", h.delete)
	for _, f := range pl.files {
		op := h.describe(sc, fiber.MethodPut, "upload")
		op.Summary = "Upload the " + f.Name + " of a " + sc.sc.name
		if f.Kind == models.KindImage {
			op.Description = "Multipart part `file`: a JPEG, PNG or WebP image, at most MAX_UPLOAD_SIZE. Not an image: 400."
		} else {
			op.Description = "Multipart part `file`, at most MAX_UPLOAD_SIZE."
		}
		d.Add(fiber.MethodPut, v.Path+"/:id/"+f.Name, op, route(fiber.MethodPut, v.Path+"/:id/"+f.Name, h.upload(f))...)
	}
}
