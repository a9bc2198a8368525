package admin

import (
	"errors"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"

	gactx "github.com/GoAdminGroup/go-admin/context"
	"github.com/GoAdminGroup/go-admin/modules/db"
	"github.com/GoAdminGroup/go-admin/plugins/admin/modules/form"
	"github.com/GoAdminGroup/go-admin/plugins/admin/modules/parameter"
	"github.com/GoAdminGroup/go-admin/plugins/admin/modules/table"
	"github.com/GoAdminGroup/go-admin/template/types"
	"github.com/GoAdminGroup/go-admin/template/types/action"
	gaform "github.com/GoAdminGroup/go-admin/template/types/form"
	"github.com/google/uuid"
)

// searchParam is the query parameter of the list's search box.
const searchParam = "q"

func dbType(k Kind) db.DatabaseType {
	switch k {
	case KindText:
		return db.Text
	case KindBool:
		return db.Bool
	case KindInt:
		return db.Int
	case KindDate:
		return db.Date
	case KindDateTime:
		return db.Timestamp
	}
	return db.Varchar
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "on":
		return true
	}
	return false
}

// display returns how a value of the field is shown in lists and detail pages, always escaped.
func display(f Field) types.FieldFilterFn {
	return func(v types.FieldModel) any {
		switch f.Kind {
		case KindBool:
			if truthy(v.Value) {
				return template.HTML(`<span class="label label-success">yes</span>`)
			}
			return template.HTML(`<span class="label label-default">no</span>`)
		case KindPassword:
			return template.HTML("")
		case KindImage:
			if v.Value == "" {
				return template.HTML("")
			}
			src := v.Value
			if f.URL != nil {
				src = f.URL(v.Value)
			}
			if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") {
				return template.HTML(html.EscapeString(v.Value))
			}
			return template.HTML(`<img style="max-height:48px" src="` + html.EscapeString(src) + `" alt="">`)
		}
		return template.HTML(html.EscapeString(v.Value))
	}
}

func (a *Admin) boolOptions() types.FieldOptions {
	return types.FieldOptions{
		{Value: a.boolValue(true), Text: "yes"},
		{Value: a.boolValue(false), Text: "no"},
	}
}

// generator turns a ModelAdmin into the GoAdmin table (list, detail, create, edit, delete).
func (a *Admin) generator(m ModelAdmin) table.Generator {
	driver := db.DriverSqlite
	if a.cfg.Dialect == Postgres {
		driver = db.DriverPostgresql
	}
	pkField, _ := m.field(m.pk())
	return func(ctx *gactx.Context) table.Table {
		t := table.NewDefaultTable(ctx, table.Config{
			Driver:     driver,
			Connection: table.DefaultConnectionName,
			CanAdd:     !m.NoCreate,
			Editable:   len(m.Form) > 0,
			Deletable:  !m.NoDelete,
			Exportable: false,
			PrimaryKey: table.PrimaryKey{Name: m.pk(), Type: dbType(pkField.Kind)},
		})

		info := t.GetInfo()
		info.SetTable(m.Table).SetTitle(m.title()).SetDescription(m.title())
		info.SetDefaultPageSize(m.pageSize()).SetPageSizeList([]int{10, 25, 50, 100})
		col, desc := m.ordering()
		info.SetSortField(col)
		if desc {
			info.SetSortDesc()
		} else {
			info.SetSortAsc()
		}
		if !slices.Contains(m.List, m.pk()) {
			info.AddField(m.pk(), m.pk(), dbType(pkField.Kind)).FieldHide()
		}
		for _, c := range m.List {
			f, ok := m.field(c)
			if !ok {
				f = Field{Name: c, Kind: pkField.Kind}
			}
			info.AddField(f.label(), f.Name, dbType(f.Kind)).FieldSortable().FieldDisplay(display(f))
			if slices.Contains(m.Filters, c) {
				a.filterable(info, f)
			}
		}
		for _, c := range m.Filters {
			if slices.Contains(m.List, c) {
				continue
			}
			f, _ := m.field(c)
			info.AddField(f.label(), f.Name, dbType(f.Kind)).FieldHide()
			a.filterable(info, f)
		}
		if len(m.Search) > 0 {
			// A search matches any of the columns, case-insensitively, as a parameterised
			// condition of our own (GoAdmin's "or conditions" compare case-sensitively on Postgres).
			info.AddFilter("Search", searchParam, db.Varchar, func(p *parameter.Parameters) {
				delete(p.Fields, searchParam)
			}, types.FilterType{Placeholder: "search " + strings.Join(m.Search, ", ")})
			if q := strings.TrimSpace(ctx.Query(searchParam)); q != "" {
				raw, args := searchCondition(m, q)
				info.WhereRaw(raw, args...)
			}
		}
		for _, act := range m.Actions {
			info.AddActionButton(ctx, template.HTML(html.EscapeString(act.Label)), action.Ajax(m.operationID(act), a.runAction(act)))
		}
		info.HideExportButton()
		if m.NoCreate {
			info.HideNewButton()
		}
		if len(m.Form) == 0 {
			info.HideEditButton()
		}
		if m.NoDelete {
			info.HideDeleteButton()
		} else {
			info.SetDeleteFn(func(ids []string) error { return a.deleteRows(m, ids) })
		}

		// The detail page shows every declared column but passwords.
		detail := t.GetDetail()
		detail.SetTable(m.Table).SetTitle(m.title()).SetDescription(m.title())
		for _, c := range m.columns() {
			f, ok := m.field(c)
			if !ok {
				f = Field{Name: c, Kind: pkField.Kind}
			}
			if f.Kind == KindPassword {
				continue
			}
			detail.AddField(f.label(), f.Name, dbType(f.Kind)).FieldDisplay(display(f))
		}

		frm := t.GetForm()
		frm.SetTable(m.Table).SetTitle(m.title()).SetDescription(m.title())
		frm.AddField(m.pk(), m.pk(), dbType(pkField.Kind), gaform.Default).FieldHide().FieldNotAllowAdd()
		for _, c := range m.Form {
			if c == m.pk() {
				continue
			}
			f, _ := m.field(c)
			a.formField(frm, f, slices.Contains(m.ReadOnly, c))
		}
		frm.SetInsertFn(func(values form.Values) error {
			if m.NoCreate {
				return errors.New("creating is not allowed here")
			}
			return a.insertRow(m, values)
		})
		frm.SetUpdateFn(func(values form.Values) error { return a.updateRow(m, values) })
		return t
	}
}

