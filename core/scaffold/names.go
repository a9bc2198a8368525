package scaffold

import (
	"fmt"
	"go/token"
	"regexp"
	"strings"
	"unicode"
)

var (
	appNameRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	modelNameRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	fieldNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Length limits keep every generated SQL identifier (table, index) within
// Postgres' 63 bytes.
const (
	maxAppName   = 24
	maxModelName = 24
	maxFieldName = 40
)

// predeclared are Go's predeclared identifiers: legal package names, but an
// app named "string" or "len" would read as nonsense.
var predeclared = map[string]bool{
	"any": true, "bool": true, "byte": true, "comparable": true, "complex64": true, "complex128": true,
	"error": true, "float32": true, "float64": true, "int": true, "int8": true, "int16": true,
	"int32": true, "int64": true, "rune": true, "string": true, "uint": true, "uint8": true,
	"uint16": true, "uint32": true, "uint64": true, "uintptr": true, "true": true, "false": true,
	"iota": true, "nil": true, "append": true, "cap": true, "clear": true, "close": true,
	"complex": true, "copy": true, "delete": true, "imag": true, "len": true, "make": true,
	"max": true, "min": true, "new": true, "panic": true, "print": true, "println": true,
	"real": true, "recover": true,
}

// importedNames are the package names the generated code imports: an app of
// the same name would have to rename them.
var importedNames = map[string]bool{
	"admin": true, "api": true, "apps": true, "bun": true, "core": true, "fiber": true,
	"storage": true, "testkit": true, "uuid": true, "migrations": true,
}

// sqlReserved are words Postgres or SQLite reserve: a column named like one
// would need quoting in every hand-written query.
var sqlReserved = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true,
	"asc": true, "asymmetric": true, "autoincrement": true, "both": true, "case": true, "cast": true,
	"check": true, "collate": true, "column": true, "constraint": true, "create": true, "cross": true,
	"current_catalog": true, "current_date": true, "current_role": true, "current_time": true,
	"current_timestamp": true, "current_user": true, "default": true, "deferrable": true, "delete": true,
	"desc": true, "distinct": true, "do": true, "drop": true, "else": true, "end": true, "escape": true,
	"except": true, "exists": true, "false": true, "fetch": true, "for": true, "foreign": true,
	"from": true, "full": true, "grant": true, "group": true, "having": true, "in": true, "index": true,
	"initially": true, "inner": true, "insert": true, "intersect": true, "into": true, "is": true,
	"isnull": true, "join": true, "lateral": true, "leading": true, "left": true, "like": true,
	"limit": true, "localtime": true, "localtimestamp": true, "natural": true, "not": true,
	"notnull": true, "null": true, "offset": true, "on": true, "only": true, "or": true, "order": true,
	"outer": true, "placing": true, "primary": true, "references": true, "returning": true,
	"right": true, "select": true, "session_user": true, "set": true, "some": true, "symmetric": true,
	"table": true, "then": true, "to": true, "trailing": true, "transaction": true, "true": true,
	"union": true, "unique": true, "update": true, "user": true, "using": true, "values": true,
	"variadic": true, "when": true, "where": true, "window": true, "with": true,
}

// initialisms are written in capitals in Go identifiers (Go's own list, from
// golint), so a field "sku_url" becomes SkuURL and "id" ID.
var initialisms = map[string]bool{
	"acl": true, "api": true, "ascii": true, "cpu": true, "css": true, "dns": true, "eof": true,
	"guid": true, "html": true, "http": true, "https": true, "id": true, "ip": true, "json": true,
	"lhs": true, "qps": true, "ram": true, "rhs": true, "rpc": true, "sla": true, "smtp": true,
	"sql": true, "ssh": true, "tcp": true, "tls": true, "ttl": true, "udp": true, "ui": true,
	"uid": true, "uuid": true, "uri": true, "url": true, "utf8": true, "vm": true, "xml": true,
	"xmpp": true, "xsrf": true, "xss": true,
}

