package goadmin

import (
	"manouche/admin"

	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"manouche/core/api"
)

// Cookie and parameter names of the guard.
const (
	sessionCookie     = "go_admin_session"        // GoAdmin's own session cookie
	hostSessionCookie = "__Host-" + sessionCookie // its name in the browser with SecureCookies
	stampHeader       = "X-Manouche-Admin-Stamp"  // from the login processor to the guard, never sent
	stampKey          = "manouche_stamp"          // the session value holding the stamp
	csrfCookie        = "manouche_admin_csrf"
	csrfHeader        = "X-CSRF-Token"
	csrfField         = "csrf_token"
)

// csrfScript is added to every GoAdmin page: it sends the CSRF cookie's value with every jQuery
// request (GoAdmin's deletes and pjax form posts) and adds it to every form that is submitted.
const csrfScript = `<script>
(function () {
  function token() {
    var m = document.cookie.match(/(?:^|;\s*)` + csrfCookie + `=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  if (window.jQuery) {
    jQuery(document).ajaxSend(function (e, xhr) { xhr.setRequestHeader("` + csrfHeader + `", token()); });
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f || (f.method || "").toLowerCase() !== "post") { return; }
    var i = f.querySelector("input[name=` + csrfField + `]");
    if (!i) { i = document.createElement("input"); i.type = "hidden"; i.name = "` + csrfField + `"; f.appendChild(i); }
    i.value = token();
  }, true);
})();
</script>`

// Query parameters GoAdmin reads into SQL, and the values they may take.
const (
	paramSort     = "__sort"
	paramSortType = "__sort_type"
	paramColumns  = "__columns"
	paramPage     = "__page"
	paramPageSize = "__pageSize"
	joinInfix     = "_goadmin_join_"
	paramPrefix   = "__prefix"
	paramEditPK   = "__goadmin_edit_pk"
	paramDetailPK = "__goadmin_detail_pk"
	paramPKs      = "__pk"
	paramActionID = "id" // the row an action runs on
	paramOpID     = "__goadmin_op_id"
	maxPageSize   = 100
)

// opLogColumns are the columns of GoAdmin's operation log page a list may be sorted on.
var opLogColumns = []string{"id", "user_id", "method", "path", "ip", "created_at"}

// route is what the guard knows about an admin URL.
type route struct {
	public    bool   // reachable without a session (login page, sign-in, assets)
	model     string // the model the URL belongs to, "" for none
	superuser bool   // superusers only
	sortable  []string
	columns   []string
	pk        string // primary key column
	pkKind    admin.Kind
	action    bool     // a row action (/operation/...)
	verb      string   // info, new, edit, delete, operation, signin; "" for the others
	filters   []string // the columns the list may be filtered on
	search    bool     // the list has a search box
	form      []string // the fields of the create and edit forms
	need      string   // the action (admin.ActionView, ...) the model's permission must allow
}

