// Package templates finds and renders the project's HTML templates. The project
// folder templates/ shadows the apps' own template folders, the way Django's
// DIRS come before APP_DIRS: a project can restyle any app's page or email by
// putting a file of the same name in templates/.
package templates

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"sort"
	"sync"
	"time"
)

// Overlay returns a file system that serves each path from the first of fss
// that has it. Directory listings merge all of them.
func Overlay(fss ...fs.FS) fs.FS {
	var nonNil []fs.FS
	for _, f := range fss {
		if f != nil {
			nonNil = append(nonNil, f)
		}
	}
	return overlay(nonNil)
}

type overlay []fs.FS

func (o overlay) Open(name string) (fs.File, error) {
	var firstErr error
	for _, f := range o {
		file, err := f.Open(name)
		if err == nil {
			return file, nil
		}
		if firstErr == nil || !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fs.ErrNotExist
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: firstErr}
}

// ReadDir merges the listings of every layer, the first layer winning per name.
func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	seen := map[string]bool{}
	var out []fs.DirEntry
	found := false
	for _, f := range o {
		entries, err := fs.ReadDir(f, name)
		if err != nil {
			continue
		}
		found = true
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Set renders HTML pages from a file system. Each page is parsed together with
// the files under layouts/, so a page can define blocks and call a layout:
//
//	{{define "content"}}…{{end}}{{template "layouts/base.html" .}}
type Set struct {
	fsys   fs.FS
	funcs  template.FuncMap
	reload bool
	mu     sync.Mutex
	cache  map[string]*template.Template
}

// New returns a Set over fsys. With reload on (development), templates are
// parsed again on every render so edits show without a restart.
func New(fsys fs.FS, reload bool) *Set {
	return &Set{fsys: fsys, reload: reload, cache: map[string]*template.Template{}, funcs: template.FuncMap{
		"now": func() time.Time { return time.Now().UTC() },
	}}
}

// FS returns the file system the set reads.
func (s *Set) FS() fs.FS { return s.fsys }

// Render executes the page name into w. The output is buffered, so a failing
// template writes nothing.
func (s *Set) Render(w io.Writer, name string, data any) error {
	t, err := s.lookup(name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("templates: render %s: %w", name, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func (s *Set) lookup(name string) (*template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.cache[name]; ok && !s.reload {
		return t, nil
	}
	t := template.New("").Funcs(s.funcs)
	layouts, _ := fs.Glob(s.fsys, "layouts/*.html")
	for _, l := range append(layouts, name) {
		b, err := fs.ReadFile(s.fsys, l)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", l, err)
		}
		if _, err := t.New(l).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("templates: parse %s: %w", l, err)
		}
	}
	s.cache[name] = t
	return t, nil
}
