package users

import (
	"sync"

	"manouche/core/password"
)

// ValidatePassword runs Django's default password validators against plain,
// comparing it with the user's email and names; it returns the messages of
// every rule it breaks.
func ValidatePassword(plain string, u *User) []string {
	return password.Validate(plain, map[string]string{
		"email":      u.Email,
		"first_name": u.FirstName,
		"last_name":  u.LastName,
	})
}

func hashPassword(plain string) (string, error) { return password.Hash(plain) }

func checkPassword(plain, encoded string) (bool, error) { return password.Check(plain, encoded) }

var dummy = sync.OnceValue(func() string {
	h, _ := password.Hash("manouche-timing-equaliser")
	return h
})

// dummyHash is a real hash to check passwords against when no user matches,
// so that an unknown email costs as much time as a wrong password.
func dummyHash() string { return dummy() }
