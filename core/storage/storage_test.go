package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"

	"manouche/core/storage"
	"manouche/core/storage/storagetest"
)

// backend is one Storage under test, with what the test needs to look inside.
type backend struct {
	name string
	st   storage.Storage
	// files lists every stored file or object, to prove nothing else was
	// written (no temporary file left, nothing outside the root).
	files func(t *testing.T) []string
}

// backends returns a fresh local and a fresh S3 (gofakes3) backend.
func backends(t *testing.T) []backend {
	t.Helper()
	return []backend{newLocal(t), newS3(t, nil)}
}

func newLocal(t *testing.T) backend {
	t.Helper()
	parent := t.TempDir()
	root := filepath.Join(parent, "media")
	st, err := storage.NewLocal(storage.LocalConfig{Root: root, BaseURL: "/media/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return backend{name: "local", st: st, files: func(t *testing.T) []string {
		t.Helper()
		var files []string
		// Walk the parent: a file written outside the root shows up too.
		err := filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(parent, p)
			files = append(files, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}}
}

// newS3 returns an S3 backend on a fresh in-process server; edit adjusts the
// config.
func newS3(t *testing.T, edit func(*storage.S3Config)) backend {
	t.Helper()
	srv := storagetest.NewS3Server(t, "media")
	cfg := srv.Config()
	cfg.TempDir = t.TempDir()
	if edit != nil {
		edit(&cfg)
	}
	st, err := storage.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return backend{name: "s3", st: st, files: func(t *testing.T) []string {
		t.Helper()
		list, err := srv.Backend.ListBucket("media", nil, gofakes3ListAll)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range list.Contents {
			keys = append(keys, "media/"+o.Key)
		}
		spooled, _ := os.ReadDir(cfg.TempDir)
		for _, e := range spooled {
			keys = append(keys, "spool/"+e.Name())
		}
		return keys
	}}
}

var storedName = regexp.MustCompile(`^avatars/[0-9a-f]{32}-photo\.png$`)

func TestSaveOpenSizeExistsDelete(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			content := []byte("hello, media")
			name, err := b.st.Save(ctx, "avatars/photo.png", bytes.NewReader(content), storage.SaveOptions{})
			if err != nil {
				t.Fatalf("Save: %v", err)
			}
			if !storedName.MatchString(name) {
				t.Fatalf("Save returned %q, want avatars/<32 hex>-photo.png", name)
			}
			if got := readAll(t, b.st, name); !bytes.Equal(got, content) {
				t.Fatalf("Open read %q, want %q", got, content)
			}
			if size, err := b.st.Size(ctx, name); err != nil || size != int64(len(content)) {
				t.Fatalf("Size = %d, %v; want %d", size, err, len(content))
			}
			if ok, err := b.st.Exists(ctx, name); err != nil || !ok {
				t.Fatalf("Exists = %v, %v; want true", ok, err)
			}
			if err := b.st.Delete(ctx, name); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if ok, err := b.st.Exists(ctx, name); err != nil || ok {
				t.Fatalf("Exists after Delete = %v, %v; want false", ok, err)
			}
			if err := b.st.Delete(ctx, name); err != nil {
				t.Fatalf("Delete of a missing file: %v, want nil", err)
			}
			if _, err := b.st.Open(ctx, name); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Open of a missing file: %v, want ErrNotFound", err)
			}
			if _, err := b.st.Size(ctx, name); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Size of a missing file: %v, want ErrNotFound", err)
			}
			if files := b.files(t); len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
		})
	}
}

// A stream of unknown length (not seekable) is stored whole, and an empty
// file too.
func TestSaveStreams(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, content := range [][]byte{big, {}} {
				pr, pw := io.Pipe()
				go func() { _, _ = pw.Write(content); _ = pw.Close() }()
				name, err := b.st.Save(context.Background(), "docs/blob.bin", pr, storage.SaveOptions{})
				if err != nil {
					t.Fatalf("Save: %v", err)
				}
				if got := readAll(t, b.st, name); !bytes.Equal(got, content) {
					t.Fatalf("read back %d bytes, want %d", len(got), len(content))
				}
			}
			if files := b.files(t); len(files) != 2 {
				t.Fatalf("files: %v, want the two saved (no spool file left)", files)
			}
		})
	}
}

