package rest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"manouche/admin"
	"manouche/core"
	"manouche/core/api"
	"manouche/core/cache"
	"manouche/core/models"
	"manouche/core/perm"
	"manouche/core/storage"
)

// UploadField is the multipart field that carries an uploaded file.
const UploadField = "file"

// cleanupTimeout bounds deleting replaced files once the answer is decided,
// which must not depend on the client staying connected.
const cleanupTimeout = 30 * time.Second

// Resource is a model served by an app: its API routes and its admin page.
// ModelViewSet is one; an app lists its resources once and derives its
// Models, Routes and AdminPages from the list (see Models, Mount, AdminPages).
type Resource interface {
	// Model is the bun model, as (*Post)(nil), for makemigrations.
	Model() any
	// Routes mounts the resource's API routes.
	Routes(r fiber.Router, p *core.Project)
	// AdminPage derives the resource's admin page.
	AdminPage(p *core.Project) (admin.ModelAdmin, error)
}

// Models lists the resources' models, for an app's Models method.
func Models(rs []Resource) []any {
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = r.Model()
	}
	return out
}

// Mount mounts every resource's routes, for an app's Routes method.
func Mount(r fiber.Router, p *core.Project, rs []Resource) {
	for _, res := range rs {
		res.Routes(r, p)
	}
}

// AdminPages derives every resource's admin page, for an app's AdminPages
// method. A declaration that names no column is a programming error: it
// panics with the message when the admin mounts, at start.
func AdminPages(p *core.Project, rs []Resource) []admin.ModelAdmin {
	out := make([]admin.ModelAdmin, 0, len(rs))
	for _, r := range rs {
		m, err := r.AdminPage(p)
		if err != nil {
			panic(err)
		}
		out = append(out, m)
	}
	return out
}

// ModelViewSet serves a model with a UUID primary key id as a JSON API, like
// Django REST framework's ModelViewSet, under Path (e.g. "/posts"):
//
//	GET    Path          a page of rows, newest first; ?search= filters
//	POST   Path          creates a row (201)
//	GET    Path/{id}     one row
//	PATCH  Path/{id}     changes the fields sent
//	DELETE Path/{id}     deletes the row and its files (204)
//	PUT    Path/{id}/F   uploads image or file field F (multipart field "file")
//
// Policy decides who may use each route and each row (package perm); the
// default, perm.IsAuthenticated, lets any signed-in user read and change any
// row. With Owner, rows are owned: the owner is the signed-in user who
// creates the row, never the body (a body naming it is refused), and never
// changes. An id that is not a UUID is not found (404), and so is a row the
// policy hides.
//
// Reads go through the model cache (see Cached and cache.Model): a page
// (its rows and count) and a row are cached under their SQL query and the
// generations of the model's table and of the tables its foreign keys point
// to; every write through the view set or its admin page gives the table a
// new generation on every process once it is done, so no process serves the
// old rows after the write's response. NoCache turns this off. File and
// image URLs are cached with their row (cache.DefaultModelTTL, 5 minutes,
// at most): presigned S3 URLs (AWS_QUERYSTRING_AUTH) are served with at
// least AWS_QUERYSTRING_EXPIRE minus that left to live.
type ModelViewSet[T any] struct {
	// Path is the routes' path under the app's prefix.
	Path string
	// Serializer declares the fields' differences from the model.
	Serializer Serializer[T]
	// Search are the columns ?search= looks in (case-insensitive substring, any
	// of them, wildcards literal); nil means the string and text columns.
	Search []string
	// Ordering is the list's order: a column, "-" first for descending; ties
	// are broken by id in the same direction. Default: "-created_at" when the
	// model has it, else "-id".
	Ordering string
	// MediaDir is the storage folder of uploads; it defaults to the table with
	// its first "_" as "/" (blog_posts: blog/posts). A column's name is added.
	MediaDir string
	// Admin declares the admin page's differences from the derived one.
	Admin admin.Options
	// Public, when set and Policy is nil, serves the routes to anonymous
	// clients too (perm.AllowAny).
	Public bool
	// NoCache, when set, reads the database on every request instead of
	// going through the model cache.
	NoCache bool
	// CacheDepends are other tables whose writes change what this view set
	// shows (a Serializer.Validate or hand-written output that reads them);
	// the tables of the model's foreign keys are always included.
	CacheDepends []string
	// Policy decides who may use the routes and the rows: perm.IsAuthenticated
	// when nil (perm.AllowAny when Public). With Owner, perm.OwnerOrReadOnly
	// and perm.OwnerOnly give rows to their owners.
	Policy perm.Policy
	// Owner is the column of the rows' owner, a UUID foreign key to the
	// users (owner_id), or "" when rows are not owned.
	Owner string
}