// checkAppName says why name cannot be an app's name, or returns nil. taken
// holds the names already in use (installed apps, folders) and why.
func checkAppName(name string, taken map[string]string) error {
	switch {
	case name == "":
		return fmt.Errorf("the app needs a name: startapp NAME")
	case strings.ContainsAny(name, "-. /\\"):
		return fmt.Errorf("%q is not a valid Go package name: use lower-case letters, digits and underscores (no dashes, dots or slashes)", name)
	case strings.ToLower(name) != name:
		return fmt.Errorf("%q is not a valid app name: Go package names are lower-case (try %q)", name, strings.ToLower(name))
	case !appNameRe.MatchString(name):
		return fmt.Errorf("%q is not a valid Go package name: it must start with a letter and hold only lower-case letters, digits and underscores", name)
	case len(name) > maxAppName:
		return fmt.Errorf("%q is too long: an app name has at most %d characters", name, maxAppName)
	case strings.HasSuffix(name, "_test"):
		return fmt.Errorf("%q ends in _test, which Go reserves for test packages", name)
	case token.IsKeyword(name):
		return fmt.Errorf("%q is a Go keyword and cannot name a package", name)
	case predeclared[name]:
		return fmt.Errorf("%q is a predeclared Go identifier: choose a name that does not shadow it", name)
	case stdlibNames[name]:
		return fmt.Errorf("%q is the name of a standard library package: the app would shadow it wherever both are imported", name)
	case importedNames[name]:
		return fmt.Errorf("%q is the name of a package the generated code imports: choose another", name)
	}
	if why, ok := taken[name]; ok {
		return fmt.Errorf("%q is already taken: %s", name, why)
	}
	return nil
}

// checkModelName says why name cannot be a model's name, or returns nil.
func checkModelName(name string) error {
	switch {
	case !modelNameRe.MatchString(name):
		return fmt.Errorf("model %q is not an exported Go type name: write it in CamelCase, starting with a capital letter (Post, BlogEntry)", name)
	case len(name) > maxModelName:
		return fmt.Errorf("model %q is too long: at most %d characters", name, maxModelName)
	case name == "App":
		return fmt.Errorf("model %q would collide with the app's own App type", name)
	}
	return nil
}

// checkFieldName says why name cannot name a field, or returns nil.
func checkFieldName(name string) error {
	switch {
	case !fieldNameRe.MatchString(name):
		return fmt.Errorf("field %q: a field name is snake_case: lower-case letters, digits and underscores, starting with a letter", name)
	case len(name) > maxFieldName:
		return fmt.Errorf("field %q: at most %d characters", name, maxFieldName)
	case name == "id" || name == "created_at" || name == "updated_at":
		return fmt.Errorf("field %q: id, created_at and updated_at are added to every model already", name)
	case token.IsKeyword(name):
		return fmt.Errorf("field %q is a Go keyword: it cannot name the JSON field's Go variables; choose another name", name)
	case predeclared[name]:
		return fmt.Errorf("field %q is a predeclared Go identifier: choose another name", name)
	case sqlReserved[name]:
		return fmt.Errorf("field %q is a reserved SQL word (Postgres or SQLite): choose another name", name)
	}
	return nil
}

// camel turns snake_case into CamelCase with Go's initialisms: published_on →
// PublishedOn, author_id → AuthorID.
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part == "" {
			continue
		}
		if initialisms[part] {
			b.WriteString(strings.ToUpper(part))
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// lowerCamel turns a CamelCase name into its unexported form: BlogPost →
// blogPost, URLEntry → urlEntry.
func lowerCamel(s string) string {
	r := []rune(s)
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	if n > 1 && n < len(r) {
		n-- // URLEntry: the E starts the next word
	}
	return strings.ToLower(string(r[:n])) + string(r[n:])
}

// snake turns CamelCase into snake_case: BlogPost → blog_post, URLEntry → url_entry.
func snake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && !unicode.IsUpper(r[i-1])
			nextLower := i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural is the English plural of a snake_case noun, by the usual rules:
// post → posts, category → categories, box → boxes, person → persons (no
// irregular plurals: rename the route by hand if you want "people").
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "z"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}