// Saving the same name twice, even at once, gives distinct names and keeps
// every content.
func TestSaveNeverOverwrites(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			const n = 20
			names := make([]string, n)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					name, err := b.st.Save(context.Background(), "a.png", strings.NewReader(fmt.Sprint("content ", i)), storage.SaveOptions{})
					names[i] = name
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("Save: %v", err)
				}
			}
			seen := map[string]bool{}
			for i, name := range names {
				if seen[name] {
					t.Fatalf("name %q given twice", name)
				}
				seen[name] = true
				if got := string(readAll(t, b.st, name)); got != fmt.Sprint("content ", i) {
					t.Fatalf("%s holds %q, want %q", name, got, fmt.Sprint("content ", i))
				}
			}
		})
	}
}

// Unsafe names are refused before anything is written.
func TestSaveRejectsUnsafeNames(t *testing.T) {
	t.Parallel()
	names := []string{
		"../../etc/passwd",
		"../escape.png",
		"a/../../b",
		"a/./b.png",
		"/abs",
		"/etc/passwd",
		`\abs.png`,
		`a\..\b/x.png`,
		"a//b.png",
		".hidden/x.png",
		"a/\x00/b.png",
		"nul\x00.png",
		"dir with space/x.png",
		strings.Repeat("d", 300) + "/x.png",
		strings.Repeat("d/", 300) + "x.png",
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range names {
				stored, err := b.st.Save(context.Background(), name, strings.NewReader("x"), storage.SaveOptions{})
				if !errors.Is(err, storage.ErrInvalidName) {
					t.Errorf("Save(%q) = %q, %v; want ErrInvalidName", name, stored, err)
				}
			}
			if files := b.files(t); len(files) != 0 {
				t.Fatalf("files written: %v", files)
			}
		})
	}
}

// The client's part of a name (after the last slash) is sanitized, not
// refused.
func TestSaveSanitizesFilename(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"up/photo.png", `^up/[0-9a-f]{32}-photo\.png$`},
		{"up/My Photo (1).PNG", `^up/[0-9a-f]{32}-My_Photo_1\.png$`},
		{"up/..", `^up/[0-9a-f]{32}-file$`},
		{"up/.htaccess", `^up/[0-9a-f]{32}-htaccess$`},
		{"up/фото.jpg", `^up/[0-9a-f]{32}-file\.jpg$`},
		{`up/C:\Users\me\cat.webp`, `^up/[0-9a-f]{32}-cat\.webp$`},
		{"up/" + strings.Repeat("x", 1000) + ".jpeg", `^up/[0-9a-f]{32}-x{100}\.jpeg$`},
		{"up/a." + strings.Repeat("e", 50), `^up/[0-9a-f]{32}-a\.e{10}$`},
		{"", `^[0-9a-f]{32}-file$`},
		{"plain.txt", `^[0-9a-f]{32}-plain\.txt$`},
	}
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				stored, err := b.st.Save(context.Background(), c.in, strings.NewReader("x"), storage.SaveOptions{})
				if err != nil {
					t.Errorf("Save(%q): %v", c.in, err)
					continue
				}
				if !regexp.MustCompile(c.want).MatchString(stored) {
					t.Errorf("Save(%q) stored %q, want match of %s", c.in, stored, c.want)
				}
				if got := string(readAll(t, b.st, stored)); got != "x" {
					t.Errorf("%q holds %q", stored, got)
				}
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dir, filename string
		want          string // regexp, or "" for ErrInvalidName
	}{
		{"avatars", "photo.png", `^avatars/[0-9a-f]{32}-photo\.png$`},
		{"avatars/2026/11", "../../etc/passwd", `^avatars/2026/11/[0-9a-f]{32}-passwd$`},
		{"", "/abs", `^[0-9a-f]{32}-abs$`},
		{"avatars", "a/../../b", `^avatars/[0-9a-f]{32}-b$`},
		{"avatars", "bad\x00.png", ""},
		{"..", "x.png", ""},
		{"a/../b", "x.png", ""},
		{"/abs", "x.png", ""},
		{"a/", "x.png", ""},
		{`a\b`, "x.png", ""},
		{"a\x00", "x.png", ""},
	}
	for _, c := range cases {
		got, err := storage.SafeName(c.dir, c.filename)
		if c.want == "" {
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("SafeName(%q, %q) = %q, %v; want ErrInvalidName", c.dir, c.filename, got, err)
			}
			continue
		}
		if err != nil || !regexp.MustCompile(c.want).MatchString(got) {
			t.Errorf("SafeName(%q, %q) = %q, %v; want match of %s", c.dir, c.filename, got, err, c.want)
		}
		if err := storage.CheckName(got); err != nil {
			t.Errorf("CheckName(SafeName(%q, %q)) = %v", c.dir, c.filename, err)
		}
	}
	a, _ := storage.SafeName("x", "a.png")
	b, _ := storage.SafeName("x", "a.png")
	if a == b {
		t.Errorf("SafeName gave %q twice", a)
	}
}

