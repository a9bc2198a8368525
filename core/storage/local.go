package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"

	"manouche/settings"
)

// LocalSettings is the local backend's settings section.
type LocalSettings struct {
	// Root is the folder files are stored in (MEDIA_ROOT).
	Root string `setting:"MEDIA_ROOT"`
	// URL is the URL path the folder is served under (MEDIA_URL).
	URL string `setting:"MEDIA_URL"`
}

// Resolve implements settings.Resolver: MEDIA_URL becomes /PATH/.
func (s *LocalSettings) Resolve(*settings.Settings) {
	s.URL = "/" + strings.Trim(s.URL, "/") + "/"
}

// Validate implements settings.Validator. The testing layer may leave
// MEDIA_ROOT empty: the test kit gives each test a folder of its own.
func (s *LocalSettings) Validate(st *settings.Settings) []string {
	if s.Root == "" && st.Layer != "testing" {
		return []string{"MEDIA_ROOT is required with STORAGE_BACKEND=local"}
	}
	return nil
}

func init() {
	Register("local", Module[LocalSettings]{
		Settings: LocalSettings{Root: "media", URL: "/media/"},
		Open: func(_ context.Context, s *LocalSettings, _ *settings.Settings) (Storage, error) {
			return NewLocal(LocalConfig{Root: s.Root, BaseURL: s.URL})
		},
		DeployWarning: "uploads are lost on Heroku, whose disk is not persistent. Use s3 (ENABLE_MEDIA_UPLOAD_TO_S3=true and AWS_*).",
	})
}

// LocalConfig configures the local folder backend.
type LocalConfig struct {
	// Root is the folder files are stored in (MEDIA_ROOT); it is created when
	// missing.
	Root string
	// BaseURL is the URL prefix the folder is served under (MEDIA_URL, such as
	// "/media/" or "https://example.com/media/"). URL returns BaseURL + name:
	// when BaseURL is a path, the caller makes it absolute with the site's
	// scheme and domain.
	BaseURL string
}

// Local stores files in a folder on the local disk. Every file access goes
// through an [os.Root], so no name, symbolic link or race can reach outside
// the folder. It is safe for concurrent use; Close releases the folder.
type Local struct {
	root    *os.Root
	baseURL string
}

// NewLocal opens (creating when missing) the folder cfg.Root.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if cfg.Root == "" {
		return nil, errors.New("storage: local: MEDIA_ROOT is empty")
	}
	if err := os.MkdirAll(cfg.Root, 0o755); err != nil {
		return nil, fmt.Errorf("storage: local: create MEDIA_ROOT: %w", err)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("storage: local: open MEDIA_ROOT: %w", err)
	}
	base := cfg.BaseURL
	if base == "" {
		base = "/media/"
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return &Local{root: root, baseURL: base}, nil
}

// Close releases the folder.
func (l *Local) Close() error { return l.root.Close() }

// BaseURL returns the URL prefix the folder is served under, ending with "/".
func (l *Local) BaseURL() string { return l.baseURL }

// Save implements [Storage]: it writes r to a hidden temporary file in the
// target folder, then hard-links it to a fresh unique name (which fails rather
// than overwrite) and removes the temporary file.
func (l *Local) Save(ctx context.Context, name string, r io.Reader, opts SaveOptions) (string, error) {
	dir, filename, err := splitName(name)
	if err != nil {
		return "", fmt.Errorf("storage: local: save: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return "", fmt.Errorf("storage: local: save: %w", err)
	}
	if dir != "" {
		if err := l.root.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("storage: local: save: create %q: %w", dir, err)
		}
	}
	tmp, err := l.writeTemp(ctx, dir, r)
	if err != nil {
		return "", fmt.Errorf("storage: local: save %q: %w", name, err)
	}
	defer func() { _ = l.root.Remove(tmp) }()
	for range 3 {
		stored, err := SafeName(dir, filename)
		if err != nil {
			return "", fmt.Errorf("storage: local: save: %w", err)
		}
		err = l.root.Link(tmp, stored)
		if errors.Is(err, fs.ErrExist) {
			continue // astronomically unlikely: draw another name
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// A file system without hard links: rename, which cannot fail
			// on an existing name but may replace it; with 128 random bits
			// in every name that does not happen.
			if _, statErr := l.root.Lstat(stored); statErr == nil {
				continue
			}
			err = l.root.Rename(tmp, stored)
		}
		if err != nil {
			return "", fmt.Errorf("storage: local: save %q: %w", stored, err)
		}
		return stored, nil
	}
	return "", fmt.Errorf("storage: local: save %q: no free name after 3 tries", name)
}

