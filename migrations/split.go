package migrations

import (
	"strings"
	"unicode"
)

// splitStatements cuts a migration file into statements at semicolons that are
// not inside a string, a quoted identifier, a comment, a $tag$-quoted body, or
// the BEGIN … END body of a CREATE TRIGGER. Empty statements are dropped.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	depth := 0 // BEGIN/CASE … END nesting inside a trigger
	n := len(sql)
	flush := func() {
		s := strings.TrimSpace(cur.String())
		if s != "" && !onlyComments(s) {
			out = append(out, s)
		}
		cur.Reset()
		depth = 0
	}
	for i := 0; i < n; i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < n && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = n - i
			}
			cur.WriteString(sql[i : i+j])
			i += j - 1
		case c == '/' && i+1 < n && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			end := n
			if j >= 0 {
				end = i + 2 + j + 2
			}
			cur.WriteString(sql[i:end])
			i = end - 1
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < n {
				if sql[j] == c {
					if j+1 < n && sql[j+1] == c { // doubled quote escapes itself
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, n)
			cur.WriteString(sql[i:end])
			i = end - 1
		case c == '$':
			if tag, ok := dollarTag(sql[i:]); ok {
				j := strings.Index(sql[i+len(tag):], tag)
				end := n
				if j >= 0 {
					end = i + len(tag) + j + len(tag)
				}
				cur.WriteString(sql[i:end])
				i = end - 1
			} else {
				cur.WriteByte(c)
			}
		case isWordStart(c) && (i == 0 || !isWord(sql[i-1])):
			j := i
			for j < n && isWord(sql[j]) {
				j++
			}
			word := strings.ToUpper(sql[i:j])
			if isTrigger(cur.String()) {
				switch word {
				case "BEGIN", "CASE":
					depth++
				case "END":
					depth--
				}
			}
			cur.WriteString(sql[i:j])
			i = j - 1
		case c == ';' && depth <= 0:
			cur.WriteByte(c)
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	for i, s := range out {
		out[i] = strings.TrimSuffix(s, ";")
	}
	return out
}

// dollarTag returns the $tag$ opening s, if s starts with one.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		if s[j] == '$' {
			return s[:j+1], true
		}
		if !isWord(s[j]) || (j == 1 && unicode.IsDigit(rune(s[j]))) {
			return "", false
		}
	}
	return "", false
}

func isTrigger(stmt string) bool {
	f := strings.Fields(strings.ToUpper(stripComments(stmt)))
	if len(f) >= 2 && f[0] == "CREATE" {
		for _, w := range f[1:min(len(f), 4)] {
			if w == "TRIGGER" {
				return true
			}
		}
	}
	return false
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func onlyComments(s string) bool { return strings.TrimSpace(stripComments(s)) == "" }

func isWordStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isWord(c byte) bool { return isWordStart(c) || (c >= '0' && c <= '9') }
