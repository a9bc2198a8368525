package migrations

import "github.com/uptrace/bun/dialect"

// GeneratedFile is one file of a generated migration.
type GeneratedFile struct {
	// Name is the file's name: <base>.<direction>.<dialect>.sql.
	Name string
	// Direction is "up" or "down".
	Direction string
	// Dialect is "postgres" or "sqlite".
	Dialect string
	// Bun is the dialect as bun names it.
	Bun dialect.Name
}

// generatedDialects are the dialects a generated migration has SQL for, by
// the name its files carry.
var generatedDialects = []struct {
	name string
	bun  dialect.Name
}{{"postgres", dialect.PG}, {"sqlite", dialect.SQLite}}

// Generated names the files of a generated migration whose base name is
// YYYYMMDDHHMMSS_name: an up and a down file for each dialect,
//
//	<base>.up.postgres.sql  <base>.down.postgres.sql
//	<base>.up.sqlite.sql    <base>.down.sqlite.sql
//
// This is the one convention of the generators: startapp's first migration
// and makemigrations' are these four files. (The runner also reads a plain
// <base>.up.sql or .down.sql for both dialects, as `makemigrations --empty`
// writes for SQL written by hand, and as older migrations may have.)
func Generated(base string) []GeneratedFile {
	var files []GeneratedFile
	for _, d := range generatedDialects {
		for _, dir := range []string{"up", "down"} {
			files = append(files, GeneratedFile{Name: base + "." + dir + "." + d.name + ".sql", Direction: dir, Dialect: d.name, Bun: d.bun})
		}
	}
	return files
}
