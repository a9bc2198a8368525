package goadmin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"manouche/admin"
	"manouche/admin/goadmin"
	"manouche/core/models"
	"manouche/core/scaffold"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"golang.org/x/net/html"
)

// kindFields are the fields of the "kinds" table: one of every type startapp offers, declared
// as startapp declares them, so the table's columns are exactly what a generated app has.
func kindFields() []*scaffold.Field {
	var fields []*scaffold.Field
	for _, k := range scaffold.KindNames() {
		f := &scaffold.Field{Name: "f_" + k, Kind: scaffold.Kind(k)}
		switch f.Kind {
		case scaffold.String:
			f.Max = 120
		case scaffold.FK:
			f.Name = "author"
			f.Ref = &scaffold.Ref{App: "users", Model: "User", Table: "users"}
		}
		fields = append(fields, f)
	}
	return fields
}

// kindsDDL is the CREATE TABLE startapp's migration would write for kindFields.
func kindsDDL(d goadmin.Dialect) string {
	dialect := "sqlite"
	pk, ts := "id TEXT PRIMARY KEY", "TIMESTAMP"
	if d == goadmin.Postgres {
		dialect, pk, ts = "postgres", "id UUID PRIMARY KEY", "TIMESTAMPTZ"
	}
	cols := []string{pk, "created_at " + ts + " NOT NULL DEFAULT CURRENT_TIMESTAMP", "updated_at " + ts + " NOT NULL DEFAULT CURRENT_TIMESTAMP"}
	for _, f := range kindFields() {
		cols = append(cols, f.SQLColumn(dialect))
	}
	// Columns that take NULL, as a hand-written model may have.
	cols = append(cols, "opt_float DOUBLE PRECISION", "opt_date DATE", "opt_bool BOOLEAN")
	return "CREATE TABLE kinds (\n\t" + strings.Join(cols, ",\n\t") + "\n)"
}

// kindsUser is the users table a kinds row's author points to.
type kindsUser struct {
	bun.BaseModel `bun:"table:users,alias:u"`
	ID            uuid.UUID `bun:"id,pk,type:uuid"`
}

