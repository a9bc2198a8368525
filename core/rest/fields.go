package rest

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"manouche/core/api"
)

// Changes collects the columns an input sets and the errors it finds, field
// by field, so one answer names every bad field.
type Changes struct {
	// Cols are the columns set, in the order they were set.
	Cols []string
	// Errs are the field errors found.
	Errs []api.FieldError
}

// Set records that a column was set.
func (ch *Changes) Set(column string) { ch.Cols = append(ch.Cols, column) }

// Fail records an error on a field.
func (ch *Changes) Fail(field, msg string) { ch.Errs = append(ch.Errs, api.FieldErr(field, msg)) }

// Err is the ValidationError naming every failed field, or nil.
func (ch *Changes) Err() error {
	if len(ch.Errs) == 0 {
		return nil
	}
	return api.Validation(ch.Errs...)
}

// SetText copies a string field when sent (v != nil); it may not be blank nor
// hold NUL characters, which Postgres cannot store.
func SetText(ch *Changes, field string, v, dst *string) bool {
	if v == nil {
		return false
	}
	switch {
	case strings.TrimSpace(*v) == "":
		ch.Fail(field, MsgBlank)
		return false
	case strings.ContainsRune(*v, 0):
		ch.Fail(field, MsgNullCharacter)
		return false
	}
	*dst = *v
	ch.Set(field)
	return true
}

// SetValue copies a number or boolean field when sent.
func SetValue[T any](ch *Changes, field string, v, dst *T) bool {
	if v == nil {
		return false
	}
	*dst = *v
	ch.Set(field)
	return true
}

// SetDate copies a YYYY-MM-DD field when sent.
func SetDate(ch *Changes, field string, v *string, dst *time.Time) bool {
	if v == nil {
		return false
	}
	d, err := time.Parse(time.DateOnly, *v)
	if err != nil {
		ch.Fail(field, MsgDateFormat)
		return false
	}
	*dst = d
	ch.Set(field)
	return true
}

// SetDateTime copies an RFC 3339 field when sent, kept in UTC to the microsecond.
func SetDateTime(ch *Changes, field string, v *string, dst *time.Time) bool {
	if v == nil {
		return false
	}
	t, ok := api.ParseDateTime(*v)
	if !ok {
		ch.Fail(field, MsgDateTimeFormat)
		return false
	}
	*dst = t
	ch.Set(field)
	return true
}

// SetUUID copies a UUID field (column may differ from the field's API name, as
// a foreign key's does) and reports whether it was sent and valid.
func SetUUID(ch *Changes, field, column string, v *string, dst *uuid.UUID) bool {
	if v == nil {
		return false
	}
	id, err := uuid.Parse(*v)
	if err != nil {
		ch.Fail(field, MsgInvalidUUID)
		return false
	}
	*dst = id
	ch.Set(column)
	return true
}

// LikeEscaper escapes LIKE's wildcards, so a search for "50%" means the text
// "50%"; the pattern needs ESCAPE '\'.
var LikeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Now is the time a row is created or changed: UTC, to the microsecond both
// dialects keep.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
