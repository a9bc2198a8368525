package api_test

import (
	"testing"
	"time"

	"manouche/core/api"
)

// TestParseDateTime: every form the "Datetime has wrong format" message
// advertises is accepted (seconds, fraction and offset optional), as Django
// REST framework accepts them, and answered in UTC to the microsecond.
func TestParseDateTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 11, 26, 18, 5, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"2026-11-26T18:05:09.123456Z", want.Add(9*time.Second + 123456*time.Microsecond)},
		{"2026-11-26T18:05:09.1234567Z", want.Add(9*time.Second + 123456*time.Microsecond)},
		{"2026-11-26T18:05:09Z", want.Add(9 * time.Second)},
		{"2026-11-26T20:05:09.5+02:00", want.Add(9*time.Second + 500*time.Millisecond)},
		{"2026-11-26T18:05Z", want},
		{"2026-11-26T13:05-05:00", want},
		{"2026-11-26T18:05", want},
		{"2026-11-26T18:05:09", want.Add(9 * time.Second)},
		{"2026-11-26T18:05:09.25", want.Add(9*time.Second + 250*time.Millisecond)},
		{"2026-11-26 18:05:09Z", want.Add(9 * time.Second)},
		{"2026-11-26", time.Time{}},
		{"2026-11-26T18", time.Time{}},
		{"2026-11-26T25:05", time.Time{}},
		{"2026-13-26T18:05", time.Time{}},
		{"2026-11-26T18:05:09 Z", time.Time{}},
		{" 2026-11-26T18:05", time.Time{}},
		{"yesterday", time.Time{}},
		{"", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := api.ParseDateTime(tt.in)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) || ok && got.Location() != time.UTC {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}