// kindsRow is the bun model of the kinds table, as startapp writes one for
// kindFields, plus nullable columns a hand-written model may have.
type kindsRow struct {
	bun.BaseModel `bun:"table:kinds,alias:k"`

	ID        uuid.UUID    `bun:"id,pk,type:uuid"`
	CreatedAt time.Time    `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time    `bun:"updated_at,notnull,default:current_timestamp"`
	FString   string       `bun:"f_string,type:varchar(120),notnull,default:''"`
	FText     string       `bun:"f_text,type:text,notnull,default:''"`
	FInt      int64        `bun:"f_int,notnull,default:0"`
	FFloat    float64      `bun:"f_float,notnull,default:0"`
	FBool     bool         `bun:"f_bool,notnull,default:false"`
	FDate     time.Time    `bun:"f_date,type:date,notnull"`
	FDatetime time.Time    `bun:"f_datetime,notnull"`
	FUUID     uuid.UUID    `bun:"f_uuid,type:uuid,notnull"`
	AuthorID  uuid.UUID    `bun:"author_id,type:uuid,notnull"`
	Author    *kindsUser   `bun:"rel:belongs-to,join:author_id=id,on_delete:CASCADE"`
	FImage    models.Image `bun:"f_image,type:varchar(255),notnull,default:''"`
	FFile     models.File  `bun:"f_file,type:varchar(255),notnull,default:''"`
	OptFloat  *float64     `bun:"opt_float"`
	OptDate   *time.Time   `bun:"opt_date,type:date"`
	OptBool   *bool        `bun:"opt_bool"`
}

// kindsAdmin is the page admin.FromModel derives for the kinds table, as a
// generated app's is: every field in the form, files and timestamps read-only.
// The round-trip tests on it are what make derived pages safe to save.
func kindsAdmin() admin.ModelAdmin {
	return admin.MustFromModel((*kindsRow)(nil), admin.Options{
		Title: "Kinds",
		// Every column that reads well in a row, so the list tests see each kind.
		List: []string{"f_string", "f_int", "f_float", "f_bool", "f_date", "f_datetime", "f_uuid", "author_id", "created_at"},
		// The guard keeps filter parameters of declared columns only.
		Filters: []string{"author_id"},
	})
}

// bunDB is the database as the apps' models and API see it.
func (s *site) bunDB() *bun.DB {
	if s.dialect == goadmin.Postgres {
		return bun.NewDB(s.db, pgdialect.New())
	}
	return bun.NewDB(s.db, sqlitedialect.New())
}

// addKind inserts a row of the kinds table through bun, as the generated API writes one
// (bun spells the values: times, booleans, floats), and returns its id.
func (s *site) addKind(t testing.TB, values map[string]any) string {
	t.Helper()
	id := uuid.NewString()
	row := map[string]any{"id": id, "created_at": time.Now().UTC(), "updated_at": time.Now().UTC()}
	for k, v := range values {
		row[k] = v
	}
	if _, err := s.bunDB().NewInsert().Model(&row).TableExpr("kinds").Exec(context.Background()); err != nil {
		t.Fatalf("insert kinds row: %v", err)
	}
	return id
}

// rawRow returns every column of a row as the database stores it, byte for byte: SQLite's
// quote() (which also tells text from integer from real), Postgres's text output.
func (s *site) rawRow(t testing.TB, table, id string) map[string]string {
	t.Helper()
	rows, err := s.db.Query(s.rebind("SELECT * FROM "+table+" WHERE id = ?"), id)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	_ = rows.Close()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = "quote(" + c + ")"
		if s.dialect == goadmin.Postgres {
			exprs[i] = "coalesce(" + c + "::text, 'NULL')"
		}
	}
	vals := make([]string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := s.db.QueryRow(s.rebind("SELECT "+strings.Join(exprs, ", ")+" FROM "+table+" WHERE id = ?"), id).Scan(ptrs...); err != nil {
		t.Fatalf("read %s %s: %v", table, id, err)
	}
	out := map[string]string{}
	for i, c := range cols {
		out[c] = vals[i]
	}
	return out
}

// formValues returns what a browser submits for the edit form of a page: every named input
// (hidden ones included; checkboxes and radios only when checked; no file inputs), every
// select's selected option (its first when none is), every textarea's text as parsed.
func formValues(t testing.TB, page string) (action string, values url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if form != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" {
			if a, _ := attr(n, "action"); strings.Contains(a, "/edit/") || strings.Contains(a, "/new/") {
				form = n
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		t.Fatalf("no edit form in the page:\n%s", page)
	}
	action, _ = attr(form, "action")
	values = url.Values{}
	var textOf func(*html.Node) string
	textOf = func(n *html.Node) string {
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			} else {
				b.WriteString(textOf(c))
			}
		}
		return b.String()
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name, named := attr(n, "name")
			_, disabled := attr(n, "disabled")
			if named && !disabled {
				switch n.Data {
				case "input":
					typ, _ := attr(n, "type")
					v, _ := attr(n, "value")
					_, checked := attr(n, "checked")
					switch strings.ToLower(typ) {
					case "submit", "button", "file", "image", "reset":
					case "checkbox", "radio":
						if checked {
							if v == "" {
								v = "on"
							}
							values.Add(name, v)
						}
					default:
						values.Add(name, strings.NewReplacer("\r", "", "\n", "").Replace(v))
					}
				case "textarea":
					values.Add(name, strings.ReplaceAll(strings.ReplaceAll(textOf(n), "\r\n", "\n"), "\n", "\r\n"))
				case "select":
					first, chosen := "", ""
					found, picked := false, false
					var opts func(*html.Node)
					opts = func(o *html.Node) {
						for c := o.FirstChild; c != nil; c = c.NextSibling {
							if c.Type == html.ElementNode && c.Data == "option" {
								v, ok := attr(c, "value")
								if !ok {
									v = textOf(c)
								}
								if !found {
									first, found = v, true
								}
								if _, sel := attr(c, "selected"); sel && !picked {
									chosen, picked = v, true
								}
							} else {
								opts(c)
							}
						}
					}
					opts(n)
					if picked {
						values.Add(name, chosen)
					} else if found {
						values.Add(name, first)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return action, values
}

// saveForm opens a row's edit form and posts it back, as a browser would (with the CSRF
// token the admin's script adds), after edit changes what it wants. It returns the answer.
func saveForm(t *testing.T, c *client, base, model, id string, edit func(url.Values)) (int, string) {
	t.Helper()
	editURL := "/admin/info/" + model + "/edit?__goadmin_edit_pk=" + url.QueryEscape(id)
	code, _, page := c.get(editURL)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", editURL, code, page)
	}
	action, values := formValues(t, page)
	if edit != nil {
		edit(values)
	}
	values.Set("csrf_token", c.cookie("manouche_admin_csrf"))
	code, _, body := c.do(http.MethodPost, action, values, map[string]string{"Referer": base + editURL})
	return code, body
}

// saved reports whether an edit answer is the list (success) rather than the form with an alert.
func saved(code int, body string) bool {
	return (code == http.StatusOK || code == http.StatusFound) && !strings.Contains(body, `class="alert alert-warning`)
}

