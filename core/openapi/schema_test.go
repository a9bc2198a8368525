package openapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"manouche/core/openapi"
)

type address struct {
	City string `json:"city"`
}

type answer struct {
	ID      uuid.UUID  `json:"id"`
	Name    string     `json:"name"`
	Note    *string    `json:"note"`
	When    time.Time  `json:"when"`
	Maybe   *time.Time `json:"maybe,omitempty"`
	Tags    []string   `json:"tags"`
	Home    address    `json:"home"`
	Skipped string     `json:"-"`
	hidden  string
	Count   int64  `json:"count" doc:"How many."`
	URL     string `json:"url" format:"uri"`
}

var _ = answer{hidden: ""} // the unexported field is left out

type request struct {
	Email string  `json:"email" validate:"required,max=254,email"`
	Name  *string `json:"name" validate:"omitnil,required,max=120"`
	Kind  string  `json:"kind" validate:"omitempty,oneof=a b"`
	Age   int     `json:"age" validate:"gte=0,lte=150"`
}

func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRegistry: answers are exact (required unless omitempty, pointers
// nullable, closed objects, named structs as components); bodies follow the
// binder's validate tags and accept unknown fields.
func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := openapi.NewRegistry()
	if got := encode(t, reg.Of(answer{}, openapi.ForResponse)); got != `{"$ref":"#/components/schemas/answer"}` {
		t.Errorf("answer: %s", got)
	}
	if got := encode(t, reg.Of(request{}, openapi.ForRequest)); got != `{"$ref":"#/components/schemas/request"}` {
		t.Errorf("request: %s", got)
	}
	tests := []struct{ name, want string }{
		{"answer", `{"type":"object","properties":{"count":{"description":"How many.","type":"integer","format":"int64"},` +
			`"home":{"$ref":"#/components/schemas/address"},"id":{"type":"string","format":"uuid"},` +
			`"maybe":{"type":["string","null"],"format":"date-time"},"name":{"type":"string"},"note":{"type":["string","null"]},` +
			`"tags":{"type":"array","items":{"type":"string"}},"url":{"type":"string","format":"uri"},"when":{"type":"string","format":"date-time"}},` +
			`"required":["id","name","note","when","tags","home","count","url"],"additionalProperties":false}`},
		{"address", `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`},
		{"request", `{"type":"object","properties":{"age":{"type":["integer","null"],"format":"int64","minimum":0,"maximum":150},` +
			`"email":{"type":"string","format":"email","maxLength":254},"kind":{"type":["string","null"],"enum":["","a","b",null]},` +
			`"name":{"type":["string","null"],"maxLength":120}},"required":["email"]}`},
	}
	for _, tt := range tests {
		if got := encode(t, reg.Schemas[tt.name]); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestUnique: an equal schema reuses its name, a different one gets the
// next free one.
func TestUnique(t *testing.T) {
	t.Parallel()
	reg := openapi.NewRegistry()
	a := &openapi.Schema{Type: "string"}
	if n := reg.Unique("Post", a); n != "Post" {
		t.Errorf("first: %s", n)
	}
	if n := reg.Unique("Post", &openapi.Schema{Type: "string"}); n != "Post" {
		t.Errorf("equal: %s", n)
	}
	if n := reg.Unique("Post", &openapi.Schema{Type: "integer"}); n != "Post2" {
		t.Errorf("different: %s", n)
	}
}
