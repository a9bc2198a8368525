package settings

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Backends are modules, the way Caddy's and database/sql's drivers are: each
// kind of backend (mail, storage) has one [Registry], a core setting names the
// backend to use (EMAIL_BACKEND, STORAGE_BACKEND), and each backend registers
// itself by name, from an init function in its own package or file, with its
// own settings section and validation. Adding a backend is one package and one
// import; nothing else lists backend names.

// Registry holds the backends of one kind, by name. T is what the kind's
// backends build (mail.Backend, storage.Storage). Create one per kind with
// [NewRegistry] and add backends with [Register].
type Registry[T any] struct {
	kind    string
	setting string
	mu      sync.RWMutex
	entries map[string]*entry[T]
}

// entry is one registered backend with its type-erased section.
type entry[T any] struct {
	name       string
	defaults   func() any
	open       func(ctx context.Context, section any, st *Settings) (T, error)
	selectedBy string
	aliases    map[string]string
	deploy     string
}

// Module describes one backend of a kind that builds T. S is its settings
// section: a struct whose fields carry `setting:"NAME"` tags (and
// `secret:"true"` for values `settings` masks), read from the same layers as
// the core's (a layer file's NAME, or NAME in .env and the environment). A
// pointer to S may implement [Validator] and [Resolver].
type Module[T, S any] struct {
	// Settings holds the section's defaults; each Load decodes into a copy.
	Settings S
	// Open builds the backend from its loaded section and the other settings.
	Open func(ctx context.Context, section *S, st *Settings) (T, error)
	// SelectedBy names a setting of the section that, when set (true or not
	// empty), selects this backend unless the kind's setting was given
	// explicitly (in .env, the environment or an override): s3 is selected by
	// ENABLE_MEDIA_UPLOAD_TO_S3, smtp by the Mailgun add-on's MAILGUN_SMTP_SERVER.
	SelectedBy string
	// Aliases maps other environment names to the section's setting names
	// (DJANGO_AWS_ACCESS_KEY_ID to AWS_ACCESS_KEY_ID); the canonical name
	// wins when both are set.
	Aliases map[string]string
	// DeployWarning, when set, is what `check --deploy` says when this backend
	// is selected (console: no email reaches anyone).
	DeployWarning string
}

// Validator is implemented by a section that checks its loaded values. It is
// called for the selected backend only, and returns every problem, each
// naming its setting.
type Validator interface {
	Validate(st *Settings) []string
}

// Resolver is implemented by a section whose values derive from others once
// every layer is read (the Mailgun add-on's variables fill EMAIL_HOST). It is
// called for every registered backend, after the kinds' backends are chosen
// and before validation.
type Resolver interface {
	Resolve(st *Settings)
}

// kinds are the registries, by kind name; Load reads every kind's backends.
var (
	kindsMu sync.RWMutex
	kinds   = map[string]kind{}
)

// kind is what Load needs of a Registry, whatever its T.
type kind interface {
	Kind() string
	Setting() string
	Names() []string
	DeployWarning(st *Settings) string
	sections() []backendSection
	unknown(name string) error
}

// backendSection is one registered backend's section as Load sees it.
type backendSection struct {
	name       string
	defaults   func() any
	selectedBy string
	aliases    map[string]string
}

// NewRegistry returns the registry of the backends of kind (its name, as in
// "mail"), chosen by the core setting named setting (a field of [Settings],
// such as EMAIL_BACKEND). It panics if kind already has a registry or the
// setting does not exist.
func NewRegistry[T any](kind, setting string) *Registry[T] {
	if _, ok := settingField(&Settings{}, setting); !ok {
		panic(fmt.Sprintf("settings: NewRegistry(%q): no setting %s", kind, setting))
	}
	r := &Registry[T]{kind: kind, setting: setting, entries: map[string]*entry[T]{}}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[kind]; dup {
		panic(fmt.Sprintf("settings: NewRegistry called twice for kind %q", kind))
	}
	kinds[kind] = r
	return r
}