var alertRe = regexp.MustCompile(`(?s)class="alert alert-warning[^>]*>(.*?)</div>`)

// kindsRows are rows the generated API could have written: awkward text, floats that %f
// would round, negative numbers, instants with microseconds and an offset.
func kindsRows(userID string) []map[string]any {
	return []map[string]any{
		{"f_string": `Quotes ' and " & <b>bold</b> &amp;`, "f_text": "line one\nline <two> & three\n\n  indented", "f_int": int64(42),
			"f_float": 4.5, "f_bool": true, "f_date": time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
			"f_datetime": time.Date(2026, 11, 26, 18, 5, 9, 123456000, time.FixedZone("", 2*3600)),
			"f_uuid":     "7c9e6679-7425-40de-944b-e07fc1f90ae7", "author_id": userID, "f_image": "blog/photo.png", "f_file": "blog/notes.pdf",
			"opt_float": 1e21, "opt_date": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "opt_bool": false},
		{"f_string": "", "f_text": "\nstarts with a newline", "f_int": int64(-9007199254740993), "f_float": 0.1 + 0.2, "f_bool": false,
			"f_date": time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), "f_datetime": time.Date(2027, 1, 2, 3, 4, 0, 0, time.UTC),
			"f_uuid": "0b1c9e0a-3f51-4d8e-9a55-0a5b3c2d1e4f", "author_id": userID, "f_image": "", "f_file": ""},
		{"f_string": "tiny", "f_text": "x", "f_int": int64(0), "f_float": -1.25e-7, "f_bool": true,
			"f_date": time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), "f_datetime": time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC),
			"f_uuid": uuid.NewString(), "author_id": userID, "f_image": "a b.jpg", "f_file": "x&y.txt"},
	}
}

