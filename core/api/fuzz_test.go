package api_test

import (
	"errors"
	"testing"

	"manouche/core/api"
)

type fuzzTarget struct {
	Email    string            `json:"email" validate:"required,email"`
	Name     string            `json:"name" validate:"omitempty,max=20"`
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

// FuzzDecode checks that Decode never panics and always answers nil or an
// *api.Error with a 4xx status, whatever the body and content type.
func FuzzDecode(f *testing.F) {
	seeds := []struct{ body, ct string }{
		{`{"email":"a@example.com","on":true}`, "application/json"},
		{`{"email":null,"on":null,"tags":["a","b","c","d"]}`, "application/json"},
		{`{"count":1e400}`, "application/json"},
		{`{"count":-1,"ratio":"x"}`, "application/json"},
		{`{"inner":{"x":null},"meta":{"k":1}}`, "application/json"},
		{`{"email":"\ud800"}`, "application/json"},
		{"{\"email\":\"\xff\"}", "application/json"},
		{`[]`, "application/json"},
		{`null`, "application/json"},
		{``, ""},
		{`   `, "text/plain"},
		{`{"a":1}`, "application/json; charset=\""},
		{`{"choice":"z","id":"nope","homepage":"::"}`, "application/problem+json"},
		{`{"email":"a@example.com","on":true,"email":"b"}`, "application/json"},
		{`{"tags":"notalist","inner":[]}`, "application/json"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		var dst fuzzTarget
		err := api.Decode(body, ct, &dst)
		if err == nil {
			return
		}
		var e *api.Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode(%q, %q) = %v (%T), want *api.Error", body, ct, err, err)
		}
		if e.Status < 400 || e.Status > 499 {
			t.Fatalf("Decode(%q, %q) = status %d, want 4xx", body, ct, e.Status)
		}
		if len(e.Errors) == 0 {
			t.Fatalf("Decode(%q, %q): an error with no entries", body, ct)
		}
	})
}
