package users_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"

	"manouche/core/storage"
	"manouche/core/storage/storagetest"
	"manouche/core/testkit"
)

const msgInvalidImage = "Upload a valid image. The file you uploaded was either not an image or a corrupted image."

// mediaBackend is a way to run the project's media storage in a test.
type mediaBackend struct {
	name string
	// start returns the settings that select the backend, and a function
	// listing every file stored (temporary ones included).
	start func(t *testing.T) (testkit.Settings, func(t *testing.T, app *testkit.App) []string)
	// fetch downloads an avatar_url as a client would.
	fetch func(t *testing.T, app *testkit.App, url string) (status int, contentType string, body []byte)
}

// backends are local disk (served by the app itself under DEBUG) and S3 (an
// in-process S3-compatible server, public URLs fetched over HTTP).
var backends = []mediaBackend{
	{
		name: "local",
		start: func(t *testing.T) (testkit.Settings, func(*testing.T, *testkit.App) []string) {
			return testkit.Settings{"DEBUG": true}, func(t *testing.T, app *testkit.App) []string {
				t.Helper()
				var names []string
				root := app.Settings.Backend("storage", "local").(*storage.LocalSettings).Root
				err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					rel, err := filepath.Rel(root, p)
					names = append(names, filepath.ToSlash(rel))
					return err
				})
				if err != nil {
					t.Fatalf("list MEDIA_ROOT: %v", err)
				}
				return names
			}
		},
		fetch: func(t *testing.T, app *testkit.App, url string) (int, string, []byte) {
			t.Helper()
			site := app.Settings.SiteURL()
			if !strings.HasPrefix(url, site+"/") {
				t.Fatalf("avatar_url %q is not under %s", url, site)
			}
			res := app.Client.Get(strings.TrimPrefix(url, site))
			return res.Status, res.Header.Get("Content-Type"), res.Body
		},
	},
	{
		name: "s3",
		start: func(t *testing.T) (testkit.Settings, func(*testing.T, *testkit.App) []string) {
			srv := storagetest.NewS3Server(t, "media")
			cfg := srv.Config()
			st := testkit.Settings{
				"ENABLE_MEDIA_UPLOAD_TO_S3": true,
				"AWS_STORAGE_BUCKET_NAME":   cfg.Bucket,
				"AWS_S3_ENDPOINT_URL":       cfg.Endpoint,
				"AWS_ACCESS_KEY_ID":         cfg.AccessKeyID,
				"AWS_SECRET_ACCESS_KEY":     cfg.SecretAccessKey,
			}
			return st, func(t *testing.T, _ *testkit.App) []string {
				t.Helper()
				list, err := srv.Backend.ListBucket(srv.Bucket, nil, gofakes3.ListBucketPage{})
				if err != nil {
					t.Fatalf("list bucket: %v", err)
				}
				var names []string
				for _, c := range list.Contents {
					names = append(names, c.Key)
				}
				return names
			}
		},
		fetch: func(t *testing.T, _ *testkit.App, url string) (int, string, []byte) {
			t.Helper()
			res, err := http.Get(url)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			return res.StatusCode, res.Header.Get("Content-Type"), body
		},
	},
}

// avatarApp starts a project on backend b with a registered user.
func avatarApp(t *testing.T, b mediaBackend, extra testkit.Settings) (app *testkit.App, token string, files func() []string) {
	t.Helper()
	st, list := b.start(t)
	st["AUTH_THROTTLE_RATE"] = "1000/min"
	for k, v := range extra {
		st[k] = v
	}
	app = testkit.New(t, st)
	_, token = register(t, app, "avatar@example.com")
	return app, token, func() []string { return list(t, app) }
}

