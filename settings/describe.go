package settings

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
)

// Line is one setting as `go run . settings` prints it.
type Line struct {
	Name   string // the environment variable name
	Value  string // rendered, secrets masked
	Source string // the layer the value came from
	// Backend is "KIND NAME" (as in "mail smtp") for a backend's setting, "" otherwise.
	Backend string
}

// Describe lists every setting, core's, then every registered backend's by
// kind and name, then the apps', with secrets masked and the layer each value
// came from (like Django's diffsettings --all).
func (s *Settings) Describe() []Line {
	var lines []Line
	backend := ""
	add := func(prefix string, target any) {
		fields(target, func(name, secret string, v reflect.Value) {
			env := envNameOf(prefix + name)
			val := display(v)
			switch secret {
			case "true":
				if !v.IsZero() {
					val = "'********'"
				}
			case "url":
				if v.Kind() == reflect.Slice {
					var urls []string
					for i := range v.Len() {
						urls = append(urls, redactURL(v.Index(i).String()))
					}
					val = fmt.Sprintf("%q", urls)
				} else {
					val = fmt.Sprintf("%q", redactURL(v.String()))
				}
			}
			src := s.Sources[env]
			if src == "" {
				src = "default"
			}
			lines = append(lines, Line{Name: env, Value: val, Source: src, Backend: backend})
		})
	}
	add("", s)
	for _, k := range s.Kinds() {
		for _, name := range k.Names {
			if sec := s.Backend(k.Kind, name); sec != nil {
				backend = k.Kind + " " + name
				add("", sec)
			}
		}
	}
	backend = ""
	apps := make([]string, 0, len(s.Apps))
	for name := range s.Apps {
		apps = append(apps, name)
	}
	sort.Strings(apps)
	for _, name := range apps {
		add(name+".", s.Apps[name])
	}
	return lines
}

// String renders Describe as aligned text.
func (s *Settings) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# SETTINGS=%s\n", s.Layer)
	for _, k := range s.Kinds() {
		fmt.Fprintf(&b, "%s\n", k.header())
	}
	backend := ""
	for _, l := range s.Describe() {
		if l.Backend != backend {
			if kind, name, ok := strings.Cut(l.Backend, " "); ok {
				fmt.Fprintf(&b, "# %s backend %q\n", kind, name)
			} else {
				b.WriteString("# apps\n")
			}
			backend = l.Backend
		}
		fmt.Fprintf(&b, "%s = %s  # %s\n", l.Name, l.Value, l.Source)
	}
	return b.String()
}

// redactURL hides the password of a URL: postgres://app:********@host/db.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); i > 0 && strings.Contains(raw[:i], ":") {
			return "********" + raw[i:]
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		return strings.Replace(u.String(), ":xxxxx@", ":********@", 1)
	}
	return u.String()
}
