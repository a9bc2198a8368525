package core

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"manouche/core/cache"
	"manouche/core/db"
	"manouche/core/mail"
	"manouche/core/queue"
	"manouche/core/storage"
	"manouche/core/telemetry"
	"manouche/core/templates"
	"manouche/core/version"
	"manouche/migrations"
	"manouche/settings"
	projecttemplates "manouche/templates"
)

// Project is one running Manouche instance: its settings and the services
// built from them. Handlers, commands and ready hooks receive it; nothing in
// it is global, so a test can run several projects side by side.
type Project struct {
	Settings *settings.Settings
	// DB carries the web traffic: through DATABASE_CONNECTION_POOL_URL (a
	// transaction pooler) when it is set, else the same pool as DirectDB.
	DB *bun.DB
	// DirectDB is DATABASE_URL itself: migrations and their advisory lock,
	// and the email queue, which need a session of their own.
	DirectDB *bun.DB
	// Followers are DATABASE_REPLICA_URLS, nil without them: see ReadDB.
	Followers *db.Followers
	Log       *slog.Logger
	Templates *templates.Set
	// Cache is Redis when REDIS_URL is set, in-process otherwise.
	Cache *cache.Cache
	// Mail is the EMAIL_BACKEND messages are delivered through.
	Mail mail.Backend
	// Emails renders email template pairs (NAME.txt + NAME.html).
	Emails *mail.Renderer
	// Queue is the durable email queue on the project database.
	Queue *queue.Queue
	// Storage holds uploaded media, in the STORAGE_BACKEND (MEDIA_ROOT, or S3
	// with ENABLE_MEDIA_UPLOAD_TO_S3).
	Storage storage.Storage
	// Images checks uploaded images (type sniffed from the bytes, fully decoded,
	// MAX_UPLOAD_SIZE); one per process so its memory limits hold across requests.
	Images *storage.ImageValidator
	// Telemetry is the OpenTelemetry pipeline (README "Observability"), or
	// nil when it is off: then no tracer, hook, middleware or log handler
	// is installed.
	Telemetry *telemetry.Telemetry
	apps      []App
	checks    []check
	mu        sync.Mutex
	closers   []func() error
	services  []Service

	// auth is the installed AuthProvider's authenticator (Auth).
	auth Authenticator
	// mounting is the app whose routes are being added; authErrs are the
	// apps that use RequireAuth with no authenticator.
	mounting string
	authErrs []error
	mounted  bool
	// shared holds the values Shared builds, once per project.
	sharedMu sync.Mutex
	shared   map[string]any
}

type check struct {
	name string
	fn   func(context.Context) error
}

// Options adjust how a project is built; the zero value is what the command
// line uses.
type Options struct {
	// Apps is the installed list, in order: apps.Installed (apps/apps.go).
	Apps []App
	// Templates replaces the project's templates/ folder (tests use it).
	Templates fs.FS
	// LogOutput replaces stderr as the log destination.
	LogOutput *os.File
	// Logger replaces the logger built from the settings.
	Logger *slog.Logger
	// Command names the command the process runs (runserver, worker,
	// migrate, ...). When set, New's first log line says which build
	// (core/version) starts which command with which settings.
	Command string
}

// LoadSettings loads the settings layers with each installed app's section.
func LoadSettings(opts settings.Options, installed []App) (*settings.Settings, error) {
	for _, app := range installed {
		if c, ok := app.(Configurable); ok {
			opts.Sections = append(opts.Sections, settings.Section{App: app.Name(), Target: c.Settings()})
		}
	}
	return settings.Load(opts)
}

