package fuzzapi

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// oddStrings are strings that break naive code: NUL, control characters,
// right-to-left override, zero-width and combining characters, emoji,
// surrogate halves (as JSON escapes), a BOM, quotes, SQL and path bits.
var oddStrings = []string{
	"\x00", "a\x00b", "\u202egnp.exe", "\u200b", "\ufeff", "e\u0301\u0301\u0301", "😀👩‍👩‍👧‍👦", "\U0010FFFF",
	"\t\r\n", " ", "", "'; DROP TABLE users; --", "%", "_", "\\", "%00", "../../etc/passwd", "\"", "<script>",
	"null", "0", "-1", "true", "{}", "ǅ", "İstanbul", "ﬃ", strings.Repeat("\u0301", 300), "\x7f\x1b[31m",
}

// wrongValues are JSON values of every type, for a field that expects another.
var wrongValues = []any{"a string", 12345, -1, 1.5, true, false, nil, []any{}, []any{1, "x"}, map[string]any{}, map[string]any{"a": 1}}

// rawBodies are bodies that are not the JSON object an operation expects.
var rawBodies = []string{
	"", "{", "}", "[]", "null", `"string"`, "12", "true", "{}{}", `{"a":1}garbage`, `{"a":}`, `{'a':1}`,
	"\xff\xfe\xfd", "\xef\xbb\xbf{}", "{\"a\":\"\x00\"}", `{"a":"\ud800"}`, `{"a":1,"a":2}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	`{"a":` + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10001),
	`{"n":1e400}`, `{"n":-0}`, `{"n":99999999999999999999999999}`,
}

// gen builds values from JSON schemas with one request's random source.
type gen struct {
	r *rand.Rand
	s *spec
}

// schemaTypes returns the schema's types, without "null"; nullable reports
// whether null is allowed.
func schemaTypes(sch map[string]any) (types []string, nullable bool) {
	switch t := sch["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				types = append(types, s)
			}
		}
	}
	if n, _ := sch["nullable"].(bool); n {
		nullable = true
	}
	if i := slices.Index(types, "null"); i >= 0 {
		types = slices.Delete(types, i, i+1)
		nullable = true
	}
	if len(types) == 0 {
		switch {
		case sch["properties"] != nil:
			types = []string{"object"}
		case sch["items"] != nil:
			types = []string{"array"}
		}
	}
	return types, nullable
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

// valid returns a value the schema accepts (as far as this generator knows
// JSON Schema: types, formats, enums, lengths, bounds, required properties).
// name is the property's name, for hints (an email, a password).
func (g *gen) valid(v any, name string, depth int) any {
	sch, _ := g.s.resolve(v).(map[string]any)
	if sch == nil {
		return "x"
	}
	if c, ok := sch["const"]; ok {
		return c
	}
	if e, ok := sch["enum"].([]any); ok && len(e) > 0 {
		return e[g.r.IntN(len(e))]
	}
	if ex, ok := sch["examples"].([]any); ok && len(ex) > 0 && (sch["pattern"] != nil || g.r.IntN(4) == 0) {
		return ex[g.r.IntN(len(ex))]
	}
	if ex, ok := sch["example"]; ok && sch["pattern"] != nil {
		return ex
	}
	if all, ok := sch["allOf"].([]any); ok && len(all) > 0 {
		return g.valid(g.mergeAll(all, sch), name, depth)
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts, ok := sch[k].([]any); ok && len(alts) > 0 {
			return g.valid(alts[g.r.IntN(len(alts))], name, depth)
		}
	}
	types, nullable := schemaTypes(sch)
	if nullable && g.r.IntN(10) == 0 {
		return nil
	}
	typ := "string"
	if len(types) > 0 {
		typ = types[g.r.IntN(len(types))]
	}
	switch typ {
	case "object":
		if depth > 8 {
			return map[string]any{}
		}
		out := map[string]any{}
		props, _ := sch["properties"].(map[string]any)
		req := required(sch)
		for _, k := range sortedKeys(props) {
			ps, _ := g.s.resolve(props[k]).(map[string]any)
			if ro, _ := ps["readOnly"].(bool); ro {
				continue
			}
			if slices.Contains(req, k) || g.r.IntN(2) == 0 {
				out[k] = g.valid(props[k], k, depth+1)
			}
		}
		return out
	case "array":
		lo, hi := 0, 3
		if n, ok := num(sch["minItems"]); ok {
			lo = int(n)
		}
		if n, ok := num(sch["maxItems"]); ok {
			hi = int(n)
		}
		hi = min(max(hi, lo), lo+3)
		out := []any{}
		if depth > 8 {
			return out
		}
		for range lo + g.r.IntN(hi-lo+1) {
			out = append(out, g.valid(sch["items"], name, depth+1))
		}
		return out
	case "integer", "number":
		lo, hi := 0.0, 1000.0
		if n, ok := num(sch["minimum"]); ok {
			lo = n
		}
		if n, ok := num(sch["exclusiveMinimum"]); ok {
			lo = n + 1
		}
		if n, ok := num(sch["maximum"]); ok {
			hi = n
		} else {
			hi = lo + 1000
		}
		if n, ok := num(sch["exclusiveMaximum"]); ok {
			hi = n - 1
		}
		if hi < lo {
			hi = lo
		}
		if typ == "integer" {
			return int64(lo) + g.r.Int64N(int64(min(hi-lo, 1<<40))+1)
		}
		return lo + g.r.Float64()*(hi-lo)
	case "boolean":
		return g.r.IntN(2) == 0
	}
	return g.validString(sch, name)
}

func (g *gen) validString(sch map[string]any, name string) string {
	lo, hi := 1, 20
	if n, ok := num(sch["minLength"]); ok {
		lo = int(n)
	}
	if n, ok := num(sch["maxLength"]); ok {
		hi = int(n)
	}
	fit := func(s string) string {
		if n := len([]rune(s)); n > hi && hi > 0 {
			return string([]rune(s)[:hi])
		}
		return s
	}
	lname := strings.ToLower(name)
	switch format, _ := sch["format"].(string); {
	case format == "email" || strings.Contains(lname, "email"):
		return fmt.Sprintf("fuzz%d@example.com", g.r.Uint64()%1e12)
	case format == "uuid":
		return g.uuid()
	case format == "date-time":
		return time.Now().UTC().Add(time.Duration(g.r.Int64N(1e6)) * time.Second).Format(time.RFC3339Nano)
	case format == "date":
		return time.Now().UTC().AddDate(0, 0, g.r.IntN(1000)).Format(time.DateOnly)
	case format == "uri" || format == "url":
		return "https://example.com/" + g.word(8)
	case format == "binary" || format == "byte":
		return g.word(16)
	case strings.Contains(lname, "password"):
		return fit("Fz!" + g.word(max(lo, 14)) + "9")
	}
	n := lo + g.r.IntN(max(min(hi, lo+20)-lo, 0)+1)
	return fit(g.word(max(n, lo)))
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (g *gen) word(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[g.r.IntN(len(letters))]
	}
	return string(b)
}

func (g *gen) uuid() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// odd returns an invalid or unusual string: odd unicode, a huge string, or
// one just past the schema's maxLength.
func (g *gen) odd(sch map[string]any) string {
	switch g.r.IntN(5) {
	case 0:
		return strings.Repeat("A", 10000+g.r.IntN(100000))
	case 1:
		if n, ok := num(sch["maxLength"]); ok {
			return strings.Repeat("é", int(n)+1)
		}
		return strings.Repeat("😀", 5000)
	}
	return oddStrings[g.r.IntN(len(oddStrings))]
}

// oddShort is odd for a URL: at most 1000 bytes, since servers cap the
// request line (4 to 8 KB) before any route sees it.
func (g *gen) oddShort(sch map[string]any) string {
	if g.r.IntN(4) == 0 {
		return strings.Repeat("A", 200+g.r.IntN(800))
	}
	return oddStrings[g.r.IntN(len(oddStrings))]
}

// wrong returns a value of the wrong type or out of range for the schema.
func (g *gen) wrong(v any) any {
	sch, _ := g.s.resolve(v).(map[string]any)
	types, _ := schemaTypes(sch)
	if g.r.IntN(2) == 0 {
		if slices.Contains(types, "integer") || slices.Contains(types, "number") {
			return g.outOfRange(sch)
		}
		if len(types) == 0 || slices.Contains(types, "string") {
			return g.odd(sch)
		}
	}
	for range 8 {
		w := wrongValues[g.r.IntN(len(wrongValues))]
		if !matchesType(w, types) {
			return w
		}
	}
	return []any{map[string]any{"nested": []any{nil}}}
}

// outOfRange is a number just past the schema's bounds, or far past any.
func (g *gen) outOfRange(sch map[string]any) any {
	out := []any{math.MaxInt32 + 1, math.MaxInt64, -math.MaxInt64, 1e300, -1, 0.5, 1e6,
		json.Number("18446744073709551616"), json.Number("1e400"), json.Number("-0")}
	if n, ok := num(sch["maximum"]); ok {
		out = append(out, n+1, n+1, n*10+1)
	}
	if n, ok := num(sch["minimum"]); ok {
		out = append(out, n-1, n-1)
	}
	return out[g.r.IntN(len(out))]
}

func matchesType(v any, types []string) bool {
	var t string
	switch x := v.(type) {
	case nil:
		t = "null"
	case string:
		t = "string"
	case bool:
		t = "boolean"
	case int:
		t = "integer"
	case float64:
		t = "number"
		if x == math.Trunc(x) {
			t = "integer"
		}
	case []any:
		t = "array"
	case map[string]any:
		t = "object"
	}
	return slices.Contains(types, t) || t == "integer" && slices.Contains(types, "number")
}

// mutate returns a copy of a valid object with one thing wrong: a required
// field missing, a field of the wrong type, an odd or huge string, an unknown
// field, or null.
func (g *gen) mutate(obj map[string]any, sch map[string]any) (map[string]any, string) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	props, _ := sch["properties"].(map[string]any)
	keys := sortedKeys(props)
	req := required(sch)
	switch c := g.r.IntN(5); {
	case c == 0 && len(req) > 0:
		k := req[g.r.IntN(len(req))]
		delete(out, k)
		return out, "missing required " + k
	case c <= 2 && len(keys) > 0:
		k := keys[g.r.IntN(len(keys))]
		out[k] = g.wrong(props[k])
		return out, "wrong value for " + k
	case c == 3 && len(keys) > 0:
		k := keys[g.r.IntN(len(keys))]
		out[k] = nil
		return out, "null " + k
	}
	extra := []string{"id", "is_staff", "is_superuser", "__proto__", "owner_id", "created_at", "password", g.word(6)}
	k := extra[g.r.IntN(len(extra))]
	out[k] = g.wrong(nil)
	return out, "unknown field " + k
}

// mergeAll merges allOf's branches (properties, required) with the schema.
func (g *gen) mergeAll(all []any, sch map[string]any) map[string]any {
	out := map[string]any{}
	props := map[string]any{}
	var req []any
	for _, part := range append(all, without(sch, "allOf")) {
		p, _ := g.s.resolve(part).(map[string]any)
		for k, v := range p {
			switch k {
			case "properties":
				pm, _ := v.(map[string]any)
				for pk, pv := range pm {
					props[pk] = pv
				}
			case "required":
				rl, _ := v.([]any)
				req = append(req, rl...)
			default:
				out[k] = v
			}
		}
	}
	if len(props) > 0 {
		out["properties"] = props
		if out["type"] == nil {
			out["type"] = "object"
		}
	}
	if len(req) > 0 {
		out["required"] = req
	}
	return out
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func required(sch map[string]any) []string {
	var out []string
	list, _ := sch["required"].([]any)
	for _, r := range list {
		if s, ok := r.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// scalar renders a generated value as a path or query parameter.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