// Open, Delete, Exists, Size and URL refuse unsafe names too.
func TestNamedOperationsRejectUnsafeNames(t *testing.T) {
	t.Parallel()
	names := []string{
		"", "../../etc/passwd", "a/../../b", "/abs", "/etc/passwd", `a\b`, "a//b",
		".hidden", "a/.tmp-1234", "x\x00y", "bad\nname", "\xff\xfe", strings.Repeat("a", 256),
		strings.Repeat("a/", 600) + "b",
	}
	ctx := context.Background()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range names {
				_, openErr := b.st.Open(ctx, name)
				_, existsErr := b.st.Exists(ctx, name)
				_, sizeErr := b.st.Size(ctx, name)
				_, urlErr := b.st.URL(ctx, name)
				deleteErr := b.st.Delete(ctx, name)
				for op, err := range map[string]error{"Open": openErr, "Exists": existsErr, "Size": sizeErr, "URL": urlErr, "Delete": deleteErr} {
					if !errors.Is(err, storage.ErrInvalidName) {
						t.Errorf("%s(%q): %v, want ErrInvalidName", op, name, err)
					}
				}
			}
		})
	}
}

// A reader that fails part way leaves nothing behind.
func TestSaveFailingReaderLeavesNothing(t *testing.T) {
	t.Parallel()
	boom := errors.New("client went away")
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			r := io.MultiReader(strings.NewReader(strings.Repeat("x", 100_000)), errReader{boom})
			if name, err := b.st.Save(context.Background(), "up/a.bin", r, storage.SaveOptions{}); !errors.Is(err, boom) {
				t.Fatalf("Save = %q, %v; want the reader's error", name, err)
			}
			if files := b.files(t); len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
		})
	}
}

func TestLocalURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ base, want string }{
		{"/media/", "/media/avatars/x%20y.png"},
		{"/media", "/media/avatars/x%20y.png"},
		{"https://example.com/m/", "https://example.com/m/avatars/x%20y.png"},
		{"", "/media/avatars/x%20y.png"},
	} {
		st, err := storage.NewLocal(storage.LocalConfig{Root: t.TempDir(), BaseURL: c.base})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.URL(context.Background(), "avatars/x y.png")
		if err != nil || got != c.want {
			t.Errorf("BaseURL %q: URL = %q, %v; want %q", c.base, got, err, c.want)
		}
		_ = st.Close()
	}
}

func TestS3URLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("signed", func(t *testing.T) {
		t.Parallel()
		b := newS3(t, func(c *storage.S3Config) { c.QuerystringAuth, c.QuerystringExpire = true, 90*time.Second })
		name := saveString(t, b.st, "avatars/a.png", "signed content")
		raw, err := b.st.URL(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Expires") != "90" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			t.Fatalf("URL %s: want X-Amz-Signature, X-Amz-Expires=90, X-Amz-Algorithm", raw)
		}
		if !strings.HasSuffix(u.Path, "/media/"+name) {
			t.Fatalf("URL path %q, want it to end with /media/%s", u.Path, name)
		}
		if got := httpGet(t, raw); got != "signed content" {
			t.Fatalf("GET signed URL = %q", got)
		}
	})
	t.Run("public", func(t *testing.T) {
		t.Parallel()
		b := newS3(t, func(c *storage.S3Config) { c.QuerystringAuth = false })
		name := saveString(t, b.st, "avatars/a.png", "public content")
		raw, err := b.st.URL(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "X-Amz-") || !strings.HasSuffix(raw, "/media/"+name) || !strings.HasPrefix(raw, "http://127.0.0.1:") {
			t.Fatalf("public URL %q, want <endpoint>/media/%s without a signature", raw, name)
		}
		if got := httpGet(t, raw); got != "public content" {
			t.Fatalf("GET public URL = %q", got)
		}
	})
	t.Run("custom domain", func(t *testing.T) {
		t.Parallel()
		for _, domain := range []string{"cdn.example.com", "https://cdn.example.com/"} {
			b := newS3(t, func(c *storage.S3Config) { c.CustomDomain = domain })
			got, err := b.st.URL(ctx, "avatars/x y.png")
			if err != nil || got != "https://cdn.example.com/avatars/x%20y.png" {
				t.Errorf("CustomDomain %q: URL = %q, %v", domain, got, err)
			}
		}
	})
	t.Run("aws", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			pathStyle bool
			want      string
		}{
			{false, "https://bkt.s3.eu-west-3.amazonaws.com/a/b.png"},
			{true, "https://s3.eu-west-3.amazonaws.com/bkt/a/b.png"},
		} {
			st, err := storage.NewS3(ctx, storage.S3Config{Bucket: "bkt", Region: "eu-west-3", UsePathStyle: c.pathStyle,
				AccessKeyID: "k", SecretAccessKey: "s"})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := st.URL(ctx, "a/b.png"); err != nil || got != c.want {
				t.Errorf("path style %v: URL = %q, %v; want %q", c.pathStyle, got, err, c.want)
			}
		}
	})
}

