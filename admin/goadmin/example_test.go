package goadmin_test

import (
	"context"
	"database/sql"
	"log"

	"manouche/admin"
	"manouche/admin/goadmin"

	"github.com/gofiber/fiber/v2"
)

// The project mounts the admin on its Fiber app with its pool, its settings, the users app's
// two account functions, and every app's ModelAdmin declarations.
func ExampleMount() {
	var (
		app          = fiber.New()
		db           *sql.DB // bun.DB.DB
		authenticate func(ctx context.Context, email, password string) (admin.User, error)
		loadUser     func(ctx context.Context, id string) (admin.User, error)
	)
	_, err := goadmin.Mount(app, goadmin.Config{
		DB:           db,
		Dialect:      goadmin.SQLite, // goadmin.Postgres when bun's dialect is dialect.PG
		DSN:          "sqlite://db.sqlite3",
		SecretKey:    "the project's SECRET_KEY",
		SiteName:     "Manouche",
		Authenticate: authenticate,
		LoadUser:     loadUser,
		Models: []admin.ModelAdmin{{
			Table: "users", Title: "Users", Icon: "fa-users",
			Fields: []admin.Field{
				{Name: "id", Kind: admin.KindUUID},
				{Name: "email", Kind: admin.KindString},
				{Name: "is_active", Label: "Active", Kind: admin.KindBool},
			},
			List: []string{"email", "is_active"}, Search: []string{"email"}, Filters: []string{"is_active"},
			Ordering: "email", Form: []string{"email", "is_active"}, NoDelete: true, SuperuserOnly: true,
		}},
	})
	if err != nil {
		log.Print(err) // here: the nil pool and functions are refused
	}
}