// classify maps a path under /admin (without the prefix, lower-cased) and a method to a route,
// or reports that the admin serves no such URL. Everything GoAdmin would serve besides these
// (its installer, config center, menu/role/user editors, plugin store, JSON API...) is refused.
func (a *Admin) classify(method, rel string) (route, bool) {
	rel = strings.TrimSuffix(rel, "/")
	get := method == fiber.MethodGet || method == fiber.MethodHead
	post := method == fiber.MethodPost
	switch {
	case rel == "" && get:
		return route{}, true
	case rel == "/login" && get:
		return route{public: true}, true
	case rel == "/signin" && post:
		return route{public: true, verb: "signin"}, true
	case strings.HasPrefix(rel, "/assets/") && get:
		return route{public: true}, true
	case rel == "/logout" && get:
		return route{}, true
	}
	parts := strings.Split(strings.TrimPrefix(rel, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 {
		return route{}, false
	}
	verb, name := parts[0], parts[1]
	if verb == "operation" && post && len(parts) == 2 {
		// A row action: /operation/<model>-<action>.
		for _, m := range a.models {
			if _, ok := m.Action(name); ok {
				r := routeOf(m)
				r.action, r.verb, r.need = true, "operation", admin.ActionChange
				return r, true
			}
		}
		return route{}, false
	}
	sub := ""
	if len(parts) == 3 {
		sub = parts[2]
	}
	if name == "op" {
		// GoAdmin's operation log: read-only, superusers only.
		if verb == "info" && get && (sub == "" || sub == "detail") {
			return route{model: "op", superuser: true, sortable: opLogColumns, columns: opLogColumns, pk: "id", pkKind: admin.KindInt}, true
		}
		return route{}, false
	}
	m, ok := a.models[name]
	if !ok {
		// Model names are identifiers; GoAdmin looks them up as typed, so compare as typed too.
		for key, mm := range a.models {
			if strings.EqualFold(key, name) {
				m, ok = mm, true
			}
		}
		if !ok {
			return route{}, false
		}
	}
	r := routeOf(m)
	r.verb = verb
	switch {
	case verb == "info" && get && (sub == "" || sub == "detail"):
		r.need = admin.ActionView
		return r, true
	case verb == "info" && get && sub == "edit" && len(m.Form) > 0:
		r.need = admin.ActionChange
		return r, true
	case verb == "info" && get && sub == "new" && len(m.Form) > 0 && !m.NoCreate:
		r.need = admin.ActionAdd
		return r, true
	case verb == "edit" && post && sub == "" && len(m.Form) > 0:
		r.need = admin.ActionChange
		return r, true
	case verb == "new" && post && sub == "" && len(m.Form) > 0 && !m.NoCreate:
		r.need = admin.ActionAdd
		return r, true
	case verb == "delete" && post && sub == "" && !m.NoDelete:
		r.need = admin.ActionDelete
		return r, true
	}
	return route{}, false
}

func routeOf(m admin.ModelAdmin) route {
	pk, _ := m.Field(m.PK())
	return route{model: m.URLName(), superuser: m.SuperuserOnly, sortable: m.Sortable(), columns: m.Columns(), pk: m.PK(), pkKind: pk.Kind,
		filters: m.Filters, search: len(m.Search) > 0, form: m.Form}
}

// validKey reports whether v can be a primary key of the kind: GoAdmin panics on the
// database error a malformed one causes (Postgres refuses "x" as a uuid or an integer).
func validKey(k admin.Kind, v string) bool {
	switch k {
	case admin.KindUUID:
		_, err := uuid.Parse(v)
		return err == nil
	case admin.KindInt:
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	}
	return v != "" && len(v) <= 255
}

// safeRef returns the same-site path under /admin a login may go back to, or false.
func safeRef(ref, host string) (string, bool) {
	if ref == "" || len(ref) > 2048 || strings.ContainsAny(ref, "\\\x00\r\n\t<>\"'`") {
		return "", false
	}
	u, err := url.Parse(ref)
	if err != nil || u.Opaque != "" || u.User != nil {
		return "", false
	}
	if u.Scheme != "" || u.Host != "" {
		if (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, host) {
			return "", false
		}
	}
	p := u.EscapedPath()
	if p != admin.Prefix && !strings.HasPrefix(p, admin.Prefix+"/") {
		return "", false
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/..") || strings.HasPrefix(strings.TrimPrefix(p, admin.Prefix), "/login") ||
		strings.HasPrefix(strings.TrimPrefix(p, admin.Prefix), "/logout") {
		return "", false
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return "", false
		}
		return p + "?" + q.Encode(), true
	}
	return p, true
}

// csrfToken is the token bound to a session: an HMAC of its id under the secret key.
func (a *Admin) csrfToken(sid string) string {
	h := hmac.New(sha256.New, []byte(a.cfg.SecretKey))
	h.Write([]byte("manouche-admin-csrf\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// sameOrigin reports whether a state-changing request comes from a page of this site.
func sameOrigin(c *fiber.Ctx) bool {
	want := api.BaseURL(c)
	if o := c.Get(fiber.HeaderOrigin); o != "" {
		return o == want
	}
	if r := c.Get(fiber.HeaderReferer); r != "" {
		u, err := url.Parse(r)
		return err == nil && u.Scheme+"://"+u.Host == want
	}
	return false
}

func (a *Admin) loginLimiter() fiber.Handler {
	if a.cfg.LoginLimiter != nil {
		return a.cfg.LoginLimiter
	}
	return limiter.New(limiter.Config{
		Max:          10,
		Expiration:   time.Minute,
		KeyGenerator: api.ClientIP,
		LimitReached: func(c *fiber.Ctx) error {
			return c.Status(fiber.StatusTooManyRequests).JSON(fiber.Map{"code": 429, "msg": "too many login attempts, wait a minute"})
		},
	})
}

// guard runs before GoAdmin on every request under /admin.
func (a *Admin) guard() fiber.Handler {
	limit := a.loginLimiter()
	return func(c *fiber.Ctx) error {
		path := c.Path()
		lower := strings.ToLower(path)
		if lower != admin.Prefix && !strings.HasPrefix(lower, admin.Prefix+"/") {
			return c.Next() // "/administrator" and the like are not ours
		}
		rel := lower[len(admin.Prefix):]
		method := c.Method()

		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderReferrerPolicy, "same-origin")

		// The raw request URI is what GoAdmin's adapter would parse: refuse it unless it is
		// canonical, so the path Fiber routed on is the only one anybody reads.
		rawPath, rawQuery, err := splitRequestURI(string(c.Request().Header.RequestURI()))
		if err != nil || rawPath != path {
			return fiber.NewError(fiber.StatusBadRequest, errBadURI.Error())
		}
		r, ok := a.classify(method, rel)
		if !ok {
			return fiber.ErrNotFound
		}
		query, err := url.ParseQuery(rawQuery)
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed query string")
		}

		if r.public {
			return a.public(c, rel, r, query, limit)
		}
		if !strings.HasPrefix(rel, "/assets/") {
			c.Set(fiber.HeaderCacheControl, "no-store")
		}

		rctx := c.UserContext()
		sid := c.Cookies(a.sessionName())
		s, err := a.loadSession(rctx, sid)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				return err
			}
			if sid != "" {
				if len(sid) <= 64 {
					if err := a.endSession(rctx, sid); err != nil {
						return err
					}
				}
				a.clearSessionCookie(c)
				c.ClearCookie(csrfCookie)
			}
			if rel == "/logout" {
				return c.Redirect(admin.Prefix+"/login", fiber.StatusFound)
			}
			if method == fiber.MethodGet {
				return c.Redirect(admin.Prefix+"/login?ref="+url.QueryEscape(c.OriginalURL()), fiber.StatusFound)
			}
			return fiber.NewError(fiber.StatusUnauthorized, "log in as staff first")
		}
		if r.superuser && !s.user.IsSuperuser {
			return fiber.NewError(fiber.StatusForbidden, "superusers only")
		}
		if m, ok := a.models[r.model]; ok && r.need != "" {
			allowed, err := a.may(rctx, s.user, m, r.need)
			if err != nil {
				return err
			}
			if !allowed {
				return fiber.NewError(fiber.StatusForbidden, "you do not have permission to "+r.need+" "+strings.ToLower(m.PageTitle()))
			}
		}
		query, err = r.allowed(query, false)
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, err.Error())
		}

		token := a.csrfToken(s.sid)
		var form url.Values
		if method != fiber.MethodGet && method != fiber.MethodHead {
			if !sameOrigin(c) {
				return fiber.NewError(fiber.StatusForbidden, "cross-site request refused")
			}
			raw := formValues(c)
			sent := c.Get(csrfHeader)
			if sent == "" && len(raw[csrfField]) == 1 {
				sent = raw[csrfField][0]
			}
			if subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
				return fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token, reload the page")
			}
			if form, err = r.allowed(raw, true); err != nil {
				return fiber.NewError(fiber.StatusBadRequest, err.Error())
			}
			if r.verb == "edit" && form.Get(r.pk) == "" {
				return fiber.NewError(fiber.StatusBadRequest, "the form does not say which row to change")
			}
		}
		if c.Cookies(csrfCookie) != token {
			c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: token, Path: admin.Prefix, SameSite: "Strict", Secure: a.cfg.Cookies().CSRFSecure})
		}
		if err := handOver(c, query, form, s.sid, false); err != nil {
			return err
		}

		if err := a.next(c); err != nil {
			return err
		}
		a.hardenSessionCookie(c)
		if rel == "/logout" {
			if err := a.endSession(rctx, s.sid); err != nil {
				return err
			}
			a.clearSessionCookie(c)
			c.ClearCookie(csrfCookie)
		}
		if form != nil {
			a.logOperation(c, s, form)
		}
		return nil
	}
}

