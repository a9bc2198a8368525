package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

type address struct {
	City  string  `json:"city"`
	Notes *string `json:"notes,omitempty"`
}

type Audit struct {
	Reason string `json:"reason"`
}

// profile has a string of every shape a request body can bind: plain,
// optional, nested, in lists and maps, embedded, and binary fields that are
// not text.
type profile struct {
	Audit
	Email   string             `json:"email" validate:"required"`
	Nick    *string            `json:"nick"`
	Home    *address           `json:"home"`
	Work    address            `json:"work"`
	Tags    []string           `json:"tags"`
	Labels  map[string]string  `json:"labels"`
	Extra   map[string]any     `json:"extra"`
	Matrix  [][]*string        `json:"matrix"`
	Raw     json.RawMessage    `json:"raw"`
	Blob    []byte             `json:"blob"`
	ByID    map[int]string     `json:"by_id"`
	Ignored string             `json:"-"`
	Nested  map[string]address `json:"nested"`
}

func TestDecodeRefusesNUL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"clean", `{"email":"a@example.com","nick":"x","tags":["a"],"blob":"AAA=","raw":"\u0000"}`, nil},
		{"plain", `{"email":"a\u0000@example.com"}`, []string{"email"}},
		{"only NUL", `{"email":"\u0000"}`, []string{"email"}},
		{"optional pointer", `{"email":"a","nick":"\u0000"}`, []string{"nick"}},
		{"nested pointer", `{"email":"a","home":{"city":"x\u0000"}}`, []string{"home.city"}},
		{"nested optional", `{"email":"a","work":{"notes":"\u0000"}}`, []string{"work.notes"}},
		{"list", `{"email":"a","tags":["ok","b\u0000"]}`, []string{"tags.1"}},
		{"map value", `{"email":"a","labels":{"k":"\u0000"}}`, []string{"labels.k"}},
		{"map key", `{"email":"a","labels":{"k\u0000":"v"}}`, []string{"labels"}},
		{"any, deep", `{"email":"a","extra":{"x":[1,{"y":"\u0000"}]}}`, []string{"extra.x.1.y"}},
		{"list of lists of pointers", `{"email":"a","matrix":[[null,"\u0000"]]}`, []string{"matrix.0.1"}},
		{"int-keyed map", `{"email":"a","by_id":{"7":"\u0000"}}`, []string{"by_id.7"}},
		{"map of structs", `{"email":"a","nested":{"k":{"city":"\u0000"}}}`, []string{"nested.k.city"}},
		{"embedded struct", `{"email":"a","reason":"\u0000"}`, []string{"reason"}},
		{"unknown field ignored", `{"email":"a","is_staff":"\u0000"}`, nil},
		{"several, with another error", `{"nick":"\u0000","tags":["\u0000"]}`, []string{"email", "nick", "tags.0"}},
		{"escaped backslash is no NUL", `{"email":"a\\u0000"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var dst profile
			err := api.Decode([]byte(tt.body), "application/json", &dst)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			e := asAPIError(t, err)
			if e.Status != http.StatusBadRequest || e.Type != api.TypeValidation {
				t.Fatalf("Decode = %v", e)
			}
			var got []string
			for _, fe := range e.Errors {
				got = append(got, fe.Field)
				if fe.Field != "email" && fe.Message != api.MsgNullCharacters {
					t.Errorf("%s: message %q", fe.Field, fe.Message)
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("fields %v, want %v (%v)", got, tt.fields, e)
			}
		})
	}
	// Validate (query parameters, form values) refuses them too.
	e := asAPIError(t, api.Validate(&signup{Email: "a@example.com", Password: "longen\x00ough"}))
	if e.Errors[0].Field != "password" || e.Errors[0].Message != api.MsgNullCharacters {
		t.Errorf("Validate: %v", e)
	}
}

func TestRefuseNUL(t *testing.T) {
	t.Parallel()
	app := fiber.New(fiber.Config{ErrorHandler: api.ErrorHandler(nil, false, 0)})
	app.Use(api.RefuseNUL())
	app.Get("/*", func(c *fiber.Ctx) error { return c.SendString("ok") })
	tests := []struct {
		target string
		status int
		field  string
	}{
		{"/x?search=abc", 200, ""},
		{"/x?search=a%00b", 400, "search"},
		{"/x?a=1&per_page=%00", 400, "per_page"},
		{"/x?na%00me=1", 400, api.NonFieldErrors},
		{"/x%00", 404, ""},
		{"/x?search=%2500", 200, ""},
	}
	for _, tt := range tests {
		res, err := app.Test(httptest.NewRequest("GET", tt.target, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		var e api.Error
		_ = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.target, res.StatusCode, tt.status)
			continue
		}
		if tt.field != "" && (len(e.Errors) != 1 || e.Errors[0].Field != tt.field || e.Errors[0].Message != api.MsgNullCharacters) {
			t.Errorf("%s: errors %+v, want one on %s", tt.target, e.Errors, tt.field)
		}
	}
}