// policy is the view set's policy, its default when it declares none.
func (v *ModelViewSet[T]) policy() perm.Policy {
	switch {
	case v.Policy != nil:
		return v.Policy
	case v.Public:
		return perm.AllowAny
	}
	return perm.IsAuthenticated
}

// Model is the bun model, for makemigrations.
func (v *ModelViewSet[T]) Model() any { return (*T)(nil) }

// AdminPage derives the admin page from the model and v.Admin.
// Its saves invalidate the view set's cached pages and rows, after the
// page's own AfterSave.
func (v *ModelViewSet[T]) AdminPage(p *core.Project) (admin.ModelAdmin, error) {
	o := v.Admin
	m, err := models.Describe((*T)(nil))
	if err != nil {
		return admin.ModelAdmin{}, err
	}
	after := o.AfterSave
	o.AfterSave = func(ctx context.Context, id string) {
		if after != nil {
			after(ctx, id)
		}
		if p == nil || p.Cache == nil {
			return
		}
		if err := p.Cache.Touch(ctx, m.Table); err != nil {
			p.Log.Warn("rest: invalidate cached rows after an admin save", "table", m.Table, "error", err)
		}
	}
	return admin.FromModel((*T)(nil), o)
}

// handlers serves one view set in one project.
type handlers[T any] struct {
	v      *ModelViewSet[T]
	p      *core.Project
	m      *models.Model
	search []string // columns
	order  string

	lists, objects *cache.Model // nil with NoCache
	mediaDir       string
	policy         perm.Policy
	label          string        // the model's "app.model", for its permissions
	owner          *models.Field // the owner column, or nil
}

// Routes mounts the API. A model the view set cannot serve (no UUID primary
// key named id, a declaration naming no column) panics at start.
func (v *ModelViewSet[T]) Routes(r fiber.Router, p *core.Project) {
	h, err := v.handlers(p)
	if err != nil {
		panic(err)
	}
	handlers := func(method, _ string, fn fiber.Handler) []fiber.Handler {
		auth := p.OptionalAuth()
		if !perm.AllowsAnonymous(h.policy, method) {
			auth = p.RequireAuth()
		}
		return []fiber.Handler{auth, h.allow, fn}
	}
	// Each route is registered with its OpenAPI description (see openapi.go).
	v.describedRoutes(r, h, handlers)
}

