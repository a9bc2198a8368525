package api

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// MsgNullCharacters is the ValidationError message for a value holding a NUL
// character, in Django REST framework's words. Databases refuse NUL in text
// (Postgres) or cut strings at it, so no NUL may reach a query.
const MsgNullCharacters = "Null characters are not allowed."

// RefuseNUL is a middleware that keeps NUL characters in the URL away from
// every handler: a query parameter whose name or value holds one (%00) is a
// 400 ValidationError on that parameter (non_field_errors when the name
// itself holds it), and a path holding one is a 404. Request bodies are
// checked where they are decoded: Bind and Validate for JSON and form
// values, FormFile for multipart file names.
func RefuseNUL() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if bytes.IndexByte(c.Request().URI().Path(), 0) >= 0 {
			return NotFound("")
		}
		var errs []FieldError
		seen := map[string]bool{}
		c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
			field := string(k)
			switch {
			case bytes.IndexByte(k, 0) >= 0:
				field = NonFieldErrors
			case bytes.IndexByte(v, 0) < 0:
				return
			}
			if !seen[field] {
				seen[field] = true
				errs = append(errs, FieldErr(field, MsgNullCharacters))
			}
		})
		if len(errs) > 0 {
			return Validation(errs...)
		}
		return c.Next()
	}
}

// nulFields returns the JSON names of the fields of v (a decoded struct, map,
// slice or string, through pointers and interfaces) whose strings hold a NUL
// character: "email", "address.city", "tags.2" for nested values, the way
// they were named in the request body.
func nulFields(v reflect.Value, path string, out []string) []string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = nulFields(v.Elem(), path, out)
		}
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			out = append(out, fieldPath(path))
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous && f.Tag.Get("json") == "" {
				out = nulFields(v.Field(i), path, out) // embedded: its fields are the parent's
				continue
			}
			name := jsonName(f)
			if name == "" {
				continue
			}
			out = nulFields(v.Field(i), join(path, name), out)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return out // []byte is base64 in JSON, uuid.UUID is bytes: binary, not text
		}
		for i := range v.Len() {
			out = nulFields(v.Index(i), join(path, strconv.Itoa(i)), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprint(k.Interface())
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return names[order[a]] < names[order[b]] })
		for _, i := range order {
			if strings.IndexByte(names[i], 0) >= 0 {
				out = append(out, fieldPath(path))
				continue
			}
			out = nulFields(v.MapIndex(keys[i]), join(path, names[i]), out)
		}
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func fieldPath(path string) string {
	if path == "" {
		return NonFieldErrors
	}
	return path
}
