// Package server is the project's HTTP stack: the middleware every request
// passes through (proxies, request ids, logs, panics, body limits, security
// headers, CORS, ALLOWED_HOSTS), the health endpoints, the apps' routes
// (mounted by core.Project.MountRoutes) and one error handler, so that every
// error answers in the API's error shape; and the listener runserver serves
// on, with a graceful drain on SIGTERM.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/openapi"
	"manouche/core/storage"
)

// Server is a project's HTTP application.
type Server struct {
	p   *core.Project
	app *fiber.App
	// owners maps a route (its first handler) to the app that added it.
	owners map[*fiber.Handler]string
	// base is the parent of every request's context; the drain cancels it
	// (cause errShuttingDown) for requests still running at SHUTDOWN_TIMEOUT.
	base       context.Context
	cancelBase context.CancelCauseFunc
}

// New builds the project's HTTP application: the middleware stack, the
// health endpoints and every app's routes. Build one per project (an app's
// Routes runs once). It fails when an app's routes need a signed-in user and
// no installed app provides authentication.
func New(p *core.Project) (*Server, error) {
	s := &Server{p: p, owners: map[*fiber.Handler]string{}}
	s.base, s.cancelBase = context.WithCancelCause(context.Background())
	if err := s.build(); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the Fiber application (for app.Test and benchmarks).
func (s *Server) Handler() *fiber.App { return s.app }

func (s *Server) build() error {
	p := s.p
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
	s.app = app
	// A declared body above the limit reaches api.BodyLimit without fasthttp waiting for 8 KB of it.
	app.Server().HeaderReceived = api.BodyLimitHeader(limit)
	api.QuietParseErrors(app)
	api.UnknownMethods(app)
	if p.Telemetry != nil { // first, so its span covers the whole stack; off, nothing is installed
		app.Use(p.Telemetry.Middleware())
	}
	app.Use(api.TrustProxies(st.NumProxies), api.JSONCharset())
	app.Use(api.RequestID())
	if st.AccessLog {
		app.Use(api.AccessLog(p.Log, api.ClientIP))
	}
	app.Use(api.Recover(p.Log))
	app.Use(api.BodyLimit(limit))
	app.Use(securityHeaders(st.SecureHSTSSeconds, st.SecureHSTSIncludeSubdomains, st.SecureHSTSPreload))
	if len(st.CORSAllowedOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(st.CORSAllowedOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, Accept, X-Request-ID",
			ExposeHeaders: "X-Request-ID, Retry-After",
			MaxAge:        86400,
		}))
	}
	app.Use(allowedHosts(st.AllowedHosts))
	if p.Followers != nil {
		app.Use(p.TrackWrites())
	}
	app.Use(api.RefuseNUL())
	if st.SecureSSLRedirect {
		app.Use(sslRedirect())
	}
	// From here on a request has a deadline (REQUEST_TIMEOUT) and is
	// cancelled by a drain that runs out of time: throttles, authentication
	// and handlers all run under it.
	app.Use(s.requestContext(st.RequestTimeout))

	d := openapi.Describe(app, p)
	d.Get("/health", openapi.Op{
		ID: "health", Tags: []string{"health"}, Summary: "Liveness: the process answers",
		Description: "Answers without touching any backing service.",
		Responses:   openapi.Responses{200: Health{}},
	}, func(c *fiber.Ctx) error {
		return c.JSON(Health{Status: "ok"})
	})
	d.Get("/health/ready", openapi.Op{
		ID: "health_ready", Tags: []string{"health"}, Summary: "Readiness: the database, the cache and the queue answer",
		Description: "503 names each failing check in `field` (database, cache, queue, storage).",
		Responses:   openapi.Responses{200: Health{}},
	}, func(c *fiber.Ctx) error {
		failed := p.Check(c.UserContext(), 3*time.Second)
		if len(failed) == 0 {
			return c.JSON(Health{Status: "ok"})
		}
		var errs []api.FieldError
		for _, name := range []string{"database", "cache", "queue", "storage"} {
			if err, ok := failed[name]; ok {
				errs = append(errs, api.FieldErr(name, checkMessage(p, name, err)))
				delete(failed, name)
			}
		}
		for name, err := range failed {
			errs = append(errs, api.FieldErr(name, checkMessage(p, name, err)))
		}
		return api.Unavailable(errs...)
	})

	// Media on local disk, served by runserver in development (DEBUG), like Django's static() helper.
	if local, ok := p.Storage.(*storage.Local); ok && st.Debug {
		app.Use(local.BaseURL(), filesystem.New(filesystem.Config{Root: http.FS(local.FS()), MaxAge: 3600}))
	}

	// The API's OpenAPI document and docs page: static bytes, before the
	// API's middleware (neither versioned nor counted by the throttle, so
	// that a client or a test reading the document spends no request of its
	// budget), and matched only on their own paths.
	var served *openapi.Served
	if st.APIDocs {
		served = openapi.Mount(app, p, st.SiteName+" API")
	}

	// The JSON API: Accept-header versioning, and the anonymous rate limit.
	// A request with a valid bearer token is not counted in the anonymous
	// bucket; one with a missing, malformed, unknown or revoked token is.
	app.Use("/api", api.Versioning(), p.Throttle("api", st.APIThrottleRate, func(c *fiber.Ctx) bool {
		return c.Method() == fiber.MethodOptions || isDocs(c) || p.Authenticated(c)
	}))

	s.recordOwners("core")
	if err := p.MountRoutes(app, s.recordOwners); err != nil {
		return err
	}
	if served != nil {
		// Built once, now, from every route mounted; served as these bytes.
		b, err := s.OpenAPIJSON()
		if err != nil {
			return err
		}
		served.Set(b)
	}
	return nil
}