// New builds a project from loaded settings: it opens the database, builds the
// template set, and runs the apps' ready hooks. opts.Apps is the installed
// list; it is checked first (CheckApps). Close releases it all.
func New(ctx context.Context, st *settings.Settings, opts Options) (*Project, error) {
	if err := CheckApps(opts.Apps); err != nil {
		return nil, err
	}
	p := &Project{Settings: st, apps: append([]App(nil), opts.Apps...)}
	p.Log = opts.Logger
	if p.Log == nil {
		out := opts.LogOutput
		if out == nil {
			out = os.Stderr
		}
		p.Log = NewLogger(st, out)
	}
	if opts.Command != "" {
		logStartup(p.Log, st, opts.Command)
	}
	tel, err := telemetry.New(ctx, TelemetryConfig(st))
	if err != nil {
		return nil, err
	}
	if tel != nil {
		p.Telemetry = tel
		p.Log = slog.New(tel.LogHandler(p.Log.Handler()))
		p.OnClose(func() error {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return tel.Shutdown(sctx)
		})
	}
	direct, pooled, err := openDatabases(ctx, st)
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	p.DirectDB, p.DB = direct, pooled
	if p.DirectDB, err = p.Telemetry.InstrumentDB(direct, "DATABASE_URL"); err != nil {
		_ = direct.Close()
		_ = p.Close()
		return nil, err
	}
	p.DB = p.DirectDB
	if pooled != direct {
		if p.DB, err = p.Telemetry.InstrumentDB(pooled, "DATABASE_CONNECTION_POOL_URL"); err != nil {
			_ = direct.Close()
			_ = pooled.Close()
			_ = p.Close()
			return nil, err
		}
	}
	p.OnClose(direct.Close)
	p.AddCheck("database", func(ctx context.Context) error { return direct.PingContext(ctx) })
	if pooled != direct {
		p.OnClose(pooled.Close)
		p.AddCheck("database pooler", func(ctx context.Context) error { return pooled.PingContext(ctx) })
	}

	if len(st.DatabaseReplicaURLs) > 0 {
		if err := p.openFollowers(ctx); err != nil {
			_ = p.Close()
			return nil, err
		}
	}

	if err := p.openServices(ctx); err != nil {
		_ = p.Close()
		return nil, err
	}

	overlay := templates.Overlay(p.templateLayers(opts.Templates)...)
	p.Templates = templates.New(overlay, st.Debug)
	p.Emails = mail.NewRenderer(overlay)

	for _, app := range p.apps {
		if r, ok := app.(ReadyHook); ok {
			if err := r.Ready(ctx, p); err != nil {
				_ = p.Close()
				return nil, fmt.Errorf("app %s: ready: %w", app.Name(), err)
			}
		}
	}
	if err := p.resolveAuth(); err != nil {
		_ = p.Close()
		return nil, err
	}
	return p, nil
}

// templateLayers are the template file systems, in shadowing order: the
// project's templates/ (or the one of opts.Templates), then each Templater
// app's. With DEBUG on, in a process started from the project's source folder
// (`go run . runserver`), each layer is read from its folder on disk first
// (TemplateSourceDirs), so an edited template shows at the next render
// without a rebuild; the embedded copy still serves what the folder lacks.
func (p *Project) templateLayers(projectTemplates fs.FS) []fs.FS {
	var dirs []string
	if p.Settings.Debug {
		if wd, err := os.Getwd(); err == nil {
			dirs = TemplateSourceDirs(wd, p.apps)
			for i, d := range dirs {
				if d != "" {
					dirs[i] = filepath.Join(wd, d)
				}
			}
		}
	}
	fromDisk := func(i int, embedded fs.FS) fs.FS {
		if i < len(dirs) && dirs[i] != "" {
			return templates.Overlay(os.DirFS(dirs[i]), embedded)
		}
		return embedded
	}
	var layers []fs.FS
	if projectTemplates != nil {
		layers = append(layers, projectTemplates) // a test's own: never the folder on disk
	} else {
		layers = append(layers, fromDisk(0, projecttemplates.FS))
	}
	i := 1
	for _, app := range p.apps {
		if t, ok := app.(Templater); ok {
			layers = append(layers, fromDisk(i, t.Templates()))
			i++
		}
	}
	return layers
}

