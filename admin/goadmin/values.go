package goadmin

import (
	"manouche/admin"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// How the forms spell dates and instants: what <input type="date"> and
// <input type="datetime-local" step="1"> take and send. Instants are in UTC.
const (
	formDate     = "2006-01-02"
	formDateTime = "2006-01-02T15:04:05"
	listDateTime = "2006-01-02 15:04:05 UTC"
)

// storedTimeLayouts are the spellings of a date or an instant a driver may hand back as text:
// database/sql's conversion of a time.Time, SQLite's text storage as bun and the drivers write it.
var storedTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	formDate,
}

// postedDateTimeLayouts are what a date-time input sends (Chromium drops ":00" seconds) and
// what a person may type into it.
var postedDateTimeLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	time.RFC3339Nano,
}

// text returns a raw column value (string, []byte) as a string.
func text(raw any) (string, bool) {
	switch v := raw.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// asTime returns a raw date or instant as a time.Time.
func asTime(raw any) (time.Time, bool) {
	if t, ok := raw.(time.Time); ok {
		return t, true
	}
	s, ok := text(raw)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range storedTimeLayouts {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// formatFloat spells a float the shortest way that reads back the same, in a form a
// number input accepts.
func formatFloat(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// formText returns a raw column value as the edit form shows it, and as a posted value is
// compared with it: the same function spells both sides, so a value posted back unchanged
// is recognised whatever the driver returned (time.Time or text, bool or 0/1, float64).
func (a *Admin) formText(f admin.Field, raw any) string {
	if raw == nil {
		return ""
	}
	switch f.Kind {
	case admin.KindBool:
		switch v := raw.(type) {
		case bool:
			return a.boolValue(v)
		case int64:
			return a.boolValue(v != 0)
		}
		s, _ := text(raw)
		return a.boolValue(truthy(s))
	case admin.KindInt:
		switch v := raw.(type) {
		case int64:
			return strconv.FormatInt(v, 10)
		case float64:
			return formatFloat(v)
		}
	case admin.KindFloat:
		switch v := raw.(type) {
		case float64:
			return formatFloat(v)
		case int64:
			return strconv.FormatInt(v, 10)
		}
		if s, ok := text(raw); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return formatFloat(v)
			}
		}
	case admin.KindDate:
		if t, ok := asTime(raw); ok {
			return t.Format(formDate)
		}
	case admin.KindDateTime:
		if t, ok := asTime(raw); ok {
			return t.UTC().Format(formDateTime)
		}
	case admin.KindUUID, admin.KindFK:
		switch v := raw.(type) {
		case [16]byte:
			return uuid.UUID(v).String()
		case []byte:
			if len(v) == 16 {
				return uuid.UUID(v).String()
			}
		}
	}
	if s, ok := text(raw); ok {
		return s
	}
	return fmt.Sprint(raw)
}

// listText returns a raw column value as lists and detail pages show it (not escaped).
func (a *Admin) listText(f admin.Field, raw any) string {
	if f.Kind == admin.KindBool && raw != nil {
		if truthy(a.formText(f, raw)) {
			return "yes"
		}
		return "no"
	}
	if f.Kind == admin.KindDateTime {
		if t, ok := asTime(raw); ok {
			return t.UTC().Format(listDateTime)
		}
	}
	return a.formText(f, raw)
}

// errRequired is the form error of an empty value in a column that takes no NULL.
var errRequired = errors.New("this field is required")

// parseValue turns a posted form value into the parameter written for the field: int64,
// float64, bool, time.Time (UTC), a canonical UUID, or the string; nil stores NULL. A value
// the column cannot hold is a form error naming the field, never a write.
func (a *Admin) parseValue(f admin.Field, v string) (any, error) {
	fail := func(err error) error { return fmt.Errorf("%s: %w", f.DisplayLabel(), err) }
	switch f.Kind {
	case admin.KindString, admin.KindText, admin.KindImage, admin.KindFile:
		if f.Kind == admin.KindText {
			// Browsers send a textarea's line breaks as CRLF.
			v = strings.ReplaceAll(v, "\r\n", "\n")
		}
		if v == "" && f.Null {
			return nil, nil
		}
		return v, nil
	case admin.KindPassword:
		h, err := f.Hash(v)
		if err != nil {
			return nil, fail(err)
		}
		return h, nil
	}
	v = strings.TrimSpace(v)
	if v == "" {
		if f.Null {
			return nil, nil
		}
		return nil, fail(errRequired)
	}
	switch f.Kind {
	case admin.KindBool:
		switch strings.ToLower(v) {
		case "1", "t", "true", "yes", "on":
			return true, nil
		case "0", "f", "false", "no", "off":
			return false, nil
		}
		return nil, fail(errors.New("choose yes or no"))
	case admin.KindInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fail(errors.New("enter a whole number"))
		}
		return n, nil
	case admin.KindFloat:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fail(errors.New("enter a number"))
		}
		return x, nil
	case admin.KindDate:
		t, err := time.Parse(formDate, v)
		if err != nil {
			return nil, fail(errors.New("enter a valid date (YYYY-MM-DD)"))
		}
		return t, nil
	case admin.KindDateTime:
		for _, layout := range postedDateTimeLayouts {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, fail(errors.New("enter a valid date and time (YYYY-MM-DD HH:MM:SS, UTC)"))
	case admin.KindUUID, admin.KindFK:
		id, err := uuid.Parse(v)
		if err != nil {
			return nil, fail(errors.New("enter a valid UUID"))
		}
		return id.String(), nil
	}
	return v, nil
}

// unchanged reports whether a posted value is the stored one as the form showed it, so the
// column is left as it is, byte for byte: a form saved without an edit writes nothing.
func (a *Admin) unchanged(f admin.Field, stored any, posted string, parsed any) bool {
	switch f.Kind {
	case admin.KindString, admin.KindText, admin.KindImage, admin.KindFile:
		s, ok := text(stored)
		if stored == nil {
			return posted == "" || parsed == nil
		}
		if !ok {
			s = fmt.Sprint(stored)
		}
		// A browser drops line breaks from a one-line input, sends a textarea's as CRLF and
		// drops a newline that opens it.
		norm := func(x string) string {
			x = strings.ReplaceAll(x, "\r\n", "\n")
			if f.Kind != admin.KindText {
				x = strings.NewReplacer("\n", "", "\r", "").Replace(x)
			}
			return x
		}
		return norm(s) == norm(posted) || (f.Kind == admin.KindText && norm(s) == "\n"+norm(posted))
	}
	return a.formText(f, stored) == a.formText(f, parsed)
}

// currentRow loads the stored values of the columns of one row, as the driver returns them.
func (a *Admin) currentRow(ctx context.Context, m admin.ModelAdmin, id string, cols []string) (map[string]any, error) {
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s = ?", quoteList(cols), quoteIdent(m.Table), quoteIdent(m.PK()))
	if err := a.queryRow(ctx, q, id).Scan(ptrs...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("no %s row %s: it may have been deleted", m.PageTitle(), id)
		}
		return nil, fmt.Errorf("admin: load %s %s: %w", m.Table, id, err)
	}
	row := make(map[string]any, len(cols))
	for i, c := range cols {
		row[c] = dest[i]
	}
	return row, nil
}