// Health is the body of the health endpoints.
type Health struct {
	// Status is "ok".
	Status string `json:"status" doc:"ok"`
}

// OpenAPI builds the OpenAPI document of the server's routes (see package
// openapi), and lists the documented routes registered without a
// description.
func (s *Server) OpenAPI() (*openapi.Document, []openapi.Route, error) {
	var routes []openapi.Route
	for _, r := range s.Routes() {
		routes = append(routes, openapi.Route{Method: r.Method, Path: r.Path, App: r.App, Auth: r.Auth})
	}
	return openapi.Build(openapi.Info{
		Title:       s.p.Settings.SiteName + " API",
		Version:     "1.0",
		Description: "The JSON API of " + s.p.Settings.SiteName + ". Errors all have the shape of the Error schema.",
	}, routes, openapi.For(s.p))
}

// OpenAPIJSON is the OpenAPI document, encoded.
func (s *Server) OpenAPIJSON() ([]byte, error) {
	doc, _, err := s.OpenAPI()
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// isDocs says whether c asks for the OpenAPI document or its docs page:
// bytes built once at start-up, which cost nothing to serve and are not
// counted against the anonymous API rate.
func isDocs(c *fiber.Ctx) bool {
	path := c.Path()
	return c.Method() == fiber.MethodGet && (path == openapi.DocumentPath || path == openapi.DocsPath || strings.HasPrefix(path, openapi.DocsPath+"/"))
}

func checkMessage(p *core.Project, name string, err error) string {
	p.Log.Warn("readiness check failed", "check", name, "error", err)
	if p.Settings.Debug {
		return fmt.Sprintf("%s is unavailable: %v", name, err)
	}
	return name + " is unavailable."
}

// allowedHosts refuses requests whose Host header is not in ALLOWED_HOSTS,
// like Django ("*" allows any, ".example.com" a domain and its subdomains).
func allowedHosts(hosts []string) fiber.Handler {
	// The patterns, lower-cased and without port or brackets, once.
	pats := make([]string, 0, len(hosts))
	for _, pat := range hosts {
		pat = strings.ToLower(pat)
		if h, _, err := net.SplitHostPort(pat); err == nil {
			pat = h
		}
		pats = append(pats, strings.Trim(pat, "[]"))
	}
	return func(c *fiber.Ctx) error {
		host := api.Host(c)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(strings.ToLower(strings.TrimSuffix(host, ".")), "[]")
		for _, pat := range pats {
			switch {
			case pat == "*", pat == host:
				return c.Next()
			case strings.HasPrefix(pat, ".") && (host == pat[1:] || strings.HasSuffix(host, pat)):
				return c.Next()
			}
		}
		return api.Validation(api.FieldErr(api.NonFieldErrors,
			fmt.Sprintf("Invalid Host header %q: add it to ALLOWED_HOSTS.", api.Host(c))))
	}
}

// Serve runs the project's HTTP server on addr until ctx is cancelled
// (SIGTERM, SIGINT): Listen, New and Server.Serve.
func Serve(ctx context.Context, p *core.Project, addr string, ready func(net.Addr)) error {
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	s, err := New(p)
	if err != nil {
		_ = ln.Close()
		return err
	}
	return s.Serve(ctx, ln, ready)
}

// Serve runs the server on ln (see Listen), which it closes, until ctx is
// cancelled (SIGTERM, SIGINT), then drains within SHUTDOWN_TIMEOUT, as a
// dyno must before Heroku's SIGKILL 30 s after SIGTERM:
//
//   - it stops accepting (the listener closes: new connections are refused)
//     and closes idle keep-alive connections at once, and each busy one as
//     soon as its request is answered;
//   - in-flight requests run on until ShutdownPhases' cut; those still
//     running then have their context cancelled (queries abort, transactions
//     roll back) and answer 503;
//   - at the hard limit every connection left is closed, whatever its
//     handler is doing, and Serve returns: within SHUTDOWN_TIMEOUT.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(net.Addr)) error {
	p, app := s.p, s.app
	// What start-up took and serving will not need goes back to the system.
	p.Log.Debug("released start-up memory", "executable_kb", releaseStartupMemory())
	tl := newTrackingListener(ln)
	defer tl.stopExpiring()
	app.Server().ConnState = tl.setState
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(tl) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := p.Settings.ShutdownTimeout
	start := time.Now()
	cut, hard := ShutdownPhases(timeout)
	p.Log.Info("shutting down: draining in-flight requests", "timeout", timeout)
	dctx, cancel := context.WithDeadline(context.Background(), start.Add(cut))
	err := app.ShutdownWithContext(dctx)
	cancel()
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		tl.closeAll()
		return fmt.Errorf("runserver: shutdown: %w", err)
	}
	p.Log.Warn("shutting down: cancelling the requests still running at SHUTDOWN_TIMEOUT",
		"requests", tl.active(), "connections", app.Server().GetOpenConnectionsCount())
	s.cancelBase(errShuttingDown)
	// A connection is active until its response is written.
	for time.Since(start) < hard && tl.active() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if n := tl.active(); n > 0 {
		p.Log.Error("shutting down: closing the connections of requests that ignored their cancellation", "requests", n)
	}
	tl.closeAll()
	return nil
}

// ShutdownPhases splits a SHUTDOWN_TIMEOUT: in-flight work runs until cut;
// then it is cancelled and has until hard to wind up (answer 503, put a
// delivery back); what is left of the timeout after hard is for closing the
// process's connections. For 25 s: 22 s and 24 s.
func ShutdownPhases(timeout time.Duration) (cut, hard time.Duration) {
	reserve := min(max(timeout/5, 50*time.Millisecond), 3*time.Second)
	return timeout - reserve, timeout - reserve/3
}