// testFieldKinds: a row of every field type survives the admin's edit form unchanged, an
// edit writes values the API can read, invalid values are form errors, lists show values
// and related rows by label. Part of TestAdminSite (one admin per process).
func testFieldKinds(t *testing.T, s *site, userID string) {
	c := newClient(t, s.base)
	if code, body := c.login("root@example.com", "correct horse battery"); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	var ids []string
	for _, row := range kindsRows(userID) {
		ids = append(ids, s.addKind(t, row))
	}

	t.Run("saving an untouched form changes no byte", func(t *testing.T) {
		for _, id := range ids {
			before := s.rawRow(t, "kinds", id)
			if code, body := saveForm(t, c, s.base, "kinds", id, nil); !saved(code, body) {
				t.Fatalf("save %s: %d %s", id, code, alertRe.FindString(body))
			}
			after := s.rawRow(t, "kinds", id)
			for col, v := range before {
				if after[col] != v {
					t.Errorf("row %s column %s: %s before, %s after an unchanged save", id, col, v, after[col])
				}
			}
		}
	})

	t.Run("the users table too", func(t *testing.T) {
		id := s.addUser(t, "roundtrip@example.com", "roundtrip pass 1", true, true, false, `A "quoted" <name>`, "O'Hara & Co")
		s.exec(t, "UPDATE users SET last_login = ? WHERE id = ?", time.Date(2026, 11, 30, 8, 9, 10, 654321000, time.UTC), id)
		before := s.rawRow(t, "users", id)
		if code, body := saveForm(t, c, s.base, "users", id, nil); !saved(code, body) {
			t.Fatalf("save: %d %s", code, alertRe.FindString(body))
		}
		after := s.rawRow(t, "users", id)
		for col, v := range before {
			if after[col] != v {
				t.Errorf("users column %s: %s before, %s after an unchanged save", col, v, after[col])
			}
		}
	})

	t.Run("changing the title changes only the title", func(t *testing.T) {
		before := s.rawRow(t, "kinds", ids[0])
		code, body := saveForm(t, c, s.base, "kinds", ids[0], func(v url.Values) { v.Set("f_string", "New title") })
		if !saved(code, body) {
			t.Fatalf("save: %d %s", code, alertRe.FindString(body))
		}
		after := s.rawRow(t, "kinds", ids[0])
		for col, v := range before {
			if col != "f_string" && after[col] != v {
				t.Errorf("column %s: %s before, %s after changing only the title", col, v, after[col])
			}
		}
		if !strings.Contains(after["f_string"], "New title") {
			t.Errorf("title after the save: %s", after["f_string"])
		}
	})

	t.Run("edited values are stored as the API reads them", func(t *testing.T) {
		other := s.addUser(t, "other-author@example.com", "other author 1", true, false, false, "O", "A")
		code, body := saveForm(t, c, s.base, "kinds", ids[1], func(v url.Values) {
			v.Set("f_int", "-7")
			v.Set("f_float", "0.25")
			v.Set("f_bool", s.boolParam(true))
			v.Set("f_date", "2030-01-31")
			v.Set("f_datetime", "2030-01-31T23:59")
			v.Set("f_uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")
			v.Set("author_id", other)
			v.Set("f_text", "two\r\nlines")
		})
		if !saved(code, body) {
			t.Fatalf("save: %d %s", code, alertRe.FindString(body))
		}
		var k struct {
			bun.BaseModel `bun:"table:kinds"`
			ID            string    `bun:"id,pk"`
			Int           int64     `bun:"f_int"`
			Float         float64   `bun:"f_float"`
			Bool          bool      `bun:"f_bool"`
			Date          time.Time `bun:"f_date"`
			DateTime      time.Time `bun:"f_datetime"`
			UUID          uuid.UUID `bun:"f_uuid"`
			Author        uuid.UUID `bun:"author_id"`
			Text          string    `bun:"f_text"`
		}
		if err := s.bunDB().NewSelect().Model(&k).Where("id = ?", ids[1]).Scan(context.Background()); err != nil {
			t.Fatalf("the API's model cannot read the edited row: %v", err)
		}
		if k.Int != -7 || k.Float != 0.25 || !k.Bool || k.Date.Format("2006-01-02") != "2030-01-31" ||
			!k.DateTime.Equal(time.Date(2030, 1, 31, 23, 59, 0, 0, time.UTC)) || k.UUID.String() != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" ||
			k.Author.String() != other || k.Text != "two\nlines" {
			t.Errorf("edited row as the model reads it: %+v", k)
		}
	})

	t.Run("an empty optional value stores NULL, never an empty string", func(t *testing.T) {
		code, body := saveForm(t, c, s.base, "kinds", ids[0], func(v url.Values) {
			if v.Get("opt_float") != "1e+21" || v.Get("opt_date") != "2026-01-02" || v.Get("opt_bool") != s.boolParam(false) {
				t.Errorf("the form shows the optional values as %q %q %q", v.Get("opt_float"), v.Get("opt_date"), v.Get("opt_bool"))
			}
			v.Set("opt_float", "")
			v.Set("opt_date", "")
			v.Set("opt_bool", "")
		})
		if !saved(code, body) {
			t.Fatalf("save: %d %s", code, alertRe.FindString(body))
		}
		row := s.rawRow(t, "kinds", ids[0])
		for _, col := range []string{"opt_float", "opt_date", "opt_bool"} {
			if row[col] != "NULL" {
				t.Errorf("%s after clearing it: %s, want NULL", col, row[col])
			}
		}
		// And a NULL posted back as the form shows it stays NULL (checked byte for byte above
		// for the rows that were inserted with NULLs).
		_, values := formValues(t, func() string { _, _, p := c.get("/admin/info/kinds/edit?__goadmin_edit_pk=" + ids[0]); return p }())
		if values.Get("opt_bool") != "" || values.Get("opt_float") != "" {
			t.Errorf("a NULL is shown as %q %q", values.Get("opt_bool"), values.Get("opt_float"))
		}
	})

	t.Run("invalid values are form errors and write nothing", func(t *testing.T) {
		cases := []struct{ field, value, want string }{
			{"f_int", "1.5", "whole number"},
			{"f_int", "ten", "whole number"},
			{"f_int", "", "required"},
			{"f_float", "abc", "enter a number"},
			{"f_float", "", "required"},
			{"f_float", "NaN", "enter a number"},
			{"f_date", "2026-13-01", "valid date"},
			{"f_date", "26/11/2026", "valid date"},
			{"f_datetime", "yesterday", "valid date and time"},
			{"f_uuid", "not-a-uuid", "valid UUID"},
			{"author_id", uuid.NewString(), "no users row"},
			{"author_id", "x", "valid UUID"},
			{"author_id", "", "required"},
			{"f_bool", "maybe", "yes or no"},
		}
		for _, tc := range cases {
			t.Run(tc.field+"="+tc.value, func(t *testing.T) {
				before := s.rawRow(t, "kinds", ids[2])
				code, body := saveForm(t, c, s.base, "kinds", ids[2], func(v url.Values) {
					v.Set("f_string", "must not be saved")
					v.Set(tc.field, tc.value)
				})
				if saved(code, body) {
					t.Fatalf("%s=%q was accepted: %d", tc.field, tc.value, code)
				}
				if alert := alertRe.FindString(body); !strings.Contains(alert, tc.want) {
					t.Errorf("%s=%q: the form says %q, want it to say %q", tc.field, tc.value, alert, tc.want)
				}
				after := s.rawRow(t, "kinds", ids[2])
				for col, v := range before {
					if after[col] != v {
						t.Errorf("column %s changed from %s to %s by a refused save", col, v, after[col])
					}
				}
			})
		}
	})

	t.Run("lists and forms show values, and related rows by label", func(t *testing.T) {
		code, _, list := c.get("/admin/info/kinds")
		if code != http.StatusOK {
			t.Fatalf("list: %d", code)
		}
		for _, want := range []string{">4.5<", ">0.25<", ">-1.25e-07<", ">2026-11-26<", ">2000-02-29<", "2026-11-26 16:05:09 UTC", "other-author@example.com", "Root@Example.com"} {
			if !strings.Contains(list, want) {
				t.Errorf("the list does not show %q", want)
			}
		}
		if strings.Contains(list, ">"+userID+"<") || strings.Contains(list, "T00:00:00Z") {
			t.Error("the list shows a raw foreign key or an RFC 3339 date")
		}
		code, _, detail := c.get("/admin/info/kinds/detail?__goadmin_detail_pk=" + ids[2])
		for _, want := range []string{"-1.25e-07", "2000-02-29", "1970-01-01 00:00:00 UTC", "a b.jpg", "x&amp;y.txt", "Root@Example.com"} {
			if code != http.StatusOK || !strings.Contains(detail, want) {
				t.Errorf("the detail page (%d) does not show %q", code, want)
			}
		}
		_, _, page := c.get("/admin/info/kinds/edit?__goadmin_edit_pk=" + ids[0])
		for _, want := range []string{`type="number" step="1" name="f_int" value="42"`, `type="number" step="any" name="f_float" value="4.5"`,
			`type="date" name="f_date" value="2026-11-26"`, `type="datetime-local" step="1" name="f_datetime" value="2026-11-26T16:05:09"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the edit form lacks %s", want)
			}
		}
		_, values := formValues(t, page)
		if values.Get("author_id") != userID || !strings.Contains(page, ">Root@Example.com</option>") {
			t.Errorf("the author select: selected %q, options labelled by email: %v", values.Get("author_id"), strings.Contains(page, ">Root@Example.com</option>"))
		}
		code, _, filtered := c.get("/admin/info/kinds?author_id=" + url.QueryEscape(userID))
		if code != http.StatusOK || !strings.Contains(filtered, ">tiny<") || strings.Contains(filtered, ">0.25<") {
			t.Errorf("filter on the author: %d", code)
		}
	})

	t.Run("create", func(t *testing.T) {
		code, _, page := c.get("/admin/info/kinds/new")
		if code != http.StatusOK {
			t.Fatalf("create form: %d", code)
		}
		for _, want := range []string{`type="number" step="any" name="f_float" value=""`, `type="date" name="f_date" value=""`, `name="author_id"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the create form lacks %s", want)
			}
		}
		action, values := formValues(t, page)
		for k, v := range map[string]string{"f_string": "created", "f_text": "body", "f_int": "3", "f_float": "2.75", "f_bool": s.boolParam(false),
			"f_date": "2026-12-01", "f_datetime": "2026-12-01T10:11:12", "f_uuid": uuid.NewString(), "author_id": userID} {
			values.Set(k, v)
		}
		values.Set("csrf_token", c.cookie("manouche_admin_csrf"))
		code, _, body := c.do(http.MethodPost, action, values, map[string]string{"Referer": s.base + "/admin/info/kinds/new"})
		if !saved(code, body) {
			t.Fatalf("create: %d %s", code, alertRe.FindString(body))
		}
		var f float64
		var d time.Time
		if err := s.db.QueryRow("SELECT f_float, f_date FROM kinds WHERE f_string = 'created'").Scan(&f, &d); err != nil || f != 2.75 || d.Format("2006-01-02") != "2026-12-01" {
			t.Errorf("created row: %v %v %v", f, d, err)
		}
	})
}
