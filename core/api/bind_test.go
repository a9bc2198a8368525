package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"manouche/core/api"
)

type signup struct {
	Email     string  `json:"email" validate:"required,email"`
	Password  string  `json:"password" validate:"required,min=8"`
	FirstName string  `json:"first_name" validate:"max=5"`
	Age       int     `json:"age" validate:"gte=0,lte=150"`
	Admin     bool    `json:"admin"`
	Nickname  *string `json:"nickname"`
}

func asAPIError(t *testing.T, err error) *api.Error {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *api.Error", err, err)
	}
	return e
}

func TestDecode(t *testing.T) {
	t.Parallel()
	type want struct {
		status int
		typ    string
		fields map[string]string // field → message substring ("" = any)
	}
	ok := want{}
	parse := want{status: 400, typ: api.TypeParse}
	tests := []struct {
		name, ct, body string
		want           want
	}{
		{"valid", "application/json", `{"email":"a@example.com","password":"longenough"}`, ok},
		{"valid with charset", "application/json; charset=utf-8", `{"email":"a@example.com","password":"longenough"}`, ok},
		{"vendor json type", "application/vnd.manouche+json; version=1.0", `{"email":"a@example.com","password":"longenough"}`, ok},
		{"extra fields ignored", "application/json", `{"email":"a@example.com","password":"longenough","is_staff":true,"id":"x"}`, ok},
		{"wrong type string", "application/json", `{"email":123,"password":"longenough"}`, parse},
		{"wrong type int", "application/json", `{"email":"a@example.com","password":"longenough","age":"old"}`, parse},
		{"wrong type bool", "application/json", `{"email":"a@example.com","password":"longenough","admin":"yes"}`, parse},
		{"array body", "application/json", `[{"email":"a@example.com"}]`, parse},
		{"string body", "application/json", `"hello"`, parse},
		{"number body", "application/json", `42`, parse},
		{"null body", "application/json", `null`, parse},
		{"truncated", "application/json", `{"email":"a@`, parse},
		{"trailing garbage", "application/json", `{"email":"a@example.com"} x`, parse},
		{"invalid utf-8", "application/json", "{\"email\":\"\xff\xfe@example.com\",\"password\":\"longenough\"}", parse},
		{"missing required", "application/json", `{"password":"longenough"}`, want{400, api.TypeValidation, map[string]string{"email": "This field is required."}}},
		{"empty object", "application/json", `{}`, want{400, api.TypeValidation, map[string]string{"email": "This field is required.", "password": "This field is required."}}},
		{"empty body is an empty object", "", ``, want{400, api.TypeValidation, map[string]string{"email": "This field is required.", "password": "This field is required."}}},
		{"null required", "application/json", `{"email":null,"password":"longenough"}`, want{400, api.TypeValidation, map[string]string{"email": "This field may not be null."}}},
		{"blank required", "application/json", `{"email":"","password":"longenough"}`, want{400, api.TypeValidation, map[string]string{"email": "This field may not be blank."}}},
		{"bad email", "application/json", `{"email":"not-an-email","password":"longenough"}`, want{400, api.TypeValidation, map[string]string{"email": "Enter a valid email address."}}},
		{"max length", "application/json", `{"email":"a@example.com","password":"longenough","first_name":"Bartholomew"}`, want{400, api.TypeValidation, map[string]string{"first_name": "Ensure this field has no more than 5 characters."}}},
		{"min length", "application/json", `{"email":"a@example.com","password":"short"}`, want{400, api.TypeValidation, map[string]string{"password": "Ensure this field has at least 8 characters."}}},
		{"number too big", "application/json", `{"email":"a@example.com","password":"longenough","age":200}`, want{400, api.TypeValidation, map[string]string{"age": "less than or equal to 150"}}},
		{"several fields at once", "application/json", `{"email":"nope","password":"short"}`, want{400, api.TypeValidation, map[string]string{"email": "", "password": ""}}},
		{"text/plain", "text/plain", `{"email":"a@example.com","password":"longenough"}`, want{status: 415, typ: api.TypeUnsupportedMedia}},
		{"form", "application/x-www-form-urlencoded", `email=a@example.com`, want{status: 415, typ: api.TypeUnsupportedMedia}},
		{"no content type", "", `{"email":"a@example.com","password":"longenough"}`, want{status: 415, typ: api.TypeUnsupportedMedia}},
		{"malformed content type", "application/", `{}`, want{status: 415, typ: api.TypeUnsupportedMedia}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var dst signup
			err := api.Decode([]byte(tt.body), tt.ct, &dst)
			if tt.want.status == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if dst.Email != "a@example.com" {
					t.Errorf("Email = %q", dst.Email)
				}
				return
			}
			e := asAPIError(t, err)
			if e.Status != tt.want.status || e.Type != tt.want.typ {
				t.Fatalf("got %d %s (%v), want %d %s", e.Status, e.Type, e, tt.want.status, tt.want.typ)
			}
			if len(e.Errors) == 0 {
				t.Fatal("no entries")
			}
			if tt.want.typ != api.TypeValidation {
				for _, fe := range e.Errors {
					if fe.Field != "" || fe.Message == "" {
						t.Errorf("entry %+v: non-validation errors carry one message and no field", fe)
					}
				}
				return
			}
			got := map[string]string{}
			for _, fe := range e.Errors {
				if _, dup := got[fe.Field]; dup {
					t.Errorf("two entries for %s: %v", fe.Field, e.Errors)
				}
				got[fe.Field] = fe.Message
			}
			if len(got) != len(tt.want.fields) {
				t.Errorf("entries %v, want fields %v", e.Errors, tt.want.fields)
			}
			for f, msg := range tt.want.fields {
				m, ok := got[f]
				if !ok {
					t.Errorf("no entry for %s: %v", f, e.Errors)
				} else if !strings.Contains(m, msg) {
					t.Errorf("%s: message %q, want %q", f, m, msg)
				}
			}
		})
	}
}

