// Command bare serves GET /health from a Fiber app with no middleware: the
// baseline bench/http/run.sh compares the full Manouche stack with.
//
//	go run ./bench/http/bare 127.0.0.1:9001
package main

import (
	"fmt"
	"os"

	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := "127.0.0.1:9001"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/health", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	if err := app.Listen(addr); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
