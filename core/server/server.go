package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/helmet"

	"manouche/core/api"
	"manouche/core/storage"
)

// Handler returns the project's HTTP application, built on first use: the
// middleware stack, the health endpoints, every app's routes, and one error
// handler so that every error, from routing to panics, answers in the API's
// error shape. Every call returns the same application. It fails when an
// app's routes need a signed-in user and no installed app provides
// authentication.
func (p *Project) Handler() (*fiber.App, error) {
	p.handlerOnce.Do(func() { p.handler, p.handlerErr = p.buildHandler() })
	return p.handler, p.handlerErr
}

func (p *Project) buildHandler() (*fiber.App, error) {
	st := p.Settings
	limit := int64(st.MaxUploadSize)
	app := fiber.New(fiber.Config{
		AppName:               st.SiteName,
		BodyLimit:             int(limit),
		DisableStartupMessage: true,
		ErrorHandler:          api.ErrorHandler(p.Log, st.Debug, limit),
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// Fiber trusts no forwarded header (c.IP, c.Protocol, c.Hostname and
		// c.BaseURL read the socket and the Host header only): api.ClientIP,
		// api.Scheme and api.Host apply NUM_PROXIES, in one place.
		EnableTrustedProxyCheck: true,
		ReadBufferSize:          16 << 10, // headers up to 16 KB, like most proxies allow
		// Request bodies are streamed to handlers (multipart files spool to
		// temporary files past 8 KB) instead of being held in memory before
		// the handler runs; api.BodyLimit then enforces BodyLimit with a 413.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	// A declared body above the limit reaches api.BodyLimit without fasthttp waiting for 8 KB of it.
	app.Server().HeaderReceived = api.BodyLimitHeader(limit)
	api.QuietParseErrors(app)
	api.UnknownMethods(app)
	app.Use(api.TrustProxies(st.NumProxies), api.JSONCharset())
	app.Use(api.RequestID())
	if st.AccessLog {
		app.Use(api.AccessLog(p.Log, api.ClientIP))
	}
	app.Use(api.Recover(p.Log))
	app.Use(api.BodyLimit(limit))
	app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy:     "",
		XFrameOptions:             "DENY",
		ReferrerPolicy:            "same-origin",
		CrossOriginEmbedderPolicy: "unsafe-none",
		CrossOriginResourcePolicy: "cross-origin",
	}))
	if age := hstsAge(st.SiteScheme); age > 0 {
		// HSTS on https responses only, the scheme read as api.Scheme reads it
		// (behind NUM_PROXIES proxies, from X-Forwarded-Proto): helmet's own
		// check, c.Protocol(), trusts no proxy and would never see https there.
		hsts := "max-age=" + strconv.Itoa(age) + "; includeSubDomains"
		app.Use(func(c *fiber.Ctx) error {
			if api.Scheme(c) == "https" {
				c.Set(fiber.HeaderStrictTransportSecurity, hsts)
			}
			return c.Next()
		})
	}
	if len(st.CORSAllowedOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(st.CORSAllowedOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, Accept, X-Request-ID",
			ExposeHeaders: "X-Request-ID, Retry-After",
			MaxAge:        86400,
		}))
	}
	app.Use(allowedHosts(st.AllowedHosts))
	app.Use(api.RefuseNUL())

	app.Get("/health", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	app.Get("/health/ready", func(c *fiber.Ctx) error {
		failed := p.Check(c.UserContext(), 3*time.Second)
		if len(failed) == 0 {
			return c.JSON(fiber.Map{"status": "ok"})
		}
		var errs []api.FieldError
		for _, name := range []string{"database", "cache", "queue", "storage"} {
			if err, ok := failed[name]; ok {
				errs = append(errs, api.FieldErr(name, p.checkMessage(name, err)))
				delete(failed, name)
			}
		}
		for name, err := range failed {
			errs = append(errs, api.FieldErr(name, p.checkMessage(name, err)))
		}
		return api.Unavailable(errs...)
	})

	// Media on local disk, served by runserver in development (DEBUG), like Django's static() helper.
	if local, ok := p.Storage.(*storage.Local); ok && st.Debug {
		app.Use(local.BaseURL(), filesystem.New(filesystem.Config{Root: http.FS(local.FS()), MaxAge: 3600}))
	}

	// The JSON API: Accept-header versioning, and the anonymous rate limit.
	// A request with a valid bearer token is not counted in the anonymous
	// bucket; one with a missing, malformed, unknown or revoked token is.
	app.Use("/api", api.Versioning(), p.Throttle("api", st.APIThrottleRate, func(c *fiber.Ctx) bool {
		return c.Method() == fiber.MethodOptions || p.authenticated(c)
	}))

	p.recordRouteOwners(app, "core")
	for _, a := range p.apps {
		if r, ok := a.(Router); ok {
			prefix := r.Prefix()
			p.mu.Lock()
			p.mounting = a.Name()
			p.mu.Unlock()
			if prefix == "" || prefix == "/" {
				r.Routes(app, p)
			} else {
				r.Routes(app.Group(strings.TrimSuffix(prefix, "/")), p)
			}
			p.recordRouteOwners(app, a.Name())
		}
	}
	p.mu.Lock()
	p.mounting = ""
	errs := errors.Join(p.authErrs...)
	p.mu.Unlock()
	if errs != nil {
		return nil, errs
	}
	return app, nil
}