// Register adds the backend name to r. Call it from an init function. It
// panics if the name is empty or taken, if the section is not a struct, or if
// one of its settings or aliases is already a setting of the core or of
// another registered backend: every setting has one owner.
func Register[T, S any](r *Registry[T], name string, m Module[T, S]) {
	if name == "" || name != strings.ToLower(strings.TrimSpace(name)) {
		panic(fmt.Sprintf("settings: Register %s backend %q: the name must be lower case, without spaces", r.kind, name))
	}
	if m.Open == nil {
		panic(fmt.Sprintf("settings: Register %s backend %q: no Open", r.kind, name))
	}
	if reflect.TypeFor[S]().Kind() != reflect.Struct {
		panic(fmt.Sprintf("settings: Register %s backend %q: its settings must be a struct, not %s", r.kind, name, reflect.TypeFor[S]()))
	}
	defaults := m.Settings
	e := &entry[T]{
		name:     name,
		defaults: func() any { s := defaults; return &s },
		open: func(ctx context.Context, section any, st *Settings) (T, error) {
			return m.Open(ctx, section.(*S), st)
		},
		selectedBy: m.SelectedBy,
		aliases:    m.Aliases,
		deploy:     m.DeployWarning,
	}
	own := map[string]bool{}
	fields(e.defaults(), func(n, _ string, _ reflect.Value) { own[n] = true })
	if m.SelectedBy != "" && !own[m.SelectedBy] {
		panic(fmt.Sprintf("settings: Register %s backend %q: SelectedBy %s is not one of its settings", r.kind, name, m.SelectedBy))
	}
	for alias, canon := range m.Aliases {
		if !own[canon] {
			panic(fmt.Sprintf("settings: Register %s backend %q: alias %s names %s, which is not one of its settings", r.kind, name, alias, canon))
		}
	}
	taken := ownedNames()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.entries[name]; dup {
		panic(fmt.Sprintf("settings: Register called twice for %s backend %q", r.kind, name))
	}
	for n := range own {
		if owner, ok := taken[n]; ok {
			panic(fmt.Sprintf("settings: Register %s backend %q: setting %s already belongs to %s", r.kind, name, n, owner))
		}
	}
	for alias := range m.Aliases {
		if owner, ok := taken[alias]; ok || own[alias] {
			panic(fmt.Sprintf("settings: Register %s backend %q: alias %s already belongs to %s", r.kind, name, alias, owner))
		}
	}
	r.entries[name] = e
}

// ownedNames maps every setting and alias name of the core and of the
// registered backends to its owner, for Register's conflict check.
func ownedNames() map[string]string {
	taken := map[string]string{}
	fields(&Settings{}, func(n, _ string, _ reflect.Value) { taken[n] = "the core settings" })
	for alias := range aliases {
		taken[alias] = "the core settings"
	}
	for _, k := range registries() {
		for _, sec := range k.sections() {
			owner := fmt.Sprintf("the %s backend %q", k.Kind(), sec.name)
			fields(sec.defaults(), func(n, _ string, _ reflect.Value) { taken[n] = owner })
			for alias := range sec.aliases {
				taken[alias] = owner
			}
		}
	}
	return taken
}

// Kind returns the registry's kind, as in "mail".
func (r *Registry[T]) Kind() string { return r.kind }

// Setting returns the name of the setting that chooses the backend, as in EMAIL_BACKEND.
func (r *Registry[T]) Setting() string { return r.setting }

// Names returns the registered backends' names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry[T]) sections() []backendSection {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]backendSection, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, backendSection{name: e.name, defaults: e.defaults, selectedBy: e.selectedBy, aliases: e.aliases})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Selected returns the name of the backend st selects (the value of the
// kind's setting).
func (r *Registry[T]) Selected(st *Settings) string {
	v, _ := settingField(st, r.setting)
	return v.String()
}

// Open builds the backend st selects, from its loaded section.
func (r *Registry[T]) Open(ctx context.Context, st *Settings) (T, error) {
	var zero T
	name := r.Selected(st)
	r.mu.RLock()
	e, ok := r.entries[name]
	r.mu.RUnlock()
	if !ok {
		return zero, r.unknown(name)
	}
	section := st.Backend(r.kind, name)
	if section == nil {
		return zero, fmt.Errorf("%s: the settings were loaded before the %s backend %q was registered", r.setting, r.kind, name)
	}
	return e.open(ctx, section, st)
}

// DeployWarning returns the selected backend's DeployWarning, or "".
func (r *Registry[T]) DeployWarning(st *Settings) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.entries[r.Selected(st)]; ok {
		return e.deploy
	}
	return ""
}

// unknown is the error for a name no backend of r registered.
func (r *Registry[T]) unknown(name string) error {
	names := r.Names()
	if len(names) == 0 {
		return fmt.Errorf("%s=%q is not a registered %s backend: none is registered (import a package that registers one)", r.setting, name, r.kind)
	}
	return fmt.Errorf("%s=%q is not a registered %s backend: use one of %s", r.setting, name, r.kind, strings.Join(names, ", "))
}

// BackendKind describes one kind of backend for `check` and `settings`.
type BackendKind struct {
	Kind     string   // "mail"
	Setting  string   // "EMAIL_BACKEND"
	Names    []string // the registered backends, sorted
	Selected string   // the backend the settings name
	// DeployWarning is what `check --deploy` says of the selected backend, or "".
	DeployWarning string
}