// DatabaseOptions are the settings' database options for the URL named
// name (DATABASE_URL or DATABASE_CONNECTION_POOL_URL): TLS and pool limits.
// The project opens its databases with them, and `check --deploy` probes
// with them.
func DatabaseOptions(st *settings.Settings, name string) db.Options {
	o := db.Options{
		Name:            name,
		Debug:           st.LogSQL,
		RequireTLS:      st.DatabaseRequireTLS,
		MaxConns:        st.DBMaxConns,
		MaxIdleConns:    st.DBMaxIdleConns,
		ConnMaxLifetime: st.DBConnMaxLifetime,
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = -1 // DB_MAX_IDLE_CONNS=0 keeps none
	}
	if o.ConnMaxLifetime == 0 {
		o.ConnMaxLifetime = -1 // DB_CONN_MAX_LIFETIME=0 recycles never
	}
	return o
}

// openDatabases opens DATABASE_URL, and DATABASE_CONNECTION_POOL_URL in
// pooler mode when it is set (else pooled is direct).
func openDatabases(ctx context.Context, st *settings.Settings) (direct, pooled *bun.DB, err error) {
	direct, err = db.OpenOptions(ctx, st.DatabaseURL, DatabaseOptions(st, "DATABASE_URL"))
	if err != nil {
		return nil, nil, err
	}
	if st.DatabaseConnectionPoolURL == "" {
		return direct, direct, nil
	}
	o := DatabaseOptions(st, "DATABASE_CONNECTION_POOL_URL")
	o.Pooler = true
	pooled, err = db.OpenOptions(ctx, st.DatabaseConnectionPoolURL, o)
	if err != nil {
		_ = direct.Close()
		return nil, nil, err
	}
	return direct, pooled, nil
}

// openFollowers opens DATABASE_REPLICA_URLS; an entry without "://" names
// the variable that holds the URL (a Heroku follower's).
func (p *Project) openFollowers(ctx context.Context) error {
	st := p.Settings
	var urls, names []string
	for i, entry := range st.DatabaseReplicaURLs {
		name := fmt.Sprintf("DATABASE_REPLICA_URLS[%d]", i)
		if !strings.Contains(entry, "://") {
			v := os.Getenv(entry)
			if v == "" {
				return fmt.Errorf("DATABASE_REPLICA_URLS names %s, which is not set", entry)
			}
			name, entry = entry, v
		}
		urls, names = append(urls, entry), append(names, name)
	}
	f, err := db.OpenFollowers(ctx, p.DB, urls, names, DatabaseOptions(st, ""), st.DatabaseReplicaMaxLag, time.Second, p.Log)
	if err != nil {
		return err
	}
	p.Followers = f
	p.OnClose(f.Close)
	return nil
}

// Shared returns the project's value under key, built by build on first use
// and kept for the project's life: a service an app builds once per project
// (the users app's accounts) rather than on every call. build must not call
// Shared itself.
func Shared[T any](p *Project, key string, build func(*Project) T) T {
	p.sharedMu.Lock()
	defer p.sharedMu.Unlock()
	if v, ok := p.shared[key]; ok {
		return v.(T)
	}
	v := build(p)
	if p.shared == nil {
		p.shared = map[string]any{}
	}
	p.shared[key] = v
	return v
}