// Cache-Control and Content-Type are stored with the object.
func TestS3ObjectHeaders(t *testing.T) {
	t.Parallel()
	srv := storagetest.NewS3Server(t, "media")
	cfg := srv.Config()
	cfg.CacheControl = "max-age=86400, public"
	st, err := storage.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(srv.URL), true
	})
	cases := []struct {
		name string
		opts storage.SaveOptions
		cc   string
		ct   string
	}{
		{"up/a.png", storage.SaveOptions{}, "max-age=86400, public", "image/png"},
		{"up/a.png", storage.SaveOptions{ContentType: "image/webp", CacheControl: "no-cache"}, "no-cache", "image/webp"},
		{"up/noext", storage.SaveOptions{}, "max-age=86400, public", "application/octet-stream"},
	}
	for _, c := range cases {
		key, err := st.Save(context.Background(), c.name, strings.NewReader("x"), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		head, err := raw.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("media"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(head.CacheControl); got != c.cc {
			t.Errorf("%s: Cache-Control %q, want %q", c.name, got, c.cc)
		}
		if got := aws.ToString(head.ContentType); got != c.ct {
			t.Errorf("%s: Content-Type %q, want %q", c.name, got, c.ct)
		}
	}
}

// An endpoint that is down gives ErrUnavailable on every operation, and an
// upload leaves no spool file.
func TestS3Unavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there any more: connection refused

	failing := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>")
	}))
	// A server that accepts connections, then never answers (nor reads).
	stalled, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stalled.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := stalled.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	cases := []struct {
		name     string
		endpoint string
		attempts int
		timeout  time.Duration
	}{
		{"closed port", closedURL, 1, 0},
		{"closed port, default retries", closedURL, 0, 0},
		{"503", failing, 1, 0},
		{"503, default retries", failing, 0, 0},
		{"stalled server", "http://" + stalled.Addr().String(), 1, 300 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			spool := t.TempDir()
			st, err := storage.NewS3(context.Background(), storage.S3Config{
				Bucket: "media", Endpoint: c.endpoint, AccessKeyID: "k", SecretAccessKey: "s",
				MaxAttempts: c.attempts, ConnectTimeout: time.Second, ResponseTimeout: 2 * time.Second,
				Timeout: c.timeout, TempDir: spool,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pr, pw := io.Pipe()
			go func() { _, _ = pw.Write(bytes.Repeat([]byte("x"), 1<<20)); _ = pw.Close() }()
			_, saveErr := st.Save(ctx, "up/a.png", pr, storage.SaveOptions{})
			_, openErr := st.Open(ctx, "up/a.png")
			_, existsErr := st.Exists(ctx, "up/a.png")
			_, sizeErr := st.Size(ctx, "up/a.png")
			deleteErr := st.Delete(ctx, "up/a.png")
			pingErr := st.Ping(ctx)
			for op, err := range map[string]error{"Save": saveErr, "Open": openErr, "Exists": existsErr, "Size": sizeErr, "Delete": deleteErr, "Ping": pingErr} {
				if !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("%s: %v, want ErrUnavailable", op, err)
				}
			}
			if left, _ := os.ReadDir(spool); len(left) != 0 {
				t.Errorf("spool files left: %v", left)
			}
		})
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, b := range backends(t) {
		if err := storage.Ping(ctx, b.st); err != nil {
			t.Errorf("%s: Ping: %v", b.name, err)
		}
	}
	missing := newS3(t, func(c *storage.S3Config) { c.Bucket = "no-such-bucket" })
	err := storage.Ping(ctx, missing.st)
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping of a missing bucket: %v, want a configuration error, not ErrUnavailable", err)
	}
}