// next runs GoAdmin, turning its panics (it panics on database errors) into a 500.
func (a *Admin) next(c *fiber.Ctx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("admin: GoAdmin panicked", "path", c.Path(), "panic", p)
			err = fiber.NewError(fiber.StatusInternalServerError, "internal error")
		}
	}()
	return c.Next()
}

// public handles the login page, the sign-in and the assets.
func (a *Admin) public(c *fiber.Ctx, rel string, r route, query url.Values, limit fiber.Handler) error {
	switch rel {
	case "/login":
		var pass url.Values
		if ref, has := query["ref"]; has {
			if len(ref) != 1 {
				return c.Redirect(admin.Prefix+"/login", fiber.StatusFound)
			}
			safe, ok := safeRef(ref[0], string(c.Request().Host()))
			if !ok {
				return c.Redirect(admin.Prefix+"/login", fiber.StatusFound)
			}
			pass = url.Values{"ref": {safe}}
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if err := handOver(c, pass, nil, "", false); err != nil {
			return err
		}
		return c.Next()
	case "/signin":
		if !sameOrigin(c) {
			return fiber.NewError(fiber.StatusForbidden, "cross-site request refused")
		}
		form, err := r.allowed(formValues(c), true)
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, err.Error())
		}
		// GoAdmin keeps a session id the client sends: end the old session here and give
		// GoAdmin no cookie, so every login gets a fresh id.
		rctx := c.UserContext()
		for _, name := range []string{sessionCookie, hostSessionCookie} {
			if old := c.Cookies(name); old != "" && len(old) <= 64 {
				if err := a.endSession(rctx, old); err != nil {
					return err
				}
			}
		}
		// GoAdmin sends the browser to the "ref" of the login page's URL, read from the Referer:
		// keep it only when it is a path of this admin.
		ref := ""
		if u, err := url.Parse(c.Get(fiber.HeaderReferer)); err == nil {
			if safe, ok := safeRef(u.Query().Get("ref"), string(c.Request().Host())); ok {
				ref = safe
			}
		}
		loginURL := api.BaseURL(c) + admin.Prefix + "/login"
		if ref != "" {
			loginURL += "?ref=" + url.QueryEscape(ref)
		}
		c.Request().Header.Set(fiber.HeaderReferer, loginURL)
		c.Set(fiber.HeaderCacheControl, "no-store")
		if err := handOver(c, nil, form, "", true); err != nil {
			return err
		}
		err = limit(c)
		if bindErr := a.bindNewSession(c); bindErr != nil {
			return bindErr
		}
		a.hardenSessionCookie(c)
		return err
	}
	if err := handOver(c, nil, nil, "", false); err != nil {
		return err
	}
	return c.Next()
}

