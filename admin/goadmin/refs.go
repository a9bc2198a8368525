package goadmin

import (
	"manouche/admin"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/GoAdminGroup/go-admin/template/types"
)

// maxRefOptions bounds the rows a foreign key's select offers; the select searches them as
// you type. The row the key holds is always offered.
const maxRefOptions = 1000

// modelOfTable returns the ModelAdmin declared for a table.
func (a *Admin) modelOfTable(table string) (admin.ModelAdmin, bool) {
	for _, m := range a.cfg.Models {
		if m.Table == table {
			return m, true
		}
	}
	return admin.ModelAdmin{}, false
}

// refLabel returns the column of f.Ref that names a row.
func (a *Admin) refLabel(f admin.Field) string {
	if f.RefLabel != "" {
		return f.RefLabel
	}
	if m, ok := a.modelOfTable(f.Ref); ok {
		return m.RowLabel()
	}
	return "id"
}

// refCache holds the labels of related rows already looked up while one page is built, so a
// list of 25 rows pointing at the same user asks once.
type refCache struct {
	a      *Admin
	mu     sync.Mutex
	labels map[string]string
}

func (a *Admin) newRefCache() *refCache { return &refCache{a: a, labels: map[string]string{}} }

// label returns the label of the row of f.Ref whose key is id, or id when there is none.
func (c *refCache) label(f admin.Field, id string) string {
	key := f.Ref + "\x00" + id
	c.mu.Lock()
	l, ok := c.labels[key]
	c.mu.Unlock()
	if ok {
		return l
	}
	ctx, cancel := bgContext()
	defer cancel()
	var raw any
	q := fmt.Sprintf("SELECT %s FROM %s WHERE id = ?", quoteIdent(c.a.refLabel(f)), quoteIdent(f.Ref))
	l = id
	if err := c.a.queryRow(ctx, q, id).Scan(&raw); err == nil && raw != nil {
		l = c.a.formText(admin.Field{Kind: admin.KindString}, raw)
	} else if err != nil {
		c.a.log.Warn("admin: related row label", "table", f.Ref, "id", id, "err", err)
	}
	c.mu.Lock()
	c.labels[key] = l
	c.mu.Unlock()
	return l
}

// refOptions returns the rows of f.Ref as select options (key, label), ordered by label, with
// selected marked and always offered, and an empty choice first.
func (a *Admin) refOptions(f admin.Field, selected string, refs *refCache) types.FieldOptions {
	opts := types.FieldOptions{{Value: "", Text: "---------", Selected: selected == ""}}
	ctx, cancel := bgContext()
	defer cancel()
	label := quoteIdent(a.refLabel(f))
	q := fmt.Sprintf("SELECT id, %s FROM %s ORDER BY %s, id LIMIT %d", label, quoteIdent(f.Ref), label, maxRefOptions)
	rows, err := a.db.QueryContext(ctx, q)
	if err != nil {
		a.log.Warn("admin: related rows", "table", f.Ref, "err", err)
	} else {
		defer rows.Close()
		for rows.Next() {
			var id, l any
			if err := rows.Scan(&id, &l); err != nil {
				a.log.Warn("admin: related rows", "table", f.Ref, "err", err)
				break
			}
			v := a.formText(f, id)
			opts = append(opts, types.FieldOption{Value: v, Text: a.formText(admin.Field{Kind: admin.KindString}, l), Selected: v == selected})
		}
	}
	for _, o := range opts {
		if o.Selected {
			return opts
		}
	}
	return append(opts, types.FieldOption{Value: selected, Text: refs.label(f, selected), Selected: true})
}

// checkRef refuses a foreign key that names no row of f.Ref.
func (a *Admin) checkRef(ctx context.Context, f admin.Field, id any) error {
	if f.Ref == "" || id == nil {
		return nil
	}
	var one int
	err := a.queryRow(ctx, fmt.Sprintf("SELECT 1 FROM %s WHERE id = ?", quoteIdent(f.Ref)), id).Scan(&one)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: no %s row has the key %v", f.DisplayLabel(), f.Ref, id)
		}
		return fmt.Errorf("admin: check %s %v: %w", f.Ref, id, err)
	}
	return nil
}