// helpers

// newS3Server starts an in-process S3 server and returns its config.
func newS3Server(tb testing.TB) storage.S3Config {
	tb.Helper()
	return storagetest.NewS3Server(tb, "media").Config()
}

// gofakes3ListAll asks gofakes3's backend for every key at once.
var gofakes3ListAll = gofakes3.ListBucketPage{}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func readAll(t *testing.T, st storage.Storage, name string) []byte {
	t.Helper()
	rc, err := st.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return b
}

func saveString(t *testing.T, st storage.Storage, name, content string) string {
	t.Helper()
	stored, err := st.Save(context.Background(), name, strings.NewReader(content), storage.SaveOptions{})
	if err != nil {
		t.Fatalf("Save(%q): %v", name, err)
	}
	return stored
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, b)
	}
	return string(b)
}

// Uploads carry If-None-Match: *, and when S3 answers 412 (the name is
// taken) Save draws another name instead of failing or overwriting.
func TestS3SaveRetriesTakenName(t *testing.T) {
	t.Parallel()
	srv := storagetest.NewS3Server(t, "media")
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu       sync.Mutex
		puts     []string // keys of the PUTs seen
		refusals = 1      // how many PUTs to answer 412
	)
	front := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if r.Header.Get("If-None-Match") != "*" {
				t.Errorf("PUT %s without If-None-Match: *", r.URL.Path)
			}
			mu.Lock()
			puts = append(puts, r.URL.Path)
			refuse := refusals > 0
			refusals--
			mu.Unlock()
			if refuse {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusPreconditionFailed)
				_, _ = io.WriteString(w, "<Error><Code>PreconditionFailed</Code><Message>taken</Message></Error>")
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	cfg := srv.Config()
	cfg.Endpoint = front
	st, err := storage.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	name, err := st.Save(context.Background(), "up/a.png", strings.NewReader("content"), storage.SaveOptions{})
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	if len(puts) != 2 || puts[0] == puts[1] || puts[1] != "/media/"+name {
		t.Fatalf("PUTs %v, stored %q: want a second PUT under a new name", puts, name)
	}
	if got := string(readAll(t, st, name)); got != "content" {
		t.Fatalf("read back %q", got)
	}
}

// The local folder is served as files only: no listing, no hidden file, no
// escape.
func TestLocalFS(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	st, err := storage.NewLocal(storage.LocalConfig{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	name := saveString(t, st, "avatars/a.png", "png bytes")
	if err := os.WriteFile(filepath.Join(root, "avatars", ".tmp-123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/media/", http.FileServerFS(st.FS())))
	defer srv.Close()
	if got := httpGet(t, srv.URL+"/media/"+name); got != "png bytes" {
		t.Fatalf("GET %s = %q", name, got)
	}
	for _, p := range []string{"avatars/", "avatars", "", "avatars/.tmp-123", "../", "avatars/../../etc/passwd", "%2e%2e/x"} {
		resp, err := http.Get(srv.URL + "/media/" + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET /media/%s = 200 %q, want an error status", p, body)
		}
	}
	if _, err := fs.ReadFile(st.FS(), name); err != nil {
		t.Errorf("ReadFile(%q): %v", name, err)
	}
}

// A caller that gives up is not an outage: the error is the context's.
func TestS3CallerCancelIsNotUnavailable(t *testing.T) {
	t.Parallel()
	b := newS3(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.st.Save(ctx, "up/a.png", strings.NewReader("x"), storage.SaveOptions{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Save with a cancelled context: %v, want context.Canceled and not ErrUnavailable", err)
	}
	if files := b.files(t); len(files) != 0 {
		t.Fatalf("files left: %v", files)
	}
}

// DisableConditionalWrites drops the If-None-Match header, for services
// that reject it.
func TestS3DisableConditionalWrites(t *testing.T) {
	t.Parallel()
	srv := storagetest.NewS3Server(t, "media")
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu     sync.Mutex
		header []string
	)
	front := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			mu.Lock()
			header = append(header, r.Header.Get("If-None-Match"))
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	for _, disable := range []bool{false, true} {
		cfg := srv.Config()
		cfg.Endpoint, cfg.DisableConditionalWrites = front, disable
		st, err := storage.NewS3(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		saveString(t, st, "up/a.png", "x")
	}
	if len(header) != 2 || header[0] != "*" || header[1] != "" {
		t.Fatalf("If-None-Match sent: %q, want [\"*\" \"\"]", header)
	}
}