func (v *ModelViewSet[T]) handlers(p *core.Project) (*handlers[T], error) {
	m, err := v.Serializer.Model()
	if err != nil {
		return nil, err
	}
	if pk := m.PK(); pk.Column != "id" || pk.Kind != models.KindUUID {
		return nil, fmt.Errorf("rest: %s: a ModelViewSet serves models whose primary key is a UUID named id", m.Type)
	}
	h := &handlers[T]{v: v, p: p, m: m, policy: v.policy(), label: perm.Label(p, (*T)(nil))}
	if v.Owner != "" {
		f, ok := m.Field(v.Owner)
		if !ok || f.Kind != models.KindUUID && f.Kind != models.KindFK {
			return nil, fmt.Errorf("rest: %s: Owner names %q, which is not a UUID column", m.Type, v.Owner)
		}
		if !slices.Contains(v.Serializer.ReadOnly, f.Column) && !slices.Contains(v.Serializer.ReadOnly, f.Name) {
			return nil, fmt.Errorf("rest: %s: the Owner column %q must be in Serializer.ReadOnly: the owner is the signed-in user, never the body", m.Type, v.Owner)
		}
		h.owner = &f
	}
	if v.Search == nil {
		for _, f := range m.Fields {
			if f.Kind == models.KindString || f.Kind == models.KindText {
				h.search = append(h.search, f.Column)
			}
		}
	} else {
		for _, s := range v.Search {
			f, ok := m.Field(s)
			if !ok {
				return nil, fmt.Errorf("rest: %s: Search names %q, which is not a column", m.Type, s)
			}
			h.search = append(h.search, f.Column)
		}
	}
	order := v.Ordering
	if order == "" {
		order = "-id"
		if m.Has("created_at") {
			order = "-created_at"
		}
	}
	col, desc := strings.CutPrefix(order, "-")
	if !m.Has(col) {
		return nil, fmt.Errorf("rest: %s: Ordering names %q, which is not a column", m.Type, col)
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	h.order = m.Alias + "." + col + dir
	if col != "id" {
		h.order += ", " + m.Alias + ".id" + dir
	}
	// Derived here, not written back to v: several projects (parallel
	// tests) may mount the same view set at once.
	h.mediaDir = v.MediaDir
	if h.mediaDir == "" {
		h.mediaDir = strings.Replace(m.Table, "_", "/", 1)
	}
	h.setupCache()
	return h, nil
}

// out renders one row.
func (h *handlers[T]) out(c *fiber.Ctx, obj *T) (json.RawMessage, error) {
	return h.v.Serializer.Output(c, h.p, obj)
}

func (h *handlers[T]) reply(c *fiber.Ctx, status int, obj *T) error {
	body, err := h.out(c, obj)
	if err != nil {
		return err
	}
	return sendJSON(c, status, body)
}

// list answers a page of rows. Bad parameters are refused before the cache
// is looked up.
func (h *handlers[T]) list(c *fiber.Ctx) error {
	page, err := api.PageOf(c)
	if err != nil {
		return err
	}
	var rows []T
	q, err := h.scope(c, h.listQuery(c, page, &rows))
	if err != nil {
		return err
	}
	count, results, err := h.page(c, q, &rows)
	if err != nil {
		return err
	}
	return sendList(c, h.siteURL(), page, count, results)
}

// listQuery is the query of a page: every filter of the request is in it,
// since its SQL is the page's cache key.
func (h *handlers[T]) listQuery(c *fiber.Ctx, page api.Page, rows *[]T) *bun.SelectQuery {
	q := h.p.DB.NewSelect().Model(rows).OrderExpr(h.order).
		Limit(int64(page.PerPage)).Offset(int64(page.Offset))
	if s := c.Query("search"); s != "" && len(h.search) > 0 {
		pattern := "%" + LikeEscaper.Replace(strings.ToLower(s)) + "%"
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, col := range h.search {
				q = q.WhereOr("lower("+h.m.Alias+"."+col+") LIKE ? ESCAPE '\\'", pattern)
			}
			return q
		})
	}
	return q
}

// create adds a row and answers it with 201.
func (h *handlers[T]) create(c *fiber.Ctx) error {
	obj := new(T)
	v := reflect.ValueOf(obj).Elem()
	now := Now()
	h.setAuto(v, "id", reflect.ValueOf(uuid.New()))
	h.setAuto(v, "created_at", reflect.ValueOf(now))
	h.setAuto(v, "updated_at", reflect.ValueOf(now))
	ctx := c.UserContext()
	if err := h.refuseOwner(c); err != nil {
		return err
	}
	in, err := h.v.Serializer.Decode(c, true)
	if err != nil {
		return err
	}
	if _, err := in.Apply(ctx, h.p, obj); err != nil {
		return err
	}
	if err := h.setOwner(c, obj); err != nil {
		return err
	}
	if _, err := h.p.DB.NewInsert().Model(obj).Exec(ctx); err != nil {
		return fmt.Errorf("rest: create %s: %w", h.m.Table, err)
	}
	h.touch(c)
	return h.reply(c, fiber.StatusCreated, obj)
}

