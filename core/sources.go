package core

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
)

// ProjectTemplatesDir is the project's templates folder, relative to the
// project's root (package manouche/templates embeds it).
const ProjectTemplatesDir = "templates"

// SourceRoot reports whether dir is the source folder of the module the
// installed apps belong to: it holds a go.mod whose module path prefixes
// their package paths. A process started there (`go run .`, runserver in a
// checkout) can read the apps' templates from disk and rebuild itself.
func SourceRoot(dir string, apps []App) (module string, ok bool) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, found := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); found {
			module = strings.Trim(strings.TrimSpace(rest), `"`)
			break
		}
	}
	if module == "" {
		return "", false
	}
	for _, app := range apps {
		if pkg := appPackage(app); pkg != module && !strings.HasPrefix(pkg, module+"/") {
			return "", false
		}
	}
	return module, true
}

// appPackage is the import path of the package that declares an app's type.
func appPackage(app App) string {
	t := reflect.TypeOf(app)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath()
}

// TemplateSourceDirs returns, for a project run from its source folder root
// (see SourceRoot), the folders on disk its templates are embedded from, in
// the order they shadow each other: the project's templates/ first, then
// each Templater app's templates/ beside its Go files (apps/NAME/templates),
// "" for an app with no such folder. It returns nil when root is not the
// apps' source folder.
func TemplateSourceDirs(root string, apps []App) []string {
	module, ok := SourceRoot(root, apps)
	if !ok {
		return nil
	}
	dirs := []string{dirIfExists(root, ProjectTemplatesDir)}
	for _, app := range apps {
		if _, ok := app.(Templater); !ok {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(appPackage(app), module), "/")
		dirs = append(dirs, dirIfExists(root, path.Join(rel, "templates")))
	}
	return dirs
}

func dirIfExists(root, rel string) string {
	if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err == nil && fi.IsDir() {
		return filepath.FromSlash(rel)
	}
	return ""
}
