package core

import (
	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"
)

// ReadDB is the database for a read that tolerates replication lag (a list,
// a detail page): a follower of DATABASE_REPLICA_URLS when one is usable,
// round-robin, and p.DB otherwise. A signed-in user who changed something
// within the followers' window reads from the primary (read-your-writes),
// and so does everyone when the cache that remembers writes is unreachable.
// Writes, transactions, migrations, the queue and the admin use p.DB.
func (p *Project) ReadDB(c *fiber.Ctx) bun.IDB {
	if p.Followers == nil {
		return p.DB
	}
	if u := CurrentUser(c); u != nil {
		var wrote bool
		found, err := p.Cache.Get(c.UserContext(), writeKey(u.UserID()), &wrote)
		if found || err != nil {
			return p.DB
		}
	}
	return p.Followers.Read()
}

// TrackWrites is the middleware that remembers, for the followers' window,
// that a signed-in user changed something (a request other than GET, HEAD
// and OPTIONS answered below 400), so that ReadDB sends their reads to the
// primary. core/server installs it when the project has followers.
func (p *Project) TrackWrites() fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return err
		}
		if u := CurrentUser(c); u != nil && err == nil && c.Response().StatusCode() < 400 {
			_ = p.Cache.Set(c.UserContext(), writeKey(u.UserID()), true, p.Followers.Window())
		}
		return err
	}
}

func writeKey(userID string) string { return "wrote:" + userID }