// Kinds lists every kind of backend, sorted by kind, with its registered
// backends and the one s selects.
func (s *Settings) Kinds() []BackendKind {
	var out []BackendKind
	for _, k := range registries() {
		bk := BackendKind{Kind: k.Kind(), Setting: k.Setting(), Names: k.Names()}
		if v, ok := settingField(s, k.Setting()); ok {
			bk.Selected = v.String()
		}
		bk.DeployWarning = k.DeployWarning(s)
		out = append(out, bk)
	}
	return out
}

// Backend returns the loaded section of the backend name of kind (a pointer
// to its settings struct), or nil when no such backend was registered when
// the settings were loaded.
func (s *Settings) Backend(kind, name string) any { return s.backends[kind][name] }

// registries returns the registered kinds, sorted by name.
func registries() []kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind() < out[j].Kind() })
	return out
}

// backendKeys returns every setting name of the registered backends.
func backendKeys() []string {
	var keys []string
	for _, k := range registries() {
		for _, sec := range k.sections() {
			fields(sec.defaults(), func(n, _ string, _ reflect.Value) { keys = append(keys, n) })
		}
	}
	return keys
}

// Aliases returns every other environment name a setting is read from (the
// core's, such as REDISTOGO_URL, and every registered backend's), mapped to
// the setting's own name.
func Aliases() map[string]string { return allAliases() }

// allAliases returns the core's aliases and every registered backend's.
func allAliases() map[string]string {
	out := make(map[string]string, len(aliases))
	for a, c := range aliases {
		out[a] = c
	}
	for _, k := range registries() {
		for _, sec := range k.sections() {
			for a, c := range sec.aliases {
				out[a] = c
			}
		}
	}
	return out
}

// loadBackends decodes a copy of every registered backend's defaults with
// decode, so that a bad value is reported whichever backend is selected.
func (s *Settings) loadBackends(decode func(prefix string, target any)) {
	s.backends = map[string]map[string]any{}
	for _, k := range registries() {
		m := map[string]any{}
		for _, sec := range k.sections() {
			target := sec.defaults()
			decode("", target)
			m[sec.name] = target
		}
		s.backends[k.Kind()] = m
	}
}

// resolveBackends chooses each kind's backend when a SelectedBy setting is
// set and the kind's setting was not given explicitly, then runs the
// sections' Resolve.
func (s *Settings) resolveBackends() {
	for _, k := range registries() {
		field, ok := settingField(s, k.Setting())
		if !ok {
			continue
		}
		field.SetString(strings.ToLower(strings.TrimSpace(field.String())))
		if !s.Explicit(k.Setting()) {
			for _, sec := range k.sections() {
				if sec.selectedBy == "" {
					continue
				}
				if v, ok := settingField(s.backends[k.Kind()][sec.name], sec.selectedBy); ok && !v.IsZero() {
					field.SetString(sec.name)
					break
				}
			}
		}
		for _, sec := range k.sections() {
			if r, ok := s.backends[k.Kind()][sec.name].(Resolver); ok {
				r.Resolve(s)
			}
		}
	}
}

// validateBackends checks that each kind's setting names a registered backend
// and runs the selected backend's Validate.
func (s *Settings) validateBackends() []string {
	var p []string
	for _, k := range registries() {
		name := ""
		if v, ok := settingField(s, k.Setting()); ok {
			name = v.String()
		}
		section, ok := s.backends[k.Kind()][name]
		if !ok {
			p = append(p, k.unknown(name).Error())
			continue
		}
		if v, ok := section.(Validator); ok {
			p = append(p, v.Validate(s)...)
		}
	}
	return p
}

// Explicit reports whether the setting name was given outside the layer
// files: in .env, the environment or an override.
func (s *Settings) Explicit(name string) bool {
	src := s.Sources[name]
	return src != "" && src != "default" && !strings.HasSuffix(src, ".toml")
}

// settingField returns the field of the struct ptr points to that carries
// the tag setting:"name".
func settingField(ptr any, name string) (reflect.Value, bool) {
	var out reflect.Value
	found := false
	if ptr == nil {
		return out, false
	}
	fields(ptr, func(n, _ string, v reflect.Value) {
		if n == name && !found {
			out, found = v, true
		}
	})
	return out, found
}

// header is the comment line `settings` prints before a kind's backends.
func (bk BackendKind) header() string {
	names := slices.Clone(bk.Names)
	for i, n := range names {
		if n == bk.Selected {
			names[i] = n + " (selected)"
		}
	}
	return fmt.Sprintf("# %s backends, chosen by %s: %s", bk.Kind, bk.Setting, strings.Join(names, ", "))
}
