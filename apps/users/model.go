package users

import (
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// User is an account: the API's users and the admin's staff alike.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID          uuid.UUID  `bun:"id,pk,type:uuid"`
	Email       string     `bun:"email,notnull"`
	FirstName   string     `bun:"first_name,notnull"`
	LastName    string     `bun:"last_name,notnull"`
	Password    string     `bun:"password,notnull"`
	IsActive    bool       `bun:"is_active,notnull"`
	IsStaff     bool       `bun:"is_staff,notnull"`
	IsSuperuser bool       `bun:"is_superuser,notnull"`
	DateJoined  time.Time  `bun:"date_joined,notnull"`
	LastLogin   *time.Time `bun:"last_login"`
	// Avatar is the stored name of the user's avatar in the media storage, or "".
	Avatar string `bun:"avatar,notnull"`
}

// UserID returns the user's id as text (core.User).
func (u *User) UserID() string { return u.ID.String() }

// FullName is the first and last name with a space between, like Django's get_full_name.
func (u *User) FullName() string {
	switch {
	case u.FirstName == "":
		return u.LastName
	case u.LastName == "":
		return u.FirstName
	}
	return u.FirstName + " " + u.LastName
}

// Token is an API auth token. Only its SHA-256 is stored; the token itself is
// shown once, when it is made.
type Token struct {
	bun.BaseModel `bun:"table:users_tokens,alias:t"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,notnull,type:uuid"`
	KeyHash   string    `bun:"key_hash,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	ExpiresAt time.Time `bun:"expires_at,notnull"`
}
