package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Kind is the kind of value a column holds: it picks how the admin lists, filters and edits it.
type Kind int

// The kinds a ModelAdmin field can declare.
const (
	KindString   Kind = iota // short text, one-line input
	KindText                 // long text, textarea
	KindBool                 // boolean, yes/no select (0/1 on SQLite, true/false on Postgres)
	KindInt                  // integer, number input
	KindDate                 // date, date picker (YYYY-MM-DD)
	KindDateTime             // timestamp, date-time input in UTC, to the second
	KindUUID                 // UUID, generated on create when it is the primary key
	KindFK                   // foreign key: shown by the related row's label (Field.Ref), edited with a select
	KindPassword             // password: the form hashes what is typed with Field.Hash, never shows the hash
	KindImage                // image path or URL, shown as a thumbnail; the stored name is kept unless changed
	KindFloat                // floating-point number, number input taking decimals
	KindFile                 // stored file name, shown as a link when Field.URL is set; kept unless changed
)

// lastKind is the highest Kind, for Validate.
const lastKind = KindFile

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindText:
		return "text"
	case KindBool:
		return "bool"
	case KindInt:
		return "int"
	case KindDate:
		return "date"
	case KindDateTime:
		return "datetime"
	case KindUUID:
		return "uuid"
	case KindFK:
		return "fk"
	case KindPassword:
		return "password"
	case KindImage:
		return "image"
	case KindFloat:
		return "float"
	case KindFile:
		return "file"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Field declares one column of a model.
type Field struct {
	// Name is the column name.
	Name string
	// Label is the column's human name; it defaults to Name with underscores turned into spaces.
	Label string
	// Kind says how the column is shown and edited.
	Kind Kind
	// Hash turns a typed password into the stored hash (KindPassword only, required there).
	// A blank password in an edit form keeps the stored hash.
	Hash func(password string) (string, error)
	// URL turns a stored file name into the URL it is shown from (KindImage, KindFile);
	// without it an image's stored value is used as the URL and a file's is shown as text.
	URL func(name string) string
	// Null says the column accepts NULL: an empty form value stores NULL. Otherwise an empty
	// value of a number, date, boolean, UUID or foreign key is refused as required (an empty
	// string or text stays the empty string).
	Null bool
	// Ref is the table a foreign key (KindFK) points to, by its "id" column. The admin shows
	// the related row by its label and offers the table's rows in a select; a value that
	// names no row is refused. Without Ref the key is shown and edited as it is stored.
	Ref string
	// RefLabel is the column of Ref that names a row; it defaults to the Label of the
	// ModelAdmin declared for Ref, or to its key.
	RefLabel string
}

// Action is a button on each row of a list page, e.g. "retry" or "discard" on a failed email.
type Action struct {
	// Name identifies the action in its URL (/admin/operation/<model>-<name>): letters, digits, _.
	Name string
	// Label is the button's text.
	Label string
	// Run performs the action on the row with the given primary key. Its error is shown to
	// the staff member; its success message is Label + " done".
	Run func(ctx context.Context, id string) error
}

