package users_test

import (
	"encoding/json"
	"testing"

	"manouche/core/testkit"
)

// TestWhitespaceTrimmed: as Django REST framework's CharField does, the
// email and names lose surrounding white space (a phone keyboard's
// autocompletion adds a trailing space to an email), while a password is
// kept exactly as sent.
func TestWhitespaceTrimmed(t *testing.T) {
	t.Parallel()
	app := testkit.New(t)
	const spaced = "  " + goodPassword + " "
	res := app.RawJSON("POST", "/api/auth/register",
		`{"email":" Ann@Example.com\t","password":"`+spaced+`","first_name":"  Ann ","last_name":"   "}`)
	var out struct {
		Email     string `json:"email"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		AuthToken string `json:"auth_token"`
	}
	if res.Status != 201 || json.Unmarshal(res.Body, &out) != nil {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	if out.Email != "Ann@Example.com" || out.FirstName != "Ann" || out.LastName != "" {
		t.Errorf("register answered %+v, want the values trimmed", out)
	}
	if r := app.RawJSON("POST", "/api/auth/login", `{"email":"ann@example.com ","password":"`+spaced+`"}`); r.Status != 200 {
		t.Errorf("login with the password as sent: %d %s", r.Status, r.Body)
	}
	if r := app.RawJSON("POST", "/api/auth/login", `{"email":"ann@example.com","password":"`+goodPassword+`"}`); r.Status != 400 {
		t.Errorf("login with the password trimmed: %d %s, want 400 (passwords are not trimmed)", r.Status, r.Body)
	}
	me := app.RawJSON("PATCH", "/api/me", `{"first_name":" Bea  ","email":" bea@example.com "}`, "Authorization: Bearer "+out.AuthToken)
	if got := me.Map(); me.Status != 200 || got["first_name"] != "Bea" || got["email"] != "bea@example.com" {
		t.Errorf("PATCH /api/me: %d %s, want the values trimmed", me.Status, me.Body)
	}
}