// openServices builds the cache, the email backend and the queue from the settings.
func (p *Project) openServices(ctx context.Context) error {
	st := p.Settings
	c, err := cache.New(cache.Config{RedisURL: st.RedisURL, Prefix: st.CacheKeyPrefix, MaxConns: st.RedisMaxConns, Logger: p.Log,
		TracerProvider: p.Telemetry.TracerProvider(), MeterProvider: p.Telemetry.MeterProvider()})
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	p.Cache = c
	p.OnClose(c.Close)
	if err := p.Telemetry.InstrumentRedis(c.Redis()); err != nil {
		return err
	}
	p.AddCheck("cache", c.Ping)

	backend, err := mail.Open(ctx, st)
	if err != nil {
		return fmt.Errorf("EMAIL_BACKEND: %w", err)
	}
	p.Mail = backend
	if closer, ok := backend.(mail.Closer); ok {
		p.OnClose(closer.Close)
	}
	q, err := queue.New(ctx, queue.Config{
		DB:           p.DirectDB,
		Backend:      backend,
		Defaults:     mail.Defaults{From: st.DefaultFromEmail, SubjectPrefix: st.EmailSubjectPrefix},
		MaxAttempts:  st.EmailMaxAttempts,
		Workers:      st.EmailWorkers,
		RetryBackoff: st.EmailRetryBackoff,
		PollInterval: st.EmailPollInterval,
		// The worker command's grace; runserver's worker (RUN_WORKER) gets
		// its share of the same timeout from StartServices' stop.
		ShutdownTimeout: st.ShutdownTimeout,
		Logger:          p.Log,
		TracerProvider:  p.Telemetry.TracerProvider(),
		MeterProvider:   p.Telemetry.MeterProvider(),
	})
	if err != nil {
		return err
	}
	p.Queue = q
	p.OnClose(q.Close)

	media, err := storage.Open(ctx, st)
	if err != nil {
		return fmt.Errorf("media storage: %w", err)
	}
	p.Storage = media
	p.OnClose(func() error { return storage.Close(media) })
	p.AddCheck("storage", func(ctx context.Context) error { return storage.Ping(ctx, media) })
	p.Images = storage.NewImageValidator(storage.ImageLimits{MaxBytes: int64(st.MaxUploadSize)})
	p.AddCheck("queue", q.Ping)
	if st.RunWorker {
		p.AddService(Service{Name: "email worker", Start: q.Start, Stop: q.Stop})
	}
	return nil
}

// MediaURL returns the absolute URL of a stored media file, or "" for no
// name: S3 URLs as they are (signed when AWS_QUERYSTRING_AUTH is on), local
// ones prefixed with SITE_SCHEME://SITE_DOMAIN.
func (p *Project) MediaURL(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	u, err := p.Storage.URL(ctx, name)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(u, "/") {
		u = p.Settings.SiteURL() + u
	}
	return u, nil
}

// SendMail renders the email template pair name with data and queues it for
// the recipients. With tx, the email is queued in that transaction: it is sent
// if and only if the transaction commits.
func (p *Project) SendMail(ctx context.Context, tx *bun.Tx, name string, data any, to ...string) error {
	msg, err := p.Emails.Message(name, data)
	if err != nil {
		return err
	}
	msg.To = to
	if tx != nil {
		_, err = p.Queue.EnqueueTx(ctx, *tx, msg)
	} else {
		_, err = p.Queue.Enqueue(ctx, msg)
	}
	return err
}

// Apps returns the project's installed apps, in order.
func (p *Project) Apps() []App { return p.apps }

// Migrations returns a migration runner over the framework's migrations and
// every installed app's, in installed order.
func (p *Project) Migrations() *migrations.Runner {
	sources := []migrations.Source{migrations.Framework()}
	for _, app := range p.apps {
		if m, ok := app.(Migrator); ok {
			src := migrations.Source{App: app.Name(), FS: m.Migrations()}
			if a, ok := app.(MigrationAdopter); ok {
				src.Adopts = a.AdoptsMigrations()
			}
			sources = append(sources, src)
		}
	}
	r := migrations.New(p.DirectDB, sources...)
	r.After = func(ctx context.Context) error {
		for _, app := range p.apps {
			if pm, ok := app.(PostMigrator); ok {
				if err := pm.PostMigrate(ctx, p); err != nil {
					return fmt.Errorf("app %s: %w", app.Name(), err)
				}
			}
		}
		return nil
	}
	return r
}