// ModelAdmin declares the admin pages of one table, the way Django's ModelAdmin does:
// list columns, search fields, filters, ordering, form fields and read-only fields.
// The admin turns it into GoAdmin pages: list (paginated), detail, create, edit and delete.
type ModelAdmin struct {
	// Table is the database table.
	Table string
	// Name is the URL segment (/admin/info/<Name>); it defaults to Table.
	Name string
	// Title is shown on the pages and in the menu; it defaults to Table.
	Title string
	// Icon is a Font Awesome icon for the menu, e.g. "fa-users"; it defaults to "fa-table".
	Icon string
	// PrimaryKey is the primary key column; it defaults to "id".
	PrimaryKey string
	// Fields declares every column the other lists name.
	Fields []Field
	// List are the columns of the list page, in order (the primary key is always available).
	List []string
	// Search are the columns a search matches (case-insensitive substring, any of them).
	Search []string
	// Filters are the columns the list can be filtered on (exact match; bool columns get yes/no).
	Filters []string
	// Ordering is the default order of the list: a column, with a leading "-" for descending.
	Ordering string
	// Form are the columns of the create and edit forms, in order.
	Form []string
	// ReadOnly are form columns shown but never written (on create and on edit).
	ReadOnly []string
	// PageSize is the default number of rows per page; it defaults to 25.
	PageSize int
	// NoCreate hides the create page and refuses creates.
	NoCreate bool
	// NoDelete hides the delete button and refuses deletes.
	NoDelete bool
	// SuperuserOnly restricts the pages to superusers (staff who are not superusers get 403).
	SuperuserOnly bool
	// Permissions is the model whose permissions guard the pages, as "app.model"
	// ("blog.post"): staff who are not superusers see the list and detail pages
	// with app.view_model (or change_), the create page and its post with add_,
	// the edit page, its post and the row actions with change_, the delete with
	// delete_; the rest is absent from the menu and the page, and refused
	// (403) when requested. Empty: every staff member may use the pages. The
	// admin app fills it in from the app that lists the table's model.
	Permissions string
	// Actions are buttons on each row of the list.
	Actions []Action
	// Label is the column that names a row where a foreign key points to it, like a Django
	// model's __str__; it defaults to the first string field of List, or the primary key.
	Label string
	// AfterSave, when set, runs after a row is created, changed or deleted, with its
	// primary key (empty for a created row whose key the database chose); apps use it
	// to drop cached copies of the row.
	AfterSave func(ctx context.Context, id string)
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// URLName returns the URL segment of the model: Name, or Table when Name is empty.
func (m ModelAdmin) URLName() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Table
}

// PageTitle returns the title of the model's pages: Title, or Table when Title is empty.
func (m ModelAdmin) PageTitle() string {
	if m.Title != "" {
		return m.Title
	}
	return m.Table
}

// PK returns the primary key column: PrimaryKey, or "id" when it is empty.
func (m ModelAdmin) PK() string {
	if m.PrimaryKey != "" {
		return m.PrimaryKey
	}
	return "id"
}

// RowsPerPage returns the default number of rows per page: PageSize, or 25.
func (m ModelAdmin) RowsPerPage() int {
	if m.PageSize > 0 {
		return m.PageSize
	}
	return 25
}

// The actions of the model permissions the admin checks (see Permissions).
const (
	ActionView   = "view"
	ActionAdd    = "add"
	ActionChange = "change"
	ActionDelete = "delete"
)

// Perm is the permission of an action on the model ("blog.change_post"), or
// "" when the pages have no Permissions.
func (m ModelAdmin) Perm(action string) string {
	app, model, ok := strings.Cut(m.Permissions, ".")
	if !ok {
		return ""
	}
	return app + "." + action + "_" + model
}

// OperationID is the id of an action's GoAdmin operation, the last segment of its URL.
func (m ModelAdmin) OperationID(act Action) string { return m.URLName() + "-" + act.Name }

// Action returns the action whose operation id is id.
func (m ModelAdmin) Action(id string) (Action, bool) {
	for _, act := range m.Actions {
		if strings.EqualFold(m.OperationID(act), id) {
			return act, true
		}
	}
	return Action{}, false
}