// storedAvatar is the avatar column of the only user.
func storedAvatar(t *testing.T, app *testkit.App) string {
	t.Helper()
	var name string
	if err := app.DB.NewRaw("SELECT avatar FROM users").Scan(context.Background(), &name); err != nil {
		t.Fatal(err)
	}
	return name
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 3)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes builds a lossless WebP (VP8L) of one color by hand, since Go has
// a WebP decoder but no encoder (the same construction as core/storage's
// tests): a header, then five one-symbol prefix codes, so the pixels take no
// bits.
func webpBytes(w, h int, c color.NRGBA) []byte {
	var acc uint64
	var nbits uint
	var buf []byte
	write := func(v uint32, n uint) {
		acc |= uint64(v) << nbits
		nbits += n
		for nbits >= 8 {
			buf = append(buf, byte(acc))
			acc >>= 8
			nbits -= 8
		}
	}
	write(uint32(w-1), 14)
	write(uint32(h-1), 14)
	write(1, 1) // alpha is used
	write(0, 3) // version
	write(0, 1) // no transform
	write(0, 1) // no color cache
	write(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		write(1, 1) // simple code
		write(0, 1) // one symbol
		write(1, 1) // 8-bit symbol
		write(uint32(sym), 8)
	}
	if nbits > 0 {
		buf = append(buf, byte(acc))
	}
	payload := append([]byte{0x2f}, buf...)
	chunkLen := len(payload)
	if chunkLen%2 == 1 {
		payload = append(payload, 0)
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(payload)))
	b.WriteString("WEBPVP8L")
	_ = binary.Write(&b, binary.LittleEndian, uint32(chunkLen))
	b.Write(payload)
	return b.Bytes()
}

