package api

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"reflect"
	"runtime"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// PanicError is the error Recover returns for a panic: the panic's value and
// the stack of the goroutine that panicked. It wraps nothing, even when the
// value is an error: a panic answers 500 whatever it carries.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// WantsHTML reports whether a request is a browser's page request: not under
// /api, and its Accept header takes text/html. The debug page answers those;
// the JSON API keeps its error shape.
func WantsHTML(c *fiber.Ctx) bool {
	path := c.Path()
	if path == "/api" || strings.HasPrefix(path, "/api/") {
		return false
	}
	for _, part := range strings.Split(c.Get(fiber.HeaderAccept), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/html" && mt != "application/xhtml+xml" {
			continue
		}
		if q := params["q"]; q == "0" || q == "0.0" || q == "0.00" || q == "0.000" {
			continue
		}
		return true
	}
	return false
}

// masked is what the debug page shows instead of a secret.
const masked = "********************"

// sensitive reports whether a header or query parameter may carry a secret
// (Django's SafeExceptionReporterFilter hides the same kinds of names).
func sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"authorization", "cookie", "token", "secret", "password", "passwd", "api-key", "api_key", "apikey", "session", "csrf", "signature"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

type debugPair struct{ Name, Value string }

type debugChainLink struct{ Type, Message string }

type debugPage struct {
	Status    int
	Title     string
	Method    string
	URL       string
	Route     string
	Handler   string
	RequestID string
	ClientIP  string
	Chain     []debugChainLink
	Stack     string
	Headers   []debugPair
	Query     []debugPair
}

// WriteDebugPage answers a failed request with Django's technical 500 page
// (DEBUG only): the error and the chain of errors it wraps, the stack of a
// panic, the route and the handler that failed, and the request (method, URL,
// headers and query, secrets masked). Everything is escaped (html/template).
func WriteDebugPage(c *fiber.Ctx, err error) error {
	page := debugPage{
		Status:    fiber.StatusInternalServerError,
		Title:     err.Error(),
		Method:    c.Method(),
		URL:       c.OriginalURL(),
		RequestID: RequestIDOf(c),
		ClientIP:  ClientIP(c),
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		page.Stack = string(pe.Stack)
	}
	page.Chain = errorChain(err, "", nil)
	if r := c.Route(); r != nil && r.Path != "" {
		page.Route = r.Method + " " + r.Path
		if n := len(r.Handlers); n > 0 {
			page.Handler = funcLocation(r.Handlers[n-1])
		}
	}
	c.Request().Header.VisitAll(func(k, v []byte) {
		value := string(v)
		if sensitive(string(k)) {
			value = masked
		}
		page.Headers = append(page.Headers, debugPair{string(k), value})
	})
	sort.SliceStable(page.Headers, func(i, j int) bool { return page.Headers[i].Name < page.Headers[j].Name })
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		value := string(v)
		if sensitive(string(k)) {
			value = masked
		}
		page.Query = append(page.Query, debugPair{string(k), value})
	})
	if sensitiveQuery(page.Query) {
		page.URL = c.Path() + "?…" // the raw URL would show the masked values
	}
	var buf bytes.Buffer
	if terr := debugTemplate.Execute(&buf, page); terr != nil {
		return Write(c, newError(fiber.StatusInternalServerError, TypeServerError, err.Error()))
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(page.Status).Send(buf.Bytes())
}

func sensitiveQuery(q []debugPair) bool {
	for _, p := range q {
		if p.Value == masked {
			return true
		}
	}
	return false
}

// errorChain lists err and the errors it wraps (errors.Unwrap, and each
// error of an errors.Join), depth first.
func errorChain(err error, indent string, out []debugChainLink) []debugChainLink {
	for err != nil && len(out) < 50 {
		out = append(out, debugChainLink{Type: indent + fmt.Sprintf("%T", err), Message: err.Error()})
		if multi, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range multi.Unwrap() {
				out = errorChain(e, indent+"  ", out)
			}
			return out
		}
		err = errors.Unwrap(err)
	}
	return out
}

// funcLocation names a handler and where its code is: the function's name,
// file and line.
func funcLocation(h fiber.Handler) string {
	fn := runtime.FuncForPC(reflect.ValueOf(h).Pointer())
	if fn == nil {
		return ""
	}
	file, line := fn.FileLine(fn.Entry())
	return fmt.Sprintf("%s (%s:%d)", fn.Name(), file, line)
}

var debugTemplate = template.Must(template.New("debug").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex,nofollow">
<title>{{.Title}} at {{.Method}} {{.URL}}</title>
<style>
body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#000;background:#eee}
header{background:#ffc;padding:16px 24px;border-bottom:1px solid #ddd}
h1{font-size:20px;margin:0 0 8px;font-weight:normal}h1 span{color:#666}
h2{font-size:16px;margin:0 0 8px}
section{background:#fff;padding:16px 24px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:2px 12px 2px 0}
th{color:#666;font-weight:normal;white-space:nowrap}
pre,code,td.v{font:12px/1.4 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
pre{background:#f5f5f5;padding:12px;margin:0;overflow:auto}
footer{padding:16px 24px;color:#666}
</style>
</head>
<body>
<header>
<h1>{{.Title}} <span>({{.Status}})</span></h1>
<table>
<tr><th>Request</th><td class="v">{{.Method}} {{.URL}}</td></tr>
{{if .Route}}<tr><th>Route</th><td class="v">{{.Route}}</td></tr>{{end}}
{{if .Handler}}<tr><th>Handler</th><td class="v">{{.Handler}}</td></tr>{{end}}
<tr><th>Request ID</th><td class="v">{{.RequestID}}</td></tr>
<tr><th>Client IP</th><td class="v">{{.ClientIP}}</td></tr>
</table>
</header>
<section id="error">
<h2>Error</h2>
<table>{{range .Chain}}
<tr><th><code>{{.Type}}</code></th><td class="v">{{.Message}}</td></tr>{{end}}
</table>
</section>
{{if .Stack}}<section id="stack">
<h2>Stack</h2>
<pre>{{.Stack}}</pre>
</section>
{{end}}<section id="request">
<h2>Request headers</h2>
<table>{{range .Headers}}
<tr><th>{{.Name}}</th><td class="v">{{.Value}}</td></tr>{{end}}
</table>
{{if .Query}}<h2>Query</h2>
<table>{{range .Query}}
<tr><th>{{.Name}}</th><td class="v">{{.Value}}</td></tr>{{end}}
</table>{{end}}
</section>
<footer>You see this page because DEBUG is on. With DEBUG off (production), the client gets a plain 500 and the error goes to the log only.</footer>
</body>
</html>
`))