// Field returns the declaration of a column.
func (m ModelAdmin) Field(name string) (Field, bool) {
	for _, f := range m.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// RowLabel returns the column that names a row of the model (see Label).
func (m ModelAdmin) RowLabel() string {
	if m.Label != "" {
		return m.Label
	}
	for _, c := range m.List {
		if f, ok := m.Field(c); ok && f.Kind == KindString {
			return c
		}
	}
	return m.PK()
}

// DisplayLabel returns the column's human name: Label, or Name with underscores as spaces.
func (f Field) DisplayLabel() string {
	if f.Label != "" {
		return f.Label
	}
	return strings.ReplaceAll(f.Name, "_", " ")
}

// DefaultOrder returns the default sort column and whether it is descending.
func (m ModelAdmin) DefaultOrder() (string, bool) {
	if m.Ordering == "" {
		return m.PK(), true
	}
	if strings.HasPrefix(m.Ordering, "-") {
		return m.Ordering[1:], true
	}
	return m.Ordering, false
}

// Columns returns every column the model declares, primary key included.
func (m ModelAdmin) Columns() []string {
	cols := []string{m.PK()}
	for _, f := range m.Fields {
		if !slices.Contains(cols, f.Name) {
			cols = append(cols, f.Name)
		}
	}
	return cols
}

// Sortable returns the columns the list may be sorted on: the list columns and the primary key.
func (m ModelAdmin) Sortable() []string {
	cols := []string{m.PK()}
	for _, c := range m.List {
		f, _ := m.Field(c)
		if f.Kind == KindPassword {
			continue
		}
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

// Writable returns the form columns that a create or an edit may write.
func (m ModelAdmin) Writable() []string {
	var cols []string
	for _, c := range m.Form {
		if !slices.Contains(m.ReadOnly, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

// Validate reports every mistake in the declaration at once: unknown columns, bad names,
// a password field without a hash function, a sort on an undeclared column.
func (m ModelAdmin) Validate() error {
	var errs []error
	if !identRe.MatchString(m.Table) {
		errs = append(errs, fmt.Errorf("table %q is not a plain SQL identifier", m.Table))
	}
	if !identRe.MatchString(m.URLName()) {
		errs = append(errs, fmt.Errorf("name %q is not a plain identifier", m.URLName()))
	}
	if m.URLName() == "op" {
		errs = append(errs, errors.New(`name "op" is taken by the operation log`))
	}
	if !identRe.MatchString(m.PK()) {
		errs = append(errs, fmt.Errorf("primary key %q is not a plain SQL identifier", m.PK()))
	}
	seen := map[string]bool{}
	for _, f := range m.Fields {
		if !identRe.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("field %q is not a plain SQL identifier", f.Name))
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("field %q declared twice", f.Name))
		}
		seen[f.Name] = true
		if f.Kind < KindString || f.Kind > lastKind {
			errs = append(errs, fmt.Errorf("field %q has unknown kind %d", f.Name, int(f.Kind)))
		}
		if f.Kind == KindPassword && f.Hash == nil {
			errs = append(errs, fmt.Errorf("password field %q needs a Hash function", f.Name))
		}
		if f.Ref != "" && (f.Kind != KindFK || !identRe.MatchString(f.Ref)) {
			errs = append(errs, fmt.Errorf("field %q: Ref %q needs a foreign key field and a plain SQL identifier", f.Name, f.Ref))
		}
		if f.RefLabel != "" && (f.Ref == "" || !identRe.MatchString(f.RefLabel)) {
			errs = append(errs, fmt.Errorf("field %q: RefLabel %q needs a Ref and a plain SQL identifier", f.Name, f.RefLabel))
		}
	}
	check := func(list string, cols []string) {
		for _, c := range cols {
			if c == m.PK() {
				continue
			}
			if _, ok := m.Field(c); !ok {
				errs = append(errs, fmt.Errorf("field %s names %q, which is not in Fields", list, c))
			}
		}
	}
	check("List", m.List)
	check("Search", m.Search)
	check("Filters", m.Filters)
	check("Form", m.Form)
	check("ReadOnly", m.ReadOnly)
	if m.Label != "" {
		check("Label", []string{m.Label})
	}
	if col, _ := m.DefaultOrder(); col != m.PK() {
		if _, ok := m.Field(col); !ok {
			errs = append(errs, fmt.Errorf("field Ordering names %q, which is not in Fields", col))
		}
	}
	for _, c := range m.List {
		if f, ok := m.Field(c); ok && f.Kind == KindPassword {
			errs = append(errs, fmt.Errorf("field List names password field %q", c))
		}
	}
	for _, c := range m.Search {
		if f, ok := m.Field(c); ok && f.Kind == KindPassword {
			errs = append(errs, fmt.Errorf("field Search names password field %q", c))
		}
	}
	if len(m.List) == 0 {
		errs = append(errs, errors.New("field List is empty"))
	}
	actions := map[string]bool{}
	for _, act := range m.Actions {
		if !identRe.MatchString(act.Name) {
			errs = append(errs, fmt.Errorf("action name %q is not a plain identifier", act.Name))
		}
		if actions[act.Name] {
			errs = append(errs, fmt.Errorf("action %q declared twice", act.Name))
		}
		actions[act.Name] = true
		if act.Run == nil {
			errs = append(errs, fmt.Errorf("action %q has no Run function", act.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("admin: model %q: %w", m.Table, err)
	}
	return nil
}