// sessionName is the name of the session cookie the browser holds: GoAdmin's, with the
// __Host- prefix when cookies are Secure (then it is also Path=/ and has no Domain).
func (a *Admin) sessionName() string {
	if a.cfg.Cookies().SessionSecure {
		return hostSessionCookie
	}
	return sessionCookie
}

// hardenSessionCookie is applied after GoAdmin answers: its session cookie is renamed to
// sessionName and gets Path=/, no Domain, HttpOnly, SameSite=Lax, and Secure when configured.
func (a *Admin) hardenSessionCookie(c *fiber.Ctx) {
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(sessionCookie)
	if !c.Response().Header.Cookie(ck) {
		return
	}
	c.Response().Header.DelCookie(sessionCookie)
	ck.SetKey(a.sessionName())
	ck.SetPath("/")
	ck.SetDomain("")
	ck.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	ck.SetSecure(a.cfg.Cookies().SessionSecure)
	ck.SetHTTPOnly(a.cfg.Cookies().SessionHTTPOnly)
	c.Response().Header.SetCookie(ck)
}

// clearSessionCookie tells the browser to drop its session cookie.
func (a *Admin) clearSessionCookie(c *fiber.Ctx) {
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(a.sessionName())
	ck.SetPath("/")
	ck.SetExpire(fasthttp.CookieExpireDelete)
	ck.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	ck.SetSecure(a.cfg.Cookies().SessionSecure)
	ck.SetHTTPOnly(a.cfg.Cookies().SessionHTTPOnly)
	c.Response().Header.SetCookie(ck)
}

