package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"manouche/core/api"
)

// uploadApp answers the size and content of the "file" part, or the error.
func uploadApp() *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: api.ErrorHandler(slog.New(slog.DiscardHandler), false, 1<<20), BodyLimit: 1 << 20, DisableStartupMessage: true})
	app.Post("/upload", func(c *fiber.Ctx) error {
		fh, err := api.FormFile(c, "file")
		if err != nil {
			return err
		}
		f, err := fh.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"filename": fh.Filename, "content": string(b)})
	})
	return app
}

// serve runs app on a loopback port until the test ends: the real server
// parses multipart bodies while reading them, which app.Test does not show.
func serve(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// multipartBody builds a form with a file part named field (skipped when
// field is "") and a plain value "note".
func multipartBody(t *testing.T, field, filename, content string) (body []byte, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("note", "hello"); err != nil {
		t.Fatal(err)
	}
	if field != "" {
		part, err := w.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(part, content); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

func TestFormFile(t *testing.T) {
	t.Parallel()
	good, goodCT := multipartBody(t, "file", "a.txt", "content of a")
	otherField, otherCT := multipartBody(t, "document", "a.txt", "content of a")
	noFile, noFileCT := multipartBody(t, "", "", "")
	empty, emptyCT := multipartBody(t, "file", "empty.txt", "")
	valueOnly, valueOnlyCT := func() ([]byte, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("file", "not a file")
		_ = w.Close()
		return buf.Bytes(), w.FormDataContentType()
	}()
	boundary := strings.TrimPrefix(goodCT, "multipart/form-data; boundary=")

	tests := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		status      int
		typ         string
		field       string
	}{
		{"file part", goodCT, "", good, 200, "", ""},
		{"JSON body", "application/json", "", []byte(`{"file": "x"}`), 415, api.TypeUnsupportedMedia, ""},
		{"no content type", "", "", good, 415, api.TypeUnsupportedMedia, ""},
		{"urlencoded form", "application/x-www-form-urlencoded", "", []byte("file=x"), 415, api.TypeUnsupportedMedia, ""},
		{"malformed content type", "multipart/form-data; boundary", "", good, 415, api.TypeUnsupportedMedia, ""},
		{"gzip encoding", goodCT, "gzip", good, 415, api.TypeUnsupportedMedia, ""},
		{"no boundary", "multipart/form-data", "", good, 400, api.TypeParse, ""},
		{"wrong boundary", "multipart/form-data; boundary=nothere", "", good, 400, api.TypeParse, ""},
		{"truncated body", goodCT, "", good[:len(good)/2], 400, api.TypeParse, ""},
		{"empty body", goodCT, "", nil, 400, api.TypeParse, ""},
		{"garbage after boundary", goodCT, "", []byte("--" + boundary + "\r\nno headers end"), 400, api.TypeParse, ""},
		// Over the body limit: 413 is tested on raw connections in limit_test.go; here
		// net/http may see the server close the connection before it reads the answer.
		{"other field", otherCT, "", otherField, 400, api.TypeValidation, "file"},
		{"no file part", noFileCT, "", noFile, 400, api.TypeValidation, "file"},
		{"plain value named file", valueOnlyCT, "", valueOnly, 400, api.TypeValidation, "file"},
		{"empty file", emptyCT, "", empty, 400, api.TypeValidation, "file"},
	}
	base := serve(t, uploadApp())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, base+"/upload", bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, raw)
			}
			if tc.status == 200 {
				var got map[string]string
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				if got["filename"] != "a.txt" || got["content"] != "content of a" {
					t.Fatalf("got %v", got)
				}
				return
			}
			var e struct {
				Type   string           `json:"error_type"`
				Errors []api.FieldError `json:"errors"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("not the error shape: %s", raw)
			}
			if e.Type != tc.typ || len(e.Errors) != 1 || e.Errors[0].Field != tc.field || e.Errors[0].Message == "" {
				t.Fatalf("got %s, want %s on field %q", raw, tc.typ, tc.field)
			}
		})
	}
}