// AddCheck registers a readiness check, reported by /health/ready under name
// (database, cache, queue, ...).
func (p *Project) AddCheck(name string, fn func(context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks = append(p.checks, check{name, fn})
}

// Check runs every readiness check, at most timeout each, and returns the
// failures by name.
func (p *Project) Check(ctx context.Context, timeout time.Duration) map[string]error {
	p.mu.Lock()
	checks := append([]check(nil), p.checks...)
	p.mu.Unlock()
	failed := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := c.fn(cctx); err != nil {
				mu.Lock()
				failed[c.name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// OnClose registers fn to run when the project closes, in reverse order of
// registration (the database closes last).
func (p *Project) OnClose(fn func() error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closers = append(p.closers, fn)
}

// Close releases everything the project opened.
func (p *Project) Close() error {
	p.mu.Lock()
	closers := p.closers
	p.closers = nil
	p.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TelemetryConfig maps the settings to the telemetry configuration: the one
// place that reads OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
// NEW_RELIC_LICENSE_KEY, NEW_RELIC_APP_NAME, NEW_RELIC_ENABLED, METRICS_ADDR
// and DYNO (the other OTEL_* variables are the SDK's).
func TelemetryConfig(st *settings.Settings) telemetry.Config {
	return telemetry.Config{
		Endpoint:           st.OTELExporterOTLPEndpoint,
		ServiceName:        st.OTELServiceName,
		NewRelicLicenseKey: st.NewRelicLicenseKey,
		NewRelicAppName:    st.NewRelicAppName,
		NewRelicDisabled:   !st.NewRelicEnabled,
		MetricsAddr:        st.MetricsAddr,
		Instance:           st.Dyno,
		Version:            version.Get(),
	}
}

// logStartup writes the process's first log line: the version, the command
// and the settings layer, so that every process's logs (a web or worker dyno,
// the release phase, a one-off run) start by saying which build they come
// from. It is written whatever LOG_LEVEL says, like a server's banner.
func logStartup(log *slog.Logger, st *settings.Settings, command string) {
	v := version.Get()
	r := slog.NewRecord(time.Now(), slog.LevelInfo, fmt.Sprintf("manouche %s starting %s (SETTINGS=%s)", v, command, st.Layer), 0)
	r.AddAttrs(slog.String("version", v), slog.String("command", command), slog.String("settings", st.Layer), slog.Int("pid", os.Getpid()))
	if dyno := os.Getenv("DYNO"); dyno != "" {
		r.AddAttrs(slog.String("dyno", dyno))
	}
	_ = log.Handler().Handle(context.Background(), r)
}

// Service is a long-running part of a process that runs beside the web server
// (the email worker when RUN_WORKER is on). Start returns once it runs; Stop
// lets it finish the work in hand within ctx's deadline.
type Service struct {
	Name  string
	Start func(ctx context.Context) error
	Stop  func(ctx context.Context) error
}

// AddService registers a service that runserver starts beside the server.
func (p *Project) AddService(s Service) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.services = append(p.services, s)
}

// StartServices starts every registered service (runserver calls it) and
// returns a function that stops them, in reverse order, within its context
// (runserver's share of SHUTDOWN_TIMEOUT).
func (p *Project) StartServices(ctx context.Context) (stop func(context.Context), err error) {
	p.mu.Lock()
	services := append([]Service(nil), p.services...)
	p.mu.Unlock()
	var started []Service
	stop = func(sctx context.Context) {
		for i := len(started) - 1; i >= 0; i-- {
			if err := started[i].Stop(sctx); err != nil {
				p.Log.Error("stop service", "service", started[i].Name, "error", err)
			}
		}
	}
	for _, s := range services {
		if err := s.Start(ctx); err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.Settings.ShutdownTimeout)
			stop(sctx)
			cancel()
			return nil, fmt.Errorf("start %s: %w", s.Name, err)
		}
		p.Log.Debug("started", "service", s.Name)
		started = append(started, s)
	}
	return stop, nil
}
