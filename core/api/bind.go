package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"
)

// validate is the shared validator: built once, read-only afterwards.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonName)
	return v
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

// Bind decodes the request's JSON object into dst, a pointer to a struct, and
// validates it with the struct's `validate` tags (go-playground/validator).
// Errors are in the API contract: 415 for a body that is not JSON, 400
// ParseError for malformed JSON or a value of the wrong type, 400
// ValidationError, one entry per field, for missing or invalid values.
// Unknown fields are ignored, as Django REST framework does. A string holding
// a NUL character (\u0000), at any depth, is a ValidationError on its field
// ("Null characters are not allowed.", like DRF): no database stores it.
//
// Strings are trimmed of surrounding white space before validation, as DRF's
// CharField does, but in fields tagged `trim:"false"` (passwords, tokens).
//
// A compressed body (any Content-Encoding but identity) is refused with 415:
// Fiber would inflate it in memory past the body size limit.
func Bind(c *fiber.Ctx, dst any) error {
	if enc := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)); enc != "" && !strings.EqualFold(enc, "identity") {
		return &Error{Status: fiber.StatusUnsupportedMediaType, Type: TypeUnsupportedMedia,
			Errors: []FieldError{{Message: fmt.Sprintf("Unsupported Content-Encoding %q: send the body uncompressed.", enc)}}}
	}
	return Decode(c.Request().Body(), c.Get(fiber.HeaderContentType), dst)
}

// Decode is Bind for a body and its content type.
func Decode(body []byte, contentType string, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	} else if !isJSON(contentType) {
		return UnsupportedMediaType(contentType)
	}
	if !utf8.Valid(body) {
		return Parse("JSON parse error - the body is not valid UTF-8.")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) || bytes.HasPrefix(bytes.TrimSpace(body), []byte("null")) {
			return Parse("JSON parse error - expected a JSON object.")
		}
		return Parse("JSON parse error - " + jsonErrText(err))
	}
	if raw == nil {
		return Parse("JSON parse error - expected a JSON object.")
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return Parse(fmt.Sprintf("Invalid type for %q: expected %s, got %s.", field, describeType(typeErr.Type), typeErr.Value))
		}
		return Parse("JSON parse error - " + jsonErrText(err))
	}
	trimStrings(reflect.ValueOf(dst))
	return check(dst, raw)
}

// trimStrings strips leading and trailing white space from the string and
// *string fields of the struct v points to (and of its nested structs), as
// Django REST framework's CharField does (trim_whitespace): " ann@example.com"
// from a phone keyboard's autocompletion is ann@example.com, and "   " is
// blank. A field tagged `trim:"false"` (a password, a token) is kept as sent.
func trimStrings(v reflect.Value) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("trim") == "false" {
			continue
		}
		fv := v.Field(i)
		switch {
		case fv.Kind() == reflect.String:
			fv.SetString(strings.TrimSpace(fv.String()))
		case fv.Kind() == reflect.Pointer && !fv.IsNil() && fv.Elem().Kind() == reflect.String:
			fv.Elem().SetString(strings.TrimSpace(fv.Elem().String()))
		default:
			trimStrings(fv)
		}
	}
}

// Validate checks dst's `validate` tags as Bind does, and refuses NUL
// characters in its strings, for values that did not come from a request
// body (query parameters, form values).
func Validate(dst any) error { return check(dst, nil) }

func check(dst any, raw map[string]json.RawMessage) error {
	var fieldErrs []FieldError
	seen := map[string]bool{}
	// NUL characters first: no database stores them, whatever the field's rules.
	for _, name := range nulFields(reflect.ValueOf(dst), "", nil) {
		if !seen[name] {
			seen[name] = true
			fieldErrs = append(fieldErrs, FieldErr(name, MsgNullCharacters))
		}
	}
	// Presence first: a missing or null required field says so, in DRF's words.
	if raw != nil {
		t := reflect.TypeOf(dst)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Struct {
			for i := range t.NumField() {
				f := t.Field(i)
				name := jsonName(f)
				rules := f.Tag.Get("validate")
				if name == "" || !hasRule(rules, "required") || hasRule(rules, "omitnil") || hasRule(rules, "omitempty") {
					continue
				}
				v, present := raw[name]
				switch {
				case !present:
					fieldErrs = append(fieldErrs, FieldErr(name, "This field is required."))
					seen[name] = true
				case string(bytes.TrimSpace(v)) == "null":
					fieldErrs = append(fieldErrs, FieldErr(name, "This field may not be null."))
					seen[name] = true
				}
			}
		}
	}
	if err := validate.Struct(dst); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return fmt.Errorf("api: validate: %w", err)
		}
		for _, fe := range verrs {
			name := fe.Field()
			if seen[name] {
				continue
			}
			seen[name] = true
			fieldErrs = append(fieldErrs, FieldErr(name, message(fe)))
		}
	}
	if len(fieldErrs) > 0 {
		return Validation(fieldErrs...)
	}
	return nil
}

// message renders a validation failure the way Django REST framework words it.
func message(fe validator.FieldError) string {
	isString := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		if isString {
			return "This field may not be blank."
		}
		return "This field is required."
	case "email":
		return "Enter a valid email address."
	case "max", "lte":
		if isString {
			return fmt.Sprintf("Ensure this field has no more than %s characters.", fe.Param())
		}
		return fmt.Sprintf("Ensure this value is less than or equal to %s.", fe.Param())
	case "min", "gte":
		if isString {
			return fmt.Sprintf("Ensure this field has at least %s characters.", fe.Param())
		}
		return fmt.Sprintf("Ensure this value is greater than or equal to %s.", fe.Param())
	case "oneof":
		return fmt.Sprintf("%q is not a valid choice.", fmt.Sprint(fe.Value()))
	case "uuid", "uuid4":
		return "Must be a valid UUID."
	case "url", "http_url":
		return "Enter a valid URL."
	case "notblank":
		return "This field may not be blank."
	}
	return "Invalid value."
}

func hasRule(tag, rule string) bool {
	for _, r := range strings.Split(tag, ",") {
		if r == rule {
			return true
		}
	}
	return false
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

func jsonErrText(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d).", syn.Error(), syn.Offset)
	}
	return err.Error() + "."
}