// bindNewSession runs after a sign-in: when GoAdmin opened a session, the login processor's
// stamp (a digest of the account's credentials) is written into it, and loadSession ends
// the session as soon as the account's stamp differs. Without a stamp the session is ended.
func (a *Admin) bindNewSession(c *fiber.Ctx) error {
	stamp := string(c.Response().Header.Peek(stampHeader))
	c.Response().Header.Del(stampHeader)
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(sessionCookie)
	if !c.Response().Header.Cookie(ck) || len(ck.Value()) == 0 {
		return nil
	}
	sid := string(ck.Value())
	if stamp == "" {
		c.Response().Header.DelCookie(sessionCookie)
		return a.endSession(c.UserContext(), sid)
	}
	return a.stampSession(c.UserContext(), sid, stamp)
}

// formValues reads a urlencoded or multipart body.
func formValues(c *fiber.Ctx) url.Values {
	v := url.Values{}
	if mf, err := c.MultipartForm(); err == nil && mf != nil {
		for k, vals := range mf.Value {
			v[k] = append(v[k], vals...)
		}
		return v
	}
	c.Request().PostArgs().VisitAll(func(k, val []byte) {
		v.Add(string(k), string(val))
	})
	return v
}

// redacted are form fields never written to the operation log.
func redacted(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "token") || strings.Contains(k, "secret") ||
		strings.HasPrefix(k, "__go_admin_t_") || k == csrfField
}

// logOperation writes a change made through the admin to goadmin_operation_log, naming the
// staff member (through the goadmin_users mirror, whose name is the email).
func (a *Admin) logOperation(c *fiber.Ctx, s session, form url.Values) {
	clean := map[string][]string{}
	for k, v := range form {
		if redacted(k) {
			clean[k] = []string{"[redacted]"}
			continue
		}
		clean[k] = v
	}
	input, _ := json.Marshal(clean)
	ip := api.ClientIP(c)
	if a.cfg.ClientIP != nil {
		ip = a.cfg.ClientIP(c)
	}
	if len(ip) > 64 {
		ip = ip[:64]
	}
	if _, err := a.exec(c.UserContext(), "INSERT INTO goadmin_operation_log (user_id, path, method, ip, input) VALUES (?, ?, ?, ?, ?)",
		s.adminID, truncate(c.Path(), 255), c.Method(), ip, string(input)); err != nil {
		a.log.Error("admin: operation log", "err", err, "user", s.user.Email, "path", c.Path())
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
