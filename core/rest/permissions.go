package rest

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/perm"
)

// MsgOwnerReadOnly refuses a body that names the owner of a row.
const MsgOwnerReadOnly = "This field is read-only: the owner is the signed-in user."

const permRequestKey = "manouche.rest.perm"

// request is the policy's view of c, made once per request.
func (h *handlers[T]) request(c *fiber.Ctx) *perm.Request {
	if r, ok := c.Locals(permRequestKey).(*perm.Request); ok {
		return r
	}
	r := perm.NewRequest(c, h.p, h.label)
	c.Locals(permRequestKey, r)
	return r
}

// allow is the middleware that asks the policy about the route.
func (h *handlers[T]) allow(c *fiber.Ctx) error {
	if err := h.policy.Allow(h.request(c)); err != nil {
		return err
	}
	return c.Next()
}

// row loads the row of the path's id and asks the policy about it.
func (h *handlers[T]) row(c *fiber.Ctx) (*T, error) {
	obj, err := h.find(c)
	if err != nil {
		return nil, err
	}
	if err := h.policy.AllowObject(h.request(c), perm.Object{Value: obj, Owner: h.ownerOf(obj)}); err != nil {
		return nil, err
	}
	return obj, nil
}

// ownerOf is the id of obj's owner, "" without an Owner column.
func (h *handlers[T]) ownerOf(obj *T) string {
	if h.owner == nil {
		return ""
	}
	v := reflect.ValueOf(obj).Elem().FieldByIndex(h.owner.Index)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if id, ok := v.Interface().(uuid.UUID); ok && id != uuid.Nil {
		return id.String()
	}
	return ""
}

// scope narrows a list to the signed-in user's rows when the policy says so.
func (h *handlers[T]) scope(c *fiber.Ctx, q *bun.SelectQuery) (*bun.SelectQuery, error) {
	s, ok := h.policy.(perm.Scoper)
	if !ok {
		return q, nil
	}
	own, err := s.OwnRowsOnly(h.request(c))
	if err != nil || !own {
		return q, err
	}
	if h.owner == nil {
		return nil, fmt.Errorf("rest: %s: the policy shows users their own rows only, but the view set declares no Owner", h.m.Type)
	}
	u := core.CurrentUser(c)
	if u == nil {
		return q.Where("1 = 0"), nil
	}
	id, err := uuid.Parse(u.UserID())
	if err != nil {
		return q.Where("1 = 0"), nil
	}
	return q.Where(h.m.Alias+"."+h.owner.Column+" = ?", id), nil
}

// refuseOwner refuses a body that names the owner column (by its API name or
// column): the owner is never set or changed from a request. A body that is
// not a JSON object is left to the serializer's ParseError.
func (h *handlers[T]) refuseOwner(c *fiber.Ctx) error {
	if h.owner == nil {
		return nil
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(c.Body(), &body) != nil {
		return nil
	}
	for _, name := range []string{h.owner.Name, h.owner.Column} {
		if _, ok := body[name]; ok {
			return api.Validation(api.FieldErr(h.owner.Name, MsgOwnerReadOnly))
		}
	}
	return nil
}

// setOwner makes the signed-in user the owner of a new row.
func (h *handlers[T]) setOwner(c *fiber.Ctx, obj *T) error {
	if h.owner == nil {
		return nil
	}
	u := core.CurrentUser(c)
	if u == nil {
		return api.NotAuthenticated()
	}
	id, err := uuid.Parse(u.UserID())
	if err != nil {
		return fmt.Errorf("rest: owner %q is not a UUID: %w", u.UserID(), err)
	}
	dst := reflect.ValueOf(obj).Elem().FieldByIndex(h.owner.Index)
	if dst.Kind() == reflect.Pointer {
		dst.Set(reflect.ValueOf(&id))
	} else {
		dst.Set(reflect.ValueOf(id))
	}
	return nil
}

// cacheSafeRead reports whether the policy's decision on a safe read of a
// row the scope shows never depends on the row, so that the row's cached
// JSON may be answered without loading it: the built-in policies (OwnerOnly
// hides others' rows through its scope). A custom policy (Func, All, Any)
// may look at the row: its reads are not cached.
func cacheSafeRead(p perm.Policy) bool {
	if reflect.TypeOf(p) != reflect.TypeOf(perm.AllowAny) {
		return false
	}
	switch fmt.Sprint(p) {
	case "AllowAny", "IsAuthenticated", "IsStaff", "IsAuthenticatedOrReadOnly", "ModelPermissions", "OwnerOrReadOnly", "OwnerOnly":
		return true
	}
	return false
}