func TestAvatarUploadReplaceDelete(t *testing.T) {
	t.Parallel()
	images := []struct {
		name, filename, ext, contentType string
		body                             []byte
	}{
		{"png", "me.png", ".png", "image/png", pngBytes(t, 64, 48)},
		{"jpeg", "me.jpeg", ".jpg", "image/jpeg", jpegBytes(t, 64, 48)},
		{"webp", "me.webp", ".webp", "image/webp", webpBytes(40, 30, color.NRGBA{R: 200, G: 10, B: 90, A: 255})},
		{"png named gif", "me.gif", ".png", "image/png", pngBytes(t, 8, 8)},
		{"path traversal name", "../../etc/passwd", ".png", "image/png", pngBytes(t, 9, 9)},
		{"windows path name", `..\..\windows\win.ini`, ".png", "image/png", pngBytes(t, 10, 10)},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			app, token, files := avatarApp(t, b, nil)
			client := app.Client.WithToken(token)
			ctx := context.Background()
			var previous string
			for _, im := range images {
				res := client.Upload(http.MethodPut, "/api/me/avatar", "file", im.filename, im.body).AssertStatus(http.StatusOK)
				var out struct {
					ID, Email string
					AvatarURL *string `json:"avatar_url"`
				}
				res.JSON(&out)
				if out.Email != "avatar@example.com" || out.ID == "" || out.AvatarURL == nil {
					t.Fatalf("%s: answer %s", im.name, res.Body)
				}
				url := *out.AvatarURL
				if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
					t.Fatalf("%s: avatar_url %q is not absolute", im.name, url)
				}
				name := storedAvatar(t, app)
				if path.Dir(name) != "avatars" || !strings.HasSuffix(name, im.ext) || strings.Contains(name, "..") || strings.Contains(name, `\`) {
					t.Fatalf("%s: stored as %q, want avatars/*%s", im.name, name, im.ext)
				}
				if !strings.HasSuffix(url, name) {
					t.Fatalf("%s: avatar_url %q does not name the stored %q", im.name, url, name)
				}
				status, ct, got := b.fetch(t, app, url)
				if status != http.StatusOK || !bytes.Equal(got, im.body) {
					t.Fatalf("%s: GET avatar_url: %d, %d bytes, want the %d uploaded", im.name, status, len(got), len(im.body))
				}
				if ct != im.contentType {
					t.Fatalf("%s: served as %q, want %q", im.name, ct, im.contentType)
				}
				// GET /api/me shows the new avatar (the cached user was dropped).
				me := client.Get("/api/me").AssertStatus(http.StatusOK).Map()
				if me["avatar_url"] != url {
					t.Fatalf("%s: /api/me avatar_url %v, want %q", im.name, me["avatar_url"], url)
				}
				// The replaced file is gone; only the current one is stored.
				if previous != "" {
					if ok, err := app.Storage.Exists(ctx, previous); err != nil || ok {
						t.Fatalf("%s: replaced file %q still exists (%v)", im.name, previous, err)
					}
				}
				if got := files(); !slices.Equal(got, []string{name}) {
					t.Fatalf("%s: stored files %v, want only %q", im.name, got, name)
				}
				previous = name
			}

			res := client.Delete("/api/me/avatar").AssertStatus(http.StatusOK)
			body := res.Map()
			if v, ok := body["avatar_url"]; !ok || v != nil || body["email"] != "avatar@example.com" {
				t.Fatalf("DELETE: %s", res.Body)
			}
			if ok, err := app.Storage.Exists(ctx, previous); err != nil || ok {
				t.Fatalf("DELETE: file %q still exists (%v)", previous, err)
			}
			if got := storedAvatar(t, app); got != "" {
				t.Fatalf("DELETE: column still %q", got)
			}
			if got := files(); len(got) != 0 {
				t.Fatalf("DELETE: files left: %v", got)
			}
			if me := client.Get("/api/me").AssertStatus(http.StatusOK).Map(); me["avatar_url"] != nil {
				t.Fatalf("after DELETE, /api/me: %v", me)
			}
			// Deleting no avatar is fine.
			if v := client.Delete("/api/me/avatar").AssertStatus(http.StatusOK).Map()["avatar_url"]; v != nil {
				t.Fatalf("second DELETE: avatar_url %v", v)
			}
		})
	}
}

func TestAvatarBadUploads(t *testing.T) {
	t.Parallel()
	good := pngBytes(t, 16, 16)
	formWithout := func() (*http.Request, error) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("file", "not a file part")
		part, _ := w.CreateFormFile("image", "a.png")
		_, _ = part.Write(good)
		_ = w.Close()
		req, err := http.NewRequest(http.MethodPut, "/api/me/avatar", &buf)
		if req != nil {
			req.Header.Set("Content-Type", w.FormDataContentType())
		}
		return req, err
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			app, token, files := avatarApp(t, b, nil)
			client := app.Client.WithToken(token)
			client.Upload(http.MethodPut, "/api/me/avatar", "file", "a.png", good).AssertStatus(http.StatusOK)
			current := storedAvatar(t, app)

			uploads := []struct {
				name, filename string
				body           []byte
				status         int
				typ            string
				message        string
			}{
				{"text named .png", "a.png", []byte("just some text, not a PNG at all"), 400, "ValidationError", msgInvalidImage},
				{"truncated png", "a.png", good[:len(good)-20], 400, "ValidationError", msgInvalidImage},
				{"png header only", "a.png", good[:16], 400, "ValidationError", msgInvalidImage},
				{"gif", "a.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 400, "ValidationError", msgInvalidImage},
				{"html", "a.png", []byte("<html><script>alert(1)</script></html>"), 400, "ValidationError", msgInvalidImage},
				{"empty file", "a.png", nil, 400, "ValidationError", "The submitted file is empty."},
			}
			for _, u := range uploads {
				e := client.Upload(http.MethodPut, "/api/me/avatar", "file", u.filename, u.body).AssertError(u.status, u.typ, "file")
				if e.Errors[0].Message != u.message {
					t.Fatalf("%s: message %q, want %q", u.name, e.Errors[0].Message, u.message)
				}
			}
			// A file under another field name, and a plain value named file.
			req, err := formWithout()
			if err != nil {
				t.Fatal(err)
			}
			e := client.Send(req).AssertError(http.StatusBadRequest, "ValidationError", "file")
			if e.Errors[0].Message != "No file was submitted." {
				t.Fatalf("no file part: %q", e.Errors[0].Message)
			}
			// JSON is not an upload.
			client.Put("/api/me/avatar", map[string]any{"file": "aGVsbG8="}).AssertError(http.StatusUnsupportedMediaType, "UnsupportedMediaType")
			// No or bad credentials.
			app.Client.Upload(http.MethodPut, "/api/me/avatar", "file", "a.png", good).AssertError(http.StatusUnauthorized, "NotAuthenticated")
			app.Client.Delete("/api/me/avatar").AssertError(http.StatusUnauthorized, "NotAuthenticated")
			app.Client.WithToken("not-a-token").Upload(http.MethodPut, "/api/me/avatar", "file", "a.png", good).AssertError(http.StatusUnauthorized, "AuthenticationFailed")

			// Nothing changed: the same avatar, the same single file.
			if got := storedAvatar(t, app); got != current {
				t.Fatalf("avatar column %q, want %q unchanged", got, current)
			}
			if got := files(); !slices.Equal(got, []string{current}) {
				t.Fatalf("stored files %v, want only %q", got, current)
			}
		})
	}
}

// TestAvatarTooLarge sends the headers of a 6 MB upload to the real server,
// which refuses it from Content-Length before reading the body.
func TestAvatarTooLarge(t *testing.T) {
	t.Parallel()
	app, token, files := avatarApp(t, backends[0], nil)
	base := app.Serve()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /api/me/avatar HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: %d\r\n\r\n"+
		"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n",
		token, 6<<20)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("6 MB upload: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), `"PayloadTooLarge"`) {
		t.Fatalf("6 MB upload: %d %s", res.StatusCode, body)
	}
	if got := storedAvatar(t, app); got != "" {
		t.Fatalf("avatar column %q after a refused upload", got)
	}
	if got := files(); len(got) != 0 {
		t.Fatalf("files stored: %v", got)
	}
}

// TestAvatarStorageDown: with S3 unreachable an upload answers 503 naming the
// storage and leaves the user's avatar as it was.
func TestAvatarStorageDown(t *testing.T) {
	t.Parallel()
	app := testkit.New(t, testkit.Settings{
		"AUTH_THROTTLE_RATE":        "1000/min",
		"ENABLE_MEDIA_UPLOAD_TO_S3": true,
		"AWS_STORAGE_BUCKET_NAME":   "media",
		"AWS_S3_ENDPOINT_URL":       "http://127.0.0.1:1",
		"AWS_ACCESS_KEY_ID":         "test-key",
		"AWS_SECRET_ACCESS_KEY":     "test-secret",
	})
	id, token := register(t, app, "avatar@example.com")
	ctx := context.Background()
	const old = "avatars/0123456789abcdef0123456789abcdef-avatar.png"
	if _, err := app.DB.NewRaw("UPDATE users SET avatar = ? WHERE id = ?", old, id).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	client := app.Client.WithToken(token)
	e := client.Upload(http.MethodPut, "/api/me/avatar", "file", "a.png", pngBytes(t, 16, 16)).
		AssertError(http.StatusServiceUnavailable, "ServiceUnavailable", "storage")
	if len(e.Errors) != 1 || e.Errors[0].Message == "" {
		t.Fatalf("503 entries: %+v", e.Errors)
	}
	if got := storedAvatar(t, app); got != old {
		t.Fatalf("avatar column %q, want %q unchanged", got, old)
	}
	// Showing the user does not need the storage (the URL is built locally).
	me := client.Get("/api/me").AssertStatus(http.StatusOK).Map()
	if u, _ := me["avatar_url"].(string); !strings.HasSuffix(u, old) {
		t.Fatalf("/api/me avatar_url %v", me["avatar_url"])
	}
	// Removing the avatar clears the column even while the file cannot be
	// deleted (the failure is logged; the file is left orphaned).
	if v := client.Delete("/api/me/avatar").AssertStatus(http.StatusOK).Map()["avatar_url"]; v != nil {
		t.Fatalf("DELETE: avatar_url %v", v)
	}
	if got := storedAvatar(t, app); got != "" {
		t.Fatalf("DELETE: column %q", got)
	}
}

// TestAvatarConcurrentReplace: of many uploads at once for one user, every
// replaced file is deleted and the one left is the one the row names.
func TestAvatarConcurrentReplace(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			app, token, files := avatarApp(t, b, nil)
			client := app.Client.WithToken(token)
			const n = 8
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = client.Upload(http.MethodPut, "/api/me/avatar", "file", "a.png", pngBytes(t, 8+i, 8)).Status
				}()
			}
			wg.Wait()
			for i, s := range statuses {
				if s != http.StatusOK {
					t.Fatalf("upload %d: status %d", i, s)
				}
			}
			current := storedAvatar(t, app)
			if got := files(); !slices.Equal(got, []string{current}) {
				t.Fatalf("stored files %v, want only %q", got, current)
			}
		})
	}
}

// TestAvatarUserGone: when the row cannot be updated (the user was deleted
// while a cached token still authenticated), the new file is deleted again.
func TestAvatarUserGone(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			app, token, files := avatarApp(t, b, nil)
			client := app.Client.WithToken(token)
			client.Get("/api/me").AssertStatus(http.StatusOK) // the token is now cached
			if _, err := app.DB.NewRaw("DELETE FROM users").Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
			client.Upload(http.MethodPut, "/api/me/avatar", "file", "a.png", pngBytes(t, 8, 8)).
				AssertError(http.StatusUnauthorized, "AuthenticationFailed")
			if got := files(); len(got) != 0 {
				t.Fatalf("files left: %v", got)
			}
		})
	}
}