// runAction is the GoAdmin handler of a row action; the guard has checked access and CSRF.
func (a *Admin) runAction(act Action) types.Handler {
	return func(ctx *gactx.Context) (bool, string, any) {
		id := ctx.FormValue("id")
		if id == "" {
			return false, "no row given", nil
		}
		if err := act.Run(ctx.Request.Context(), id); err != nil {
			a.log.Warn("admin: action", "action", act.Name, "id", id, "err", err)
			return false, act.Label + ": " + err.Error(), nil
		}
		return true, act.Label + " done", nil
	}
}

func (a *Admin) filterable(info *types.InfoPanel, f Field) {
	switch f.Kind {
	case KindBool:
		info.FieldFilterable(types.FilterType{FormType: gaform.SelectSingle}).FieldFilterOptions(a.boolOptions())
	case KindDate, KindDateTime:
		info.FieldFilterable(types.FilterType{FormType: gaform.DatetimeRange})
	default:
		info.FieldFilterable()
	}
}

func (a *Admin) formField(frm *types.FormPanel, f Field, readOnly bool) {
	typ := gaform.Text
	switch f.Kind {
	case KindText:
		typ = gaform.TextArea
	case KindBool:
		typ = gaform.SelectSingle
	case KindInt:
		typ = gaform.Number
	case KindDate:
		typ = gaform.Date
	case KindDateTime:
		typ = gaform.Datetime
	case KindPassword:
		typ = gaform.Password
	}
	frm.AddField(f.label(), f.Name, dbType(f.Kind), typ)
	switch f.Kind {
	case KindBool:
		// The database's spelling of a boolean ("true", "1", "t") becomes the option's value,
		// so the edit form selects the stored value and posts it back unchanged.
		frm.FieldDisplay(func(v types.FieldModel) any { return a.boolValue(truthy(v.Value)) })
		frm.FieldOptions(a.boolOptions()).FieldOptionInitFn(func(v types.FieldModel) types.FieldOptions {
			opts := a.boolOptions()
			for i := range opts {
				opts[i].Selected = truthy(opts[i].Value) == truthy(v.Value)
			}
			return opts
		})
	case KindPassword:
		// Never send the stored hash to the browser: an empty field keeps it.
		frm.FieldDisplay(func(types.FieldModel) any { return "" }).
			FieldHelpMsg("leave empty to keep the current password")
	default:
		frm.FieldDisplay(func(v types.FieldModel) any { return v.Value })
	}
	if readOnly {
		frm.FieldDisplayButCanNotEditWhenUpdate().FieldHideWhenCreate()
	}
}

