package api_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"manouche/core/api"
)

type fuzzTarget struct {
	Email    string            `json:"email" validate:"required,email"`
	Name     string            `json:"name" validate:"omitempty,max=20"`
	Password string            `json:"password" trim:"false" validate:"omitempty,max=64"`
	Count    int               `json:"count" validate:"gte=0,lte=1000"`
	Ratio    float64           `json:"ratio"`
	On       *bool             `json:"on" validate:"required"`
	Tags     []string          `json:"tags" validate:"max=3,dive,max=10"`
	Meta     map[string]string `json:"meta"`
	Choice   string            `json:"choice" validate:"omitempty,oneof=a b c"`
	ID       string            `json:"id" validate:"omitempty,uuid"`
	Homepage string            `json:"homepage" validate:"omitempty,url"`
	Inner    *struct {
		X string `json:"x" validate:"required"`
	} `json:"inner"`
}

// fuzzFields are the names a ValidationError on fuzzTarget may carry: its
// JSON names (and paths below them, "tags.2", "meta.k"), the nested
// struct's field, and non_field_errors.
var fuzzFields = map[string]bool{"email": true, "name": true, "password": true, "count": true, "ratio": true, "on": true,
	"tags": true, "meta": true, "choice": true, "id": true, "homepage": true, "inner": true, "x": true, api.NonFieldErrors: true}

// FuzzDecode checks the JSON binder on any body and content type:
//   - it never panics, and answers nil or an *api.Error of the contract: 415
//     UnsupportedMediaType, 400 ParseError or 400 ValidationError, with
//     entries, and ValidationError entries naming fields of the target;
//   - what it accepts honours the target's rules (required present, bounds,
//     no NUL anywhere, strings trimmed but in trim:"false" fields);
//   - what it accepts round-trips: the decoded value, encoded again and
//     decoded, is the same value (binding is idempotent).
func FuzzDecode(f *testing.F) {
	seeds := []struct{ body, ct string }{
		{`{"email":"a@example.com","on":true}`, "application/json"},
		{`{"email":" a@example.com ","on":false,"password":"  pw  ","name":" n "}`, "application/json; charset=utf-8"},
		{`{"email":"a@example.com","on":true,"count":1000,"tags":["a","b","c"],"meta":{"k":"v"},"choice":"a","id":"8c5e8f8e-7d8e-4a43-9d36-1d3b9b1f9a10","homepage":"https://example.com/x","inner":{"x":"y"},"ratio":-0.5e-300}`, "application/json"},
		{`{"email":null,"on":null,"tags":["a","b","c","d"]}`, "application/json"},
		{`{"count":1e400}`, "application/json"},
		{`{"count":9223372036854775808,"ratio":1.7976931348623157e309}`, "application/json"},
		{`{"count":-1,"ratio":"x"}`, "application/json"},
		{`{"count":1.5}`, "application/json"},
		{`{"inner":{"x":null},"meta":{"k":1}}`, "application/json"},
		{`{"email":"\ud800"}`, "application/json"},
		{`{"email":"a@example.com","on":true,"name":"\u0000"}`, "application/json"},
		{`{"email":"a@example.com","on":true,"meta":{"\u0000":"v"},"tags":["x\u0000"]}`, "application/json"},
		{"{\"email\":\"\xff\"}", "application/json"},
		{"\xef\xbb\xbf{\"email\":\"a@example.com\",\"on\":true}", "application/json"},
		{`{"email":"a@example.com","on":true,"name":"\u202e\u200b\ufeff\u0301e"}`, "application/json"},
		{`{"email":"ünïcødé@exämple.com","on":true}`, "application/json"},
		{`[]`, "application/json"},
		{`null`, "application/json"},
		{`"string"`, "application/json"},
		{`12`, "application/json"},
		{`{}{}`, "application/json"},
		{`{"email":"a@example.com","on":true}garbage`, "application/json"},
		{`{"email":`, "application/json"},
		{``, ""},
		{`   `, "text/plain"},
		{`{"a":1}`, "application/json; charset=\""},
		{`{"a":1}`, "text/plain"},
		{`{"a":1}`, "application/x-www-form-urlencoded"},
		{`{"a":1}`, "APPLICATION/JSON"},
		{`{"choice":"z","id":"nope","homepage":"::"}`, "application/problem+json"},
		{`{"email":"a@example.com","on":true,"email":"b"}`, "application/json"},
		{`{"email":"a@example.com","on":true,"EMAIL":"b","Email":"c"}`, "application/json"},
		{`{"tags":"notalist","inner":[]}`, "application/json"},
		{`{"meta":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}`, "application/json"},
		{`{"tags":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`, "application/json"},
		{`{"email":"a@example.com","on":true,"name":"` + strings.Repeat("é", 100000) + `"}`, "application/json"},
		{`{"email":"` + strings.Repeat("a", 1<<20) + `@example.com","on":true}`, "application/json"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		var dst fuzzTarget
		err := api.Decode(body, ct, &dst)
		if err != nil {
			checkDecodeError(t, body, ct, err)
			return
		}
		checkAccepted(t, body, &dst)
		again, err := json.Marshal(&dst)
		if err != nil {
			t.Fatalf("Decode(%q) accepted a value that does not encode: %v", body, err)
		}
		var dst2 fuzzTarget
		if err := api.Decode(again, "application/json", &dst2); err != nil {
			t.Fatalf("Decode(%q) = %+v, whose encoding %s is refused: %v", body, dst, again, err)
		}
		if !reflect.DeepEqual(dst, dst2) {
			t.Fatalf("Decode(%q) = %+v; encoded and decoded again: %+v", body, dst, dst2)
		}
	})
}