// TestDecodeTrimsStrings: strings and *strings, nested ones too, lose their
// surrounding white space before validation (DRF's trim_whitespace), but in
// fields tagged trim:"false".
func TestDecodeTrimsStrings(t *testing.T) {
	t.Parallel()
	type inner struct {
		City string `json:"city"`
	}
	var dst struct {
		Email    string  `json:"email" validate:"required,email"`
		Nickname *string `json:"nickname"`
		Blank    string  `json:"blank"`
		Password string  `json:"password" trim:"false"`
		Address  inner   `json:"address"`
	}
	body := `{"email":" a@example.com\n","nickname":"\t Al ","blank":"   ","password":" p w ","address":{"city":" Lyon "}}`
	if err := api.Decode([]byte(body), "application/json", &dst); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if dst.Email != "a@example.com" || dst.Nickname == nil || *dst.Nickname != "Al" || dst.Blank != "" ||
		dst.Password != " p w " || dst.Address.City != "Lyon" {
		t.Errorf("decoded %+v (nickname %v)", dst, *dst.Nickname)
	}
	// A required field of white space only is blank.
	err := api.Decode([]byte(`{"email":"   "}`), "application/json", &dst)
	if e := asAPIError(t, err); len(e.Errors) != 1 || e.Errors[0].Message != "This field may not be blank." {
		t.Errorf("white space only: %v", e.Errors)
	}
}

func TestDecodeWrongTypeNamesField(t *testing.T) {
	t.Parallel()
	var dst signup
	e := asAPIError(t, api.Decode([]byte(`{"email":"a@example.com","password":"longenough","age":"old"}`), "application/json", &dst))
	if !strings.Contains(e.Errors[0].Message, `"age"`) || !strings.Contains(e.Errors[0].Message, "an integer") {
		t.Errorf("message %q does not name the field and its type", e.Errors[0].Message)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	err := api.Validate(&signup{Email: "bad", Password: "longenough"})
	e := asAPIError(t, err)
	if e.Status != http.StatusBadRequest || e.Type != api.TypeValidation || e.Errors[0].Field != "email" {
		t.Errorf("Validate = %v", e)
	}
	if err := api.Validate(&signup{Email: "a@example.com", Password: "longenough"}); err != nil {
		t.Errorf("Validate of a valid value: %v", err)
	}
}

func TestErrorConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    *api.Error
		status int
		typ    string
		header string
	}{
		{api.NotAuthenticated(), 401, api.TypeNotAuthenticated, "WWW-Authenticate"},
		{api.AuthenticationFailed(""), 401, api.TypeAuthenticationFailed, "WWW-Authenticate"},
		{api.PermissionDenied(""), 403, api.TypePermissionDenied, ""},
		{api.NotFound(""), 404, api.TypeNotFound, ""},
		{api.UnsupportedMediaType("text/xml"), 415, api.TypeUnsupportedMedia, ""},
		{api.PayloadTooLarge(1024), 413, api.TypePayloadTooLarge, ""},
		{api.Throttled(1500e6), 429, api.TypeThrottled, "Retry-After"},
		{api.Unavailable(api.FieldErr("database", "down")), 503, api.TypeServiceUnavailable, ""},
		{api.Parse("bad"), 400, api.TypeParse, ""},
	}
	for _, tt := range tests {
		if tt.err.Status != tt.status || tt.err.Type != tt.typ || len(tt.err.Errors) == 0 || tt.err.Errors[0].Message == "" {
			t.Errorf("%v: want %d %s with a message", tt.err, tt.status, tt.typ)
		}
		if tt.header != "" && tt.err.Header[tt.header] == "" {
			t.Errorf("%v: no %s header", tt.err, tt.header)
		}
	}
	if got := api.Throttled(1500e6).Header["Retry-After"]; got != "2" {
		t.Errorf("Retry-After for 1.5s = %q, want 2", got)
	}
	// Unknown errors are 500 without internals unless debug.
	secret := errors.New("pq: password authentication failed for user app")
	if e := api.From(secret, false, 0); e.Status != 500 || e.Type != api.TypeServerError || strings.Contains(e.Error(), "password") {
		t.Errorf("From(unknown, debug off) = %v", e)
	}
	if e := api.From(secret, true, 0); !strings.Contains(e.Errors[0].Message, "password authentication") {
		t.Errorf("From(unknown, debug on) = %v, want the error's text", e)
	}
	if e := api.From(secret, false, 0); !errors.Is(e, secret) {
		t.Error("From does not keep the cause for logging")
	}
}
