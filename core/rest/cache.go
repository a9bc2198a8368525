package rest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"manouche/core"
	"manouche/core/api"
	"manouche/core/cache"
	"manouche/core/models"
)

// Cached returns the model cache of T in p (see cache.Model): its entries
// depend on T's table and on the tables T's foreign keys point to, and
// Touch invalidates them on every process. A hand-written view reads
// through it with the query's SQL as the key and touches it after a write:
//
//	posts := rest.Cached[Post](p)
//	q := p.DB.NewSelect().Model(&rows).Where("author_id = ?", userID).Limit(20)
//	err := posts.Once(ctx, q.String(), &rows, func(ctx context.Context) (any, error) {
//		return rows, q.Scan(ctx)
//	})
//	...
//	_, err = p.DB.NewInsert().Model(&post).Exec(ctx)
//	_ = posts.Touch(ctx) // after the commit
//
// The SQL is the key, so every filter that scopes the result (the signed-in
// user's rows, a search) is part of it. Anything else the result depends on
// must be added to the key string.
func Cached[T any](p *core.Project) *cache.Model {
	m := models.MustDescribe((*T)(nil))
	return p.Cache.Model(m.Table, cacheTables(m, nil), cache.ModelOptions{})
}

// cacheTables are the tables whose writes change what a model's rows show:
// its own, those of its foreign keys (a row disappears when the row it
// points to is deleted, ON DELETE CASCADE) and extra ones.
func cacheTables(m *models.Model, extra []string) []string {
	tables := []string{m.Table}
	add := func(t string) {
		for _, have := range tables {
			if have == t {
				return
			}
		}
		tables = append(tables, t)
	}
	for _, f := range m.Fields {
		if f.Ref != nil {
			add(f.Ref.Table)
		}
	}
	for _, t := range extra {
		add(t)
	}
	return tables
}

// setupCache makes the view set's two model caches (pages and single
// rows, each with its own bounds), unless the view set turned caching off.
func (h *handlers[T]) setupCache() {
	if h.v.NoCache || h.p.Cache == nil {
		return
	}
	tables := cacheTables(h.m, h.v.CacheDepends)
	h.lists = h.p.Cache.Model(h.m.Table+":list", tables, cache.ModelOptions{})
	h.objects = h.p.Cache.Model(h.m.Table+":object", tables, cache.ModelOptions{MaxVariants: -1})
}

// touch invalidates the model's cached pages and rows on every process,
// after a write. A failure (Redis down) does not fail the write: it is
// logged, and the cache replays the invalidation when Redis is back.
func (h *handlers[T]) touch(c *fiber.Ctx) {
	if h.p.Cache == nil {
		return
	}
	if err := h.p.Cache.Touch(c.UserContext(), h.m.Table); err != nil {
		h.p.Log.Warn("rest: invalidate cached rows", "table", h.m.Table, "request_id", api.RequestIDOf(c), "error", err)
	}
}

// page runs a list query, through the cache: the count and the rendered
// rows (a JSON array).
func (h *handlers[T]) page(c *fiber.Ctx, q *bun.SelectQuery, rows *[]T) (int, []byte, error) {
	load := func(ctx context.Context) (any, error) {
		count, err := q.ScanAndCount(ctx)
		if err != nil {
			return nil, fmt.Errorf("rest: list %s: %w", h.m.Table, err)
		}
		b := make([]byte, 8, 8+512*len(*rows))
		binary.BigEndian.PutUint64(b, uint64(count))
		if b, err = h.appendRows(c, b, *rows); err != nil {
			return nil, err
		}
		return b, nil
	}
	if h.lists == nil {
		v, err := load(c.UserContext())
		if err != nil {
			return 0, nil, err
		}
		b := v.([]byte)
		return int(binary.BigEndian.Uint64(b)), b[8:], nil
	}
	var b []byte
	if err := h.lists.Once(c.UserContext(), q.String(), &b, load); err != nil {
		return 0, nil, err
	}
	if len(b) < 8 {
		return 0, nil, errors.New("rest: malformed cached page")
	}
	return int(binary.BigEndian.Uint64(b)), b[8:], nil
}

// object runs a one-row query through the cache and answers the rendered
// row; no row is a 404 (not cached).
func (h *handlers[T]) object(c *fiber.Ctx, q *bun.SelectQuery, obj *T) ([]byte, error) {
	load := func(ctx context.Context) (any, error) {
		if err := h.scanOne(ctx, q); err != nil {
			return nil, err
		}
		return h.out(c, obj)
	}
	if h.objects == nil {
		v, err := load(c.UserContext())
		if err != nil {
			return nil, err
		}
		return []byte(v.(json.RawMessage)), nil
	}
	var b []byte
	if err := h.objects.Once(c.UserContext(), q.String(), &b, func(ctx context.Context) (any, error) {
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return []byte(v.(json.RawMessage)), nil
	}); err != nil {
		return nil, err
	}
	return b, nil
}

// appendRows appends the rows rendered as a JSON array.
func (h *handlers[T]) appendRows(c *fiber.Ctx, b []byte, rows []T) ([]byte, error) {
	b = append(b, '[')
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		row, err := h.out(c, &rows[i])
		if err != nil {
			return nil, err
		}
		b = append(b, row...)
	}
	return append(b, ']'), nil
}

// sendList writes a list response around results, a rendered JSON array,
// without re-encoding it: the same bytes c.JSON(api.NewList(...)) writes.
func sendList(c *fiber.Ctx, base string, p api.Page, count int, results []byte) error {
	l := api.NewList[json.RawMessage](c, base, p, count, nil)
	b := make([]byte, 0, 256)
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"next":`...)
	b = appendLink(b, l.Next)
	b = append(b, `,"previous":`...)
	b = appendLink(b, l.Previous)
	b = append(b, `,"results":`...)
	// Written into the response's pooled buffer: no copy of the page is made
	// per request besides that one.
	c.Status(fiber.StatusOK)
	res := c.Response()
	res.Header.SetContentType(fiber.MIMEApplicationJSON)
	res.SetBody(b)
	res.AppendBody(results)
	res.AppendBodyString("}")
	return nil
}

func appendLink(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	enc, _ := json.Marshal(*s) // escapes as c.JSON does
	return append(b, enc...)
}

// sendJSON writes an encoded JSON body (copied: body may be cached bytes).
func sendJSON(c *fiber.Ctx, status int, body []byte) error {
	c.Status(status)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	c.Response().SetBody(body)
	return nil
}
