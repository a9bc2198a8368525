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
}

// Describe lists every setting, core's then the apps', with secrets masked and
// the layer each value came from (like Django's diffsettings --all).
func (s *Settings) Describe() []Line {
	var lines []Line
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
				val = fmt.Sprintf("%q", redactURL(v.String()))
			}
			src := s.Sources[env]
			if src == "" {
				src = "default"
			}
			lines = append(lines, Line{Name: env, Value: val, Source: src})
		})
	}
	add("", s)
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
	for _, l := range s.Describe() {
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
