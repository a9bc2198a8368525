package password_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"manouche/core/password"
)

func TestValidateDjangoRules(t *testing.T) {
	t.Parallel()
	jane := map[string]string{"email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe"}
	tests := []struct {
		name     string
		password string
		attrs    map[string]string
		want     []string
	}{
		{"acceptable", "Xk9#mQ2!vL", jane, nil},
		{"acceptable without attrs", "correct horse battery staple", nil, nil},
		{"too short", "Xk9#mQ2", nil, []string{password.MsgTooShort}},
		{"entirely numeric", "83920174", nil, []string{password.MsgNumeric}},
		{"too common", "iloveyou", nil, []string{password.MsgCommon}},
		{"too common, any case and surrounding spaces", "  PassWord1 ", nil, []string{password.MsgCommon}},
		{"short, common and numeric", "123456", nil, []string{password.MsgTooShort, password.MsgCommon, password.MsgNumeric}},
		{"similar to the email", "jane.doe@example.com", jane, []string{password.MsgTooSimilar("email")}},
		{"similar to a part of the email", "elpmaxe!", jane, []string{password.MsgTooSimilar("email")}},
		{"similar to the first name", "JaneJane", map[string]string{"first_name": "Janejane"}, []string{password.MsgTooSimilar("first name")}},
		{"similar to the last name", "doedoe99", map[string]string{"last_name": "Doedoe99x"}, []string{password.MsgTooSimilar("last name")}},
		{"similar to another attribute", "acme-corp", map[string]string{"company_name": "ACME corp"}, []string{password.MsgTooSimilar("company name")}},
		{"long password not compared with a tiny part", "a-very-long-passphrase-about-jd", map[string]string{"email": "jd@x.io"}, nil},
		{"empty attributes ignored", "Xk9#mQ2!vL", map[string]string{"email": "", "first_name": ""}, nil},
		{"too long", strings.Repeat("Xk9#", 300), nil, []string{password.MsgTooLong}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := password.Validate(tc.password, tc.attrs)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Validate(%q) = %q, want %q", tc.password, got, tc.want)
			}
		})
	}
}

func TestMessagesAreDjangos(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		password.MsgTooShort:            "This password is too short. It must contain at least 8 characters.",
		password.MsgNumeric:             "This password is entirely numeric.",
		password.MsgCommon:              "This password is too common.",
		password.MsgTooSimilar("email"): "The password is too similar to the email.",
	} {
		if got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	}
	if password.MaxLength*utf8.UTFMax > password.MaxBytes {
		t.Error("a password Validate accepts could be refused by Hash")
	}
}

// The vectors come from Django's validator code run by Python (see
// testdata/gen_django_vectors.py): same difflib, str.lower, str.isdigit,
// re.split and common-password list.
func TestValidateMatchesDjango(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/django_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Password string            `json:"password"`
		Attrs    map[string]string `json:"attrs"`
		Messages []string          `json:"messages"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 500 {
		t.Fatalf("only %d vectors", len(cases))
	}
	for _, c := range cases {
		got := password.Validate(c.Password, c.Attrs)
		if len(got) == 0 && len(c.Messages) == 0 {
			continue
		}
		if !slices.Equal(got, c.Messages) {
			t.Errorf("Validate(%q, %v) = %q, Django says %q", c.Password, c.Attrs, got, c.Messages)
		}
	}
}

func TestCommonListIsDjangos(t *testing.T) {
	t.Parallel()
	if n := password.CommonCount(); n < 19000 {
		t.Fatalf("common-password list has %d entries, want Django's ~20,000", n)
	}
	for _, p := range []string{"password", "123456", "qwerty", "letmein", "dragon", "sunshine"} {
		if !password.IsCommon(p) {
			t.Errorf("%q not in the common list", p)
		}
	}
	if password.IsCommon("Xk9#mQ2!vL") {
		t.Error("a random password is in the common list")
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"", "password", "12345678", "jane.doe@example.com", "\xff\xfe", "Élodie", strings.Repeat("a", 5000)} {
		f.Add(s, "jane.doe@example.com", "Jane")
	}
	known := []string{password.MsgTooShort, password.MsgTooLong, password.MsgCommon, password.MsgNumeric}
	f.Fuzz(func(t *testing.T, plain, email, first string) {
		msgs := password.Validate(plain, map[string]string{"email": email, "first_name": first})
		for _, m := range msgs {
			if !slices.Contains(known, m) && !strings.HasPrefix(m, "The password is too similar to the ") {
				t.Fatalf("unexpected message %q", m)
			}
		}
		if utf8.RuneCountInString(plain) >= password.MinLength && slices.Contains(msgs, password.MsgTooShort) {
			t.Fatalf("%q reported too short", plain)
		}
	})
}
