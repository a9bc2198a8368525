package goadmin

import (
	"manouche/admin"

	"context"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/url"
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

func dbType(k admin.Kind) db.DatabaseType {
	switch k {
	case admin.KindText:
		return db.Text
	case admin.KindBool:
		return db.Bool
	case admin.KindInt:
		return db.Int
	case admin.KindFloat:
		return db.Double
	case admin.KindDate:
		return db.Date
	case admin.KindDateTime:
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
// It reads the raw value GoAdmin scanned (v.Row), not GoAdmin's string of it, which is empty
// for a float on SQLite and an RFC 3339 instant for a date.
func (a *Admin) display(f admin.Field, refs *refCache) types.FieldFilterFn {
	return func(v types.FieldModel) any {
		raw := v.Row[f.Name]
		switch f.Kind {
		case admin.KindBool:
			if raw == nil {
				return template.HTML("")
			}
			if truthy(a.formText(f, raw)) {
				return template.HTML(`<span class="label label-success">yes</span>`)
			}
			return template.HTML(`<span class="label label-default">no</span>`)
		case admin.KindPassword:
			return template.HTML("")
		case admin.KindImage, admin.KindFile:
			name := a.formText(f, raw)
			if raw == nil || name == "" {
				return template.HTML("")
			}
			src := name
			if f.URL != nil {
				src = f.URL(name)
			} else if f.Kind == admin.KindFile {
				return template.HTML(html.EscapeString(name))
			}
			if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") {
				return template.HTML(html.EscapeString(name))
			}
			if f.Kind == admin.KindFile {
				return template.HTML(`<a href="` + html.EscapeString(src) + `">` + html.EscapeString(name) + `</a>`)
			}
			return template.HTML(`<img style="max-height:48px" src="` + html.EscapeString(src) + `" alt="">`)
		case admin.KindFK:
			id := a.formText(f, raw)
			if raw == nil || f.Ref == "" {
				return template.HTML(html.EscapeString(id))
			}
			label := refs.label(f, id)
			if ref, ok := a.modelOfTable(f.Ref); ok && !ref.SuperuserOnly {
				return template.HTML(`<a href="` + admin.Prefix + `/info/` + ref.URLName() + `/detail?__goadmin_detail_pk=` +
					url.QueryEscape(id) + `">` + html.EscapeString(label) + `</a>`)
			}
			return template.HTML(html.EscapeString(label))
		}
		return template.HTML(html.EscapeString(a.listText(f, raw)))
	}
}

func (a *Admin) boolOptions() types.FieldOptions {
	return types.FieldOptions{
		{Value: a.boolValue(true), Text: "yes"},
		{Value: a.boolValue(false), Text: "no"},
	}
}

// generator turns a ModelAdmin into the GoAdmin table (list, detail, create, edit, delete).
func (a *Admin) generator(m admin.ModelAdmin) table.Generator {
	driver := db.DriverSqlite
	if a.cfg.Dialect == Postgres {
		driver = db.DriverPostgresql
	}
	pkField, _ := m.Field(m.PK())
	return func(ctx *gactx.Context) table.Table {
		refs := a.newRefCache()
		// What the staff member may do: the rest is not offered (the guard refuses it anyway).
		u, _ := currentUser(ctx)
		rctx := ctx.Request.Context()
		canAdd := !m.NoCreate && a.mayOrFalse(rctx, u, m, admin.ActionAdd)
		canChange := len(m.Form) > 0 && a.mayOrFalse(rctx, u, m, admin.ActionChange)
		canDelete := !m.NoDelete && a.mayOrFalse(rctx, u, m, admin.ActionDelete)
		t := table.NewDefaultTable(ctx, table.Config{
			Driver:     driver,
			Connection: table.DefaultConnectionName,
			CanAdd:     canAdd,
			Editable:   canChange,
			Deletable:  canDelete,
			Exportable: false,
			PrimaryKey: table.PrimaryKey{Name: m.PK(), Type: dbType(pkField.Kind)},
		})

		info := t.GetInfo()
		info.SetTable(m.Table).SetTitle(m.PageTitle()).SetDescription(m.PageTitle())
		info.SetDefaultPageSize(m.RowsPerPage()).SetPageSizeList([]int{10, 25, 50, 100})
		col, desc := m.DefaultOrder()
		info.SetSortField(col)
		if desc {
			info.SetSortDesc()
		} else {
			info.SetSortAsc()
		}
		if !slices.Contains(m.List, m.PK()) {
			info.AddField(m.PK(), m.PK(), dbType(pkField.Kind)).FieldHide()
		}
		for _, c := range m.List {
			f, ok := m.Field(c)
			if !ok {
				f = admin.Field{Name: c, Kind: pkField.Kind}
			}
			info.AddField(f.DisplayLabel(), f.Name, dbType(f.Kind)).FieldSortable().FieldDisplay(a.display(f, refs))
			if slices.Contains(m.Filters, c) {
				a.filterable(info, f, refs)
			}
		}
		for _, c := range m.Filters {
			if slices.Contains(m.List, c) {
				continue
			}
			f, _ := m.Field(c)
			info.AddField(f.DisplayLabel(), f.Name, dbType(f.Kind)).FieldHide()
			a.filterable(info, f, refs)
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
			if !a.mayOrFalse(rctx, u, m, admin.ActionChange) {
				break
			}
			info.AddActionButton(ctx, template.HTML(html.EscapeString(act.Label)), action.Ajax(m.OperationID(act), a.runAction(act)))
		}
		info.HideExportButton()
		if !canAdd {
			info.HideNewButton()
		}
		if !canChange {
			info.HideEditButton()
		}
		if !canDelete {
			info.HideDeleteButton()
		} else {
			info.SetDeleteFn(func(ids []string) error { return a.deleteRows(m, ids) })
		}

		// The detail page shows every declared column but passwords.
		detail := t.GetDetail()
		detail.SetTable(m.Table).SetTitle(m.PageTitle()).SetDescription(m.PageTitle())
		for _, c := range m.Columns() {
			f, ok := m.Field(c)
			if !ok {
				f = admin.Field{Name: c, Kind: pkField.Kind}
			}
			if f.Kind == admin.KindPassword {
				continue
			}
			detail.AddField(f.DisplayLabel(), f.Name, dbType(f.Kind)).FieldDisplay(a.display(f, refs))
		}

		frm := t.GetForm()
		frm.SetTable(m.Table).SetTitle(m.PageTitle()).SetDescription(m.PageTitle())
		frm.AddField(m.PK(), m.PK(), dbType(pkField.Kind), gaform.Default).FieldHide().FieldNotAllowAdd()
		for _, c := range m.Form {
			if c == m.PK() {
				continue
			}
			f, _ := m.Field(c)
			a.formField(frm, f, slices.Contains(m.ReadOnly, c), refs)
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
func (a *Admin) runAction(act admin.Action) types.Handler {
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

func (a *Admin) filterable(info *types.InfoPanel, f admin.Field, refs *refCache) {
	switch f.Kind {
	case admin.KindBool:
		info.FieldFilterable(types.FilterType{FormType: gaform.SelectSingle}).FieldFilterOptions(a.boolOptions())
	case admin.KindDate, admin.KindDateTime:
		info.FieldFilterable(types.FilterType{FormType: gaform.DatetimeRange})
	case admin.KindFK:
		if f.Ref == "" {
			info.FieldFilterable()
			return
		}
		info.FieldFilterable(types.FilterType{FormType: gaform.SelectSingle}).
			FieldFilterOptions(a.refOptions(f, "", refs)[1:])
	default:
		info.FieldFilterable()
	}
}

// inputs are the HTML inputs of the kinds that have one of their own: what a Django admin
// user expects (a number input, the browser's date picker, a date-time input in UTC). They
// render through GoAdmin's custom form type; .Value is the escaped formText of the value.
var inputs = map[admin.Kind]string{
	admin.KindInt:      `<input type="number" step="1" name="{{.Field}}" value="{{.Value}}" class="form-control {{.Field}}" style="max-width:20em"{{if .Must}} required{{end}}>`,
	admin.KindFloat:    `<input type="number" step="any" name="{{.Field}}" value="{{.Value}}" class="form-control {{.Field}}" style="max-width:20em"{{if .Must}} required{{end}}>`,
	admin.KindDate:     `<span class="input-group-addon"><i class="fa fa-calendar fa-fw"></i></span><input type="date" name="{{.Field}}" value="{{.Value}}" class="form-control {{.Field}}" style="max-width:14em"{{if .Must}} required{{end}}>`,
	admin.KindDateTime: `<span class="input-group-addon"><i class="fa fa-calendar fa-fw"></i></span><input type="datetime-local" step="1" name="{{.Field}}" value="{{.Value}}" class="form-control {{.Field}}" style="max-width:16em"{{if .Must}} required{{end}}><span class="input-group-addon">UTC</span>`,
}

func (a *Admin) formField(frm *types.FormPanel, f admin.Field, readOnly bool, refs *refCache) {
	typ := gaform.Text
	switch f.Kind {
	case admin.KindText:
		typ = gaform.TextArea
	case admin.KindBool:
		typ = gaform.SelectSingle
	case admin.KindFK:
		if f.Ref != "" {
			typ = gaform.SelectSingle
		}
	case admin.KindPassword:
		typ = gaform.Password
	}
	if _, ok := inputs[f.Kind]; ok && !readOnly {
		typ = gaform.Custom
	}
	if readOnly && typ == gaform.SelectSingle {
		typ = gaform.Text
	}
	frm.AddField(f.DisplayLabel(), f.Name, dbType(f.Kind), typ)
	// Every value is escaped here: GoAdmin puts what this returns into the page as HTML.
	// Escaped, the browser gets back exactly the stored text ("<b>", "&amp;").
	formValue := func(v types.FieldModel) any {
		if readOnly {
			return template.HTML(html.EscapeString(a.listText(f, v.Row[f.Name])))
		}
		return template.HTML(html.EscapeString(a.formText(f, v.Row[f.Name])))
	}
	switch {
	case readOnly:
		frm.FieldDisplay(formValue)
	case f.Kind == admin.KindBool:
		// The database's spelling of a boolean ("true", "1", "t") becomes the option's value,
		// so the edit form selects the stored value and posts it back unchanged. GoAdmin
		// matches the options against this as a plain string.
		frm.FieldDisplay(func(v types.FieldModel) any { return a.formText(f, v.Row[f.Name]) })
		opts := a.boolOptions()
		if f.Null {
			// A NULL stays NULL: it is the empty choice, not "no".
			opts = append(types.FieldOptions{{Value: "", Text: "---------"}}, opts...)
		}
		frm.FieldOptions(opts)
	case f.Kind == admin.KindFK && f.Ref != "":
		frm.FieldDisplay(func(v types.FieldModel) any { return a.formText(f, v.Row[f.Name]) })
		frm.FieldOptionInitFn(func(v types.FieldModel) types.FieldOptions {
			return a.refOptions(f, a.formText(f, v.Row[f.Name]), refs)
		})
	case f.Kind == admin.KindPassword:
		// Never send the stored hash to the browser: an empty field keeps it.
		frm.FieldDisplay(func(types.FieldModel) any { return "" }).
			FieldHelpMsg("leave empty to keep the current password")
	default:
		frm.FieldDisplay(formValue)
	}
	if in, ok := inputs[f.Kind]; ok && !readOnly {
		frm.FieldCustomContent(template.HTML(in))
	}
	if readOnly {
		frm.FieldDisplayButCanNotEditWhenUpdate().FieldHideWhenCreate()
	}
}

// assignments returns the columns and values a create or an edit writes: the writable form
// fields only, so a crafted request cannot set a column the page does not offer. On an edit
// (current is the stored row) a value posted back as the form showed it is not written, so
// saving an untouched form leaves every column byte for byte as it was. Every invalid value
// is reported at once, as form errors; nothing is written then.
func (a *Admin) assignments(ctx context.Context, m admin.ModelAdmin, values form.Values, current map[string]any) ([]string, []any, error) {
	var cols []string
	var args []any
	var errs []error
	for _, c := range m.Writable() {
		if c == m.PK() {
			continue
		}
		f, _ := m.Field(c)
		if _, posted := values[c]; !posted && f.Kind != admin.KindBool {
			continue
		}
		v := values.Get(c)
		if _, posted := values[c]; !posted {
			v = "false" // a boolean that is not posted is false, as an unticked checkbox
		}
		if f.Kind == admin.KindPassword && v == "" {
			continue
		}
		sv, err := a.parseValue(f, v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if current != nil && f.Kind != admin.KindPassword && a.unchanged(f, current[c], v, sv) {
			continue
		}
		if f.Kind == admin.KindFK {
			if err := a.checkRef(ctx, f, sv); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		cols = append(cols, c)
		args = append(args, sv)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return cols, args, nil
}

func (a *Admin) insertRow(m admin.ModelAdmin, values form.Values) error {
	ctx, cancel := bgContext()
	defer cancel()
	cols, args, err := a.assignments(ctx, m, values, nil)
	if err != nil {
		return err
	}
	newID := ""
	if f, ok := m.Field(m.PK()); ok && f.Kind == admin.KindUUID {
		newID = uuid.NewString()
		cols = append([]string{m.PK()}, cols...)
		args = append([]any{newID}, args...)
	}
	if len(cols) == 0 {
		return errors.New("nothing to save")
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteIdent(m.Table), quoteList(cols),
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	if _, err := a.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("admin: create %s: %w", m.Table, err)
	}
	if m.AfterSave != nil {
		m.AfterSave(ctx, newID)
	}
	return nil
}

func (a *Admin) updateRow(m admin.ModelAdmin, values form.Values) error {
	id := values.Get(m.PK())
	if id == "" {
		return errors.New("missing primary key")
	}
	if len(m.Writable()) == 0 {
		return nil
	}
	ctx, cancel := bgContext()
	defer cancel()
	current, err := a.currentRow(ctx, m, id, m.Writable())
	if err != nil {
		return err
	}
	cols, args, err := a.assignments(ctx, m, values, current)
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
	q := fmt.Sprintf("UPDATE %s SET %s WHERE %s = ?", quoteIdent(m.Table), strings.Join(sets, ", "), quoteIdent(m.PK()))
	if _, err := a.exec(ctx, q, append(args, id)...); err != nil {
		return fmt.Errorf("admin: update %s %s: %w", m.Table, id, err)
	}
	if m.AfterSave != nil {
		m.AfterSave(ctx, id)
	}
	return nil
}

func (a *Admin) deleteRows(m admin.ModelAdmin, ids []string) error {
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
	q := fmt.Sprintf("DELETE FROM %s WHERE %s IN (%s)", quoteIdent(m.Table), quoteIdent(m.PK()),
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
func searchCondition(m admin.ModelAdmin, q string) (string, []any) {
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