func (p *Project) checkMessage(name string, err error) string {
	p.Log.Warn("readiness check failed", "check", name, "error", err)
	if p.Settings.Debug {
		return fmt.Sprintf("%s is unavailable: %v", name, err)
	}
	return name + " is unavailable."
}

// allowedHosts refuses requests whose Host header is not in ALLOWED_HOSTS,
// like Django ("*" allows any, ".example.com" a domain and its subdomains).
func allowedHosts(hosts []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		host := api.Host(c)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		for _, pat := range hosts {
			pat = strings.ToLower(pat)
			if h, _, err := net.SplitHostPort(pat); err == nil {
				pat = h
			}
			switch {
			case pat == "*", pat == host, strings.Trim(pat, "[]") == strings.Trim(host, "[]"):
				return c.Next()
			case strings.HasPrefix(pat, ".") && (host == pat[1:] || strings.HasSuffix(host, pat)):
				return c.Next()
			}
		}
		return api.Validation(api.FieldErr(api.NonFieldErrors,
			fmt.Sprintf("Invalid Host header %q: add it to ALLOWED_HOSTS.", api.Host(c))))
	}
}

func hstsAge(scheme string) int {
	if scheme == "https" {
		return 31536000
	}
	return 0
}

// ClientIP returns the client's address (see api.ClientIP): the socket's, or
// with NUM_PROXIES trusted proxies the address NUM_PROXIES entries from the
// right of X-Forwarded-For, the way Django REST framework's throttles read it.
func (p *Project) ClientIP(c *fiber.Ctx) string { return api.ClientIP(c) }

// Serve runs the HTTP server on addr until ctx is cancelled (SIGTERM, SIGINT),
// then stops accepting connections and waits up to SHUTDOWN_TIMEOUT for
// in-flight requests before returning.
func (p *Project) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return p.ServeListener(ctx, ln, ready)
}

// ServeListener is Serve on a listener already open (see Listen); it closes it.
func (p *Project) ServeListener(ctx context.Context, ln net.Listener, ready func(net.Addr)) error {
	app, err := p.Handler()
	if err != nil {
		_ = ln.Close()
		return err
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	p.Log.Info("shutting down: draining in-flight requests", "timeout", p.Settings.ShutdownTimeout)
	if err := app.ShutdownWithTimeout(p.Settings.ShutdownTimeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("runserver: shutdown: %w", err)
	}
	return nil
}