func checkDecodeError(t *testing.T, body []byte, ct string, err error) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode(%q, %q) = %v (%T), want *api.Error", body, ct, err, err)
	}
	switch {
	case len(e.Errors) == 0:
		t.Fatalf("Decode(%q, %q): an error with no entries", body, ct)
	case e.Type == api.TypeUnsupportedMedia && e.Status == 415,
		e.Type == api.TypeParse && e.Status == 400:
	case e.Type == api.TypeValidation && e.Status == 400:
		for _, fe := range e.Errors {
			top, _, _ := strings.Cut(fe.Field, ".")
			if !fuzzFields[top] || fe.Message == "" {
				t.Fatalf("Decode(%q, %q): a ValidationError entry %+v that names no field of the target", body, ct, fe)
			}
		}
	default:
		t.Fatalf("Decode(%q, %q) = %d %s, want 415 UnsupportedMediaType, 400 ParseError or 400 ValidationError", body, ct, e.Status, e.Type)
	}
	if _, err := json.Marshal(e); err != nil {
		t.Fatalf("Decode(%q, %q): the error does not encode: %v", body, ct, err)
	}
}

// checkAccepted checks that an accepted value honours fuzzTarget's rules.
func checkAccepted(t *testing.T, body []byte, d *fuzzTarget) {
	t.Helper()
	bad := func(what string) { t.Fatalf("Decode(%q) accepted %+v: %s", body, *d, what) }
	if d.Email == "" || d.On == nil {
		bad("a required field is missing")
	}
	if d.Count < 0 || d.Count > 1000 || len(d.Tags) > 3 {
		bad("out of bounds")
	}
	if d.Choice != "" && d.Choice != "a" && d.Choice != "b" && d.Choice != "c" {
		bad("not a choice")
	}
	if d.Inner != nil && d.Inner.X == "" {
		bad("a nested required field is missing")
	}
	strs := []string{d.Email, d.Name, d.Choice, d.ID, d.Homepage}
	if d.Inner != nil {
		strs = append(strs, d.Inner.X)
	}
	for _, s := range strs {
		if s != strings.TrimSpace(s) {
			bad("a string is not trimmed")
		}
	}
	all := append(append(strs, d.Password), d.Tags...)
	for k, v := range d.Meta {
		all = append(all, k, v)
	}
	for _, s := range all {
		if strings.IndexByte(s, 0) >= 0 {
			bad("a NUL character got through")
		}
	}
}