// writeTemp copies r into a new hidden file of dir and returns its name.
func (l *Local) writeTemp(ctx context.Context, dir string, r io.Reader) (string, error) {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", err
	}
	tmp := path.Join(dir, ".tmp-"+hex.EncodeToString(random[:]))
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, ctxReader{ctx, r})
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = l.root.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// Open implements [Storage].
func (l *Local) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, fmt.Errorf("storage: local: open: %w", err)
	}
	f, err := l.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("storage: local: open %q: %w", name, notFound(err))
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("storage: local: open %q: %w", name, ErrNotFound)
	}
	return f, nil
}

// Delete implements [Storage].
func (l *Local) Delete(_ context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("storage: local: delete: %w", err)
	}
	st, err := l.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && st.IsDir() {
		return fmt.Errorf("storage: local: delete %q: %w", name, ErrNotFound)
	}
	if err == nil {
		err = l.root.Remove(name)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: local: delete %q: %w", name, err)
	}
	return nil
}

// Exists implements [Storage].
func (l *Local) Exists(ctx context.Context, name string) (bool, error) {
	_, err := l.Size(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Size implements [Storage].
func (l *Local) Size(_ context.Context, name string) (int64, error) {
	if err := CheckName(name); err != nil {
		return 0, fmt.Errorf("storage: local: size: %w", err)
	}
	st, err := l.root.Stat(name)
	if err != nil {
		return 0, fmt.Errorf("storage: local: size %q: %w", name, notFound(err))
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("storage: local: size %q: %w", name, ErrNotFound)
	}
	return st.Size(), nil
}

// URL implements [Storage]: BaseURL followed by the escaped name. It does not
// check that the file exists.
func (l *Local) URL(_ context.Context, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", fmt.Errorf("storage: local: url: %w", err)
	}
	return l.baseURL + escapePath(name), nil
}

// Ping implements [Pinger]: the folder must accept a new file.
func (l *Local) Ping(ctx context.Context) error {
	tmp, err := l.writeTemp(ctx, "", strings.NewReader(""))
	if err != nil {
		return fmt.Errorf("storage: local: ping: %w: %w", ErrUnavailable, err)
	}
	_ = l.root.Remove(tmp)
	return nil
}

// FS returns the stored files as an fs.FS, for serving MEDIA_URL in
// development (http.FileServerFS, or Fiber's filesystem middleware). It opens
// regular files only: a directory, a hidden file (such as an upload still
// being written) or an unsafe name is reported as fs.ErrNotExist, so a file
// server can neither list a folder nor leak a name.
func (l *Local) FS() fs.FS { return filesOnly{l.root.FS()} }

// filesOnly is an fs.FS that opens only regular files with safe names.
type filesOnly struct{ fsys fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) || CheckName(name) != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	file, err := f.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = file.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return file, nil
}

// notFound adds ErrNotFound to a missing-file error.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// escapePath escapes each segment of a slash-separated name for a URL path.
func escapePath(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// ctxReader stops a copy when its context ends (a client that went away).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var (
	_ Storage   = (*Local)(nil)
	_ Pinger    = (*Local)(nil)
	_ io.Closer = (*Local)(nil)
)
