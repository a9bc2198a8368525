package migrations

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidName reports whether name can name a migration: lower-case letters,
// digits and underscores, starting with a letter.
func ValidName(name string) bool { return nameRe.MatchString(name) }

// MakeEmpty writes a new, empty up/down pair named NAME into dir, timestamped
// with now (UTC), and returns the two paths. It never overwrites a file.
func MakeEmpty(dir, name string, now time.Time) (up, down string, err error) {
	return Write(dir, name, now, "-- Write the forward migration here.\n", "-- Write the statements that undo the .up.sql file here.\n")
}

// Write writes an up/down pair with the given SQL into dir; it never
// overwrites a file, and writes neither when either exists.
func Write(dir, name string, now time.Time, upSQL, downSQL string) (up, down string, err error) {
	if !nameRe.MatchString(name) {
		return "", "", fmt.Errorf("makemigrations: %q is not a migration name: use lower-case letters, digits and underscores, starting with a letter", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("makemigrations: %w", err)
	}
	base := filepath.Join(dir, now.UTC().Format("20060102150405")+"_"+name)
	up, down = base+".up.sql", base+".down.sql"
	for _, p := range []string{up, down} {
		if _, err := os.Stat(p); err == nil {
			return "", "", fmt.Errorf("makemigrations: %s already exists", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("makemigrations: %w", err)
		}
	}
	if err := os.WriteFile(up, []byte(upSQL), 0o644); err != nil {
		return "", "", fmt.Errorf("makemigrations: %w", err)
	}
	if err := os.WriteFile(down, []byte(downSQL), 0o644); err != nil {
		_ = os.Remove(up)
		return "", "", fmt.Errorf("makemigrations: %w", err)
	}
	return up, down, nil
}