// sqlValue converts a submitted form value to the parameter written for the field.
func (a *Admin) sqlValue(f Field, v string) (any, error) {
	switch f.Kind {
	case KindBool:
		return a.boolValue(truthy(v)), nil
	case KindInt, KindDate, KindDateTime, KindFK, KindUUID, KindImage:
		if v == "" {
			return nil, nil
		}
	case KindPassword:
		h, err := f.Hash(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.label(), err)
		}
		return h, nil
	}
	return v, nil
}

// assignments returns the columns and values a create or an edit writes: the writable form
// fields only, so a crafted request cannot set a column the page does not offer.
func (a *Admin) assignments(m ModelAdmin, values form.Values) ([]string, []any, error) {
	var cols []string
	var args []any
	for _, c := range m.writable() {
		if c == m.pk() {
			continue
		}
		f, _ := m.field(c)
		if _, posted := values[c]; !posted && f.Kind != KindBool {
			continue
		}
		v := values.Get(c)
		if f.Kind == KindPassword && v == "" {
			continue
		}
		sv, err := a.sqlValue(f, v)
		if err != nil {
			return nil, nil, err
		}
		cols = append(cols, c)
		args = append(args, sv)
	}
	return cols, args, nil
}

func (a *Admin) insertRow(m ModelAdmin, values form.Values) error {
	cols, args, err := a.assignments(m, values)
	if err != nil {
		return err
	}
	newID := ""
	if f, ok := m.field(m.pk()); ok && f.Kind == KindUUID {
		newID = uuid.NewString()
		cols = append([]string{m.pk()}, cols...)
		args = append([]any{newID}, args...)
	}
	if len(cols) == 0 {
		return errors.New("nothing to save")
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteIdent(m.Table), quoteList(cols),
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	ctx, cancel := bgContext()
	defer cancel()
	if _, err := a.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("admin: create %s: %w", m.Table, err)
	}
	if m.AfterSave != nil {
		m.AfterSave(ctx, newID)
	}
	return nil
}

func (a *Admin) updateRow(m ModelAdmin, values form.Values) error {
	id := values.Get(m.pk())
	if id == "" {
		return errors.New("missing primary key")
	}
	cols, args, err := a.assignments(m, values)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		return nil
	}
	sets := make([]string, len(cols))
	for i, c := range cols {
		sets[i] = quoteIdent(c) + " = ?"
	}
	q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = ?", quoteIdent(m.Table), strings.Join(sets, ", "), quoteIdent(m.pk()))
	ctx, cancel := bgContext()
	defer cancel()
	if _, err := a.exec(ctx, q, append(args, id)...); err != nil {
		return fmt.Errorf("admin: update %s %s: %w", m.Table, id, err)
	}
	if m.AfterSave != nil {
		m.AfterSave(ctx, id)
	}
	return nil
}

func (a *Admin) deleteRows(m ModelAdmin, ids []string) error {
	var clean []string
	for _, id := range ids {
		for _, part := range strings.Split(id, ",") {
			if part = strings.TrimSpace(part); part != "" {
				clean = append(clean, part)
			}
		}
	}
	if len(clean) == 0 {
		return nil
	}
	args := make([]any, len(clean))
	for i, id := range clean {
		args[i] = id
	}
	q := fmt.Sprintf("DELETE FROM %s WHERE %s IN (%s)", quoteIdent(m.Table), quoteIdent(m.pk()),
		strings.TrimSuffix(strings.Repeat("?, ", len(clean)), ", "))
	ctx, cancel := bgContext()
	defer cancel()
	if _, err := a.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("admin: delete from %s: %w", m.Table, err)
	}
	if m.AfterSave != nil {
		for _, id := range clean {
			m.AfterSave(ctx, id)
		}
	}
	return nil
}

// searchCondition returns "(lower(a) LIKE ? ESCAPE '\\' OR ...)" and its arguments.
func searchCondition(m ModelAdmin, q string) (string, []any) {
	pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q)) + "%"
	conds := make([]string, len(m.Search))
	args := make([]any, len(m.Search))
	for i, c := range m.Search {
		conds[i] = "lower(" + quoteIdent(m.Table) + "." + quoteIdent(c) + `) LIKE ? ESCAPE '\'`
		args[i] = pattern
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// quoteIdent quotes an identifier already checked against identRe.
func quoteIdent(s string) string { return `"` + s + `"` }

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}
