package api

import (
	"strings"
	"time"
)

// dateTimeLayouts are the ISO 8601 forms Django REST framework's DateTimeField
// accepts: seconds and their fraction optional (Go accepts a fraction after
// the seconds of any layout), the offset optional (a naive time is UTC, the
// server's time zone), T or a space between the date and the time.
var dateTimeLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
}

// ParseDateTime reads a datetime sent by a client in any form Django REST
// framework's "Datetime has wrong format" message advertises,
// YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z], and answers it in UTC,
// truncated to the microsecond (what the API answers and the databases keep).
func ParseDateTime(s string) (time.Time, bool) {
	if len(s) > len("2006-01-02T") && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	if strings.ContainsAny(s, " \t\n") {
		return time.Time{}, false
	}
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), true
		}
	}
	return time.Time{}, false
}