// setAuto sets a column the framework fills in, when the model has it.
func (h *handlers[T]) setAuto(v reflect.Value, column string, val reflect.Value) {
	if f, ok := h.m.Field(column); ok && f.Column == column {
		assign(v.FieldByIndex(f.Index), val)
	}
}

// get answers one row, through the cache.
func (h *handlers[T]) get(c *fiber.Ctx) error {
	q, obj, err := h.findQuery(c)
	if err != nil {
		return err
	}
	if !cacheSafeRead(h.policy) {
		// A policy that may refuse a visible row by what it holds reads the
		// row itself, uncached.
		row, err := h.row(c)
		if err != nil {
			return err
		}
		return h.reply(c, fiber.StatusOK, row)
	}
	if q, err = h.scope(c, q); err != nil {
		return err
	}
	body, err := h.object(c, q, obj)
	if err != nil {
		return err
	}
	return sendJSON(c, fiber.StatusOK, body)
}

// update changes the fields the body sends and answers the row.
func (h *handlers[T]) update(c *fiber.Ctx) error {
	// The body is checked before the row is looked up, as before.
	if err := h.refuseOwner(c); err != nil {
		return err
	}
	in, err := h.v.Serializer.Decode(c, false)
	if err != nil {
		return err
	}
	obj, err := h.row(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	cols, err := in.Apply(ctx, h.p, obj)
	if err != nil {
		return err
	}
	if h.m.Has("updated_at") {
		h.setAuto(reflect.ValueOf(obj).Elem(), "updated_at", reflect.ValueOf(Now()))
		cols = append(cols, "updated_at")
	}
	if len(cols) > 0 {
		res, err := h.p.DB.NewUpdate().Model(obj).Column(cols...).WherePK().Exec(ctx)
		if err != nil {
			return fmt.Errorf("rest: update %s: %w", h.m.Table, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return api.NotFound("") // deleted meanwhile
		}
		h.touch(c)
	}
	return h.reply(c, fiber.StatusOK, obj)
}

// delete removes the row and its files, and answers 204.
func (h *handlers[T]) delete(c *fiber.Ctx) error {
	obj, err := h.row(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	res, err := h.p.DB.NewDelete().Model(obj).WherePK().Exec(ctx)
	if err != nil {
		return fmt.Errorf("rest: delete %s: %w", h.m.Table, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return api.NotFound("")
	}
	h.touch(c)
	pl, _ := h.v.Serializer.compile()
	if len(pl.files) > 0 {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		v := reflect.ValueOf(obj).Elem()
		for _, f := range pl.files {
			h.deleteFile(bg, c, v.FieldByIndex(f.Index).String())
		}
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// find loads the row of the path's id from the database; an id that is not
// a UUID is not found either.
func (h *handlers[T]) find(c *fiber.Ctx) (*T, error) {
	q, obj, err := h.findQuery(c)
	if err != nil {
		return nil, err
	}
	if err := h.scanOne(c.UserContext(), q); err != nil {
		return nil, err
	}
	return obj, nil
}

// findQuery is the query of the row of the path's id: every filter of the
// request is in it, since its SQL is the row's cache key.
func (h *handlers[T]) findQuery(c *fiber.Ctx) (*bun.SelectQuery, *T, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return nil, nil, api.NotFound("")
	}
	obj := new(T)
	return h.p.DB.NewSelect().Model(obj).Where(h.m.Alias+".id = ?", id), obj, nil
}

// scanOne runs a one-row query; no row is a 404.
func (h *handlers[T]) scanOne(ctx context.Context, q *bun.SelectQuery) error {
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return api.NotFound("")
		}
		return fmt.Errorf("rest: load %s: %w", h.m.Table, err)
	}
	return nil
}

// siteURL is the base of the absolute links of lists: the request's own host
// in development, SITE_SCHEME://SITE_DOMAIN elsewhere.
func (h *handlers[T]) siteURL() string {
	if h.p.Settings.Layer == "development" {
		return ""
	}
	return h.p.Settings.SiteURL()
}

// upload stores the multipart field "file" (an image checked with the
// project's image validator for an image field) and points the column at it;
// the file it replaces is deleted. Of two concurrent uploads to the same row
// the later wins; the earlier file may then stay in the storage unreferenced.
func (h *handlers[T]) upload(f models.Field) fiber.Handler {
	image := f.Kind == models.KindImage
	return func(c *fiber.Ctx) error {
		obj, err := h.row(c)
		if err != nil {
			return err
		}
		fh, err := api.FormFile(c, UploadField)
		if err != nil {
			return err
		}
		file, err := fh.Open()
		if err != nil {
			return fmt.Errorf("rest: open upload: %w", err)
		}
		defer func() { _ = file.Close() }()
		ctx := c.UserContext()
		dir := h.mediaDir + "/" + f.Column
		var body io.Reader = file
		name, opts := dir+"/"+fh.Filename, storage.SaveOptions{}
		if image {
			img, err := h.p.Images.Validate(ctx, file)
			if err != nil {
				return h.storageError(c, err)
			}
			defer func() { _ = img.Close() }()
			body = img
			name, opts.ContentType = dir+"/"+f.Column+img.Kind.Ext(), img.Kind.ContentType()
		}
		stored, err := h.p.Storage.Save(ctx, name, body, opts)
		if err != nil {
			return h.storageError(c, err)
		}
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		v := reflect.ValueOf(obj).Elem()
		dst := v.FieldByIndex(f.Index)
		old := dst.String()
		dst.SetString(stored)
		cols := []string{f.Column}
		if h.m.Has("updated_at") {
			h.setAuto(v, "updated_at", reflect.ValueOf(Now()))
			cols = append(cols, "updated_at")
		}
		res, err := h.p.DB.NewUpdate().Model(obj).Column(cols...).WherePK().Exec(ctx)
		if err == nil {
			if n, rerr := res.RowsAffected(); rerr == nil && n == 0 {
				err = api.NotFound("") // deleted meanwhile
			}
		}
		if err != nil {
			h.deleteFile(bg, c, stored)
			return err
		}
		h.touch(c)
		h.deleteFile(bg, c, old)
		return h.reply(c, fiber.StatusOK, obj)
	}
}

// deleteFile deletes a stored file no row names any more; a failure is logged
// (the file is then an orphan, harmless).
func (h *handlers[T]) deleteFile(ctx context.Context, c *fiber.Ctx, name string) {
	if name == "" {
		return
	}
	if err := h.p.Storage.Delete(ctx, name); err != nil {
		h.p.Log.WarnContext(ctx, "rest: delete file, left orphaned", "name", name, "request_id", api.RequestIDOf(c), "error", err)
	}
}

// storageError maps the errors of image checks and storage to the API's.
func (h *handlers[T]) storageError(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, storage.ErrNotImage), errors.Is(err, storage.ErrInvalidImage):
		return api.Validation(api.FieldErr(UploadField, MsgInvalidImage)).WithCause(err)
	case errors.Is(err, storage.ErrInvalidName):
		return api.Validation(api.FieldErr(UploadField, MsgInvalidFileName)).WithCause(err)
	case errors.Is(err, storage.ErrTooLarge):
		return api.PayloadTooLarge(int64(h.p.Settings.MaxUploadSize)).WithCause(err)
	case errors.Is(err, storage.ErrUnavailable):
		h.p.Log.WarnContext(c.UserContext(), "rest: media storage unavailable", "request_id", api.RequestIDOf(c), "error", err)
		return api.Unavailable(api.FieldErr("storage", MsgStorageUnavailable)).WithCause(err)
	}
	return fmt.Errorf("rest: upload: %w", err)
}
