package api_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"manouche/core/api"
)

// formFile runs api.FormFile("file") on a request with body and contentType
// (and Content-Encoding enc, when not empty), and returns the file's name and
// content, or the error.
func formFile(app *fiber.App, body []byte, contentType, enc string) (name string, content []byte, err error) {
	fctx := &fasthttp.RequestCtx{}
	fctx.Request.Header.SetMethod(fiber.MethodPut)
	fctx.Request.SetRequestURI("/api/me/avatar")
	fctx.Request.Header.SetContentType(contentType)
	if enc != "" {
		fctx.Request.Header.Set(fiber.HeaderContentEncoding, enc)
	}
	fctx.Request.SetBody(body)
	c := app.AcquireCtx(fctx)
	defer func() {
		app.ReleaseCtx(c)
		fctx.Request.RemoveMultipartFormFiles() // temporary files of big parts
	}()
	fh, err := api.FormFile(c, "file")
	if err != nil {
		return "", nil, err
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	content, err = io.ReadAll(f)
	if err == nil && int64(len(content)) != fh.Size {
		err = errors.New("the header's Size is not the content's")
	}
	return fh.Filename, content, err
}

// checkUploadError checks that FormFile's error is one of the contract's:
// 415 UnsupportedMediaType, 400 ParseError or a 400 ValidationError on "file".
func checkUploadError(t *testing.T, in string, err error) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("FormFile(%s) = %v (%T), want *api.Error", in, err, err)
	}
	switch {
	case len(e.Errors) == 0:
		t.Fatalf("FormFile(%s): an error with no entries", in)
	case e.Status == 415 && e.Type == api.TypeUnsupportedMedia, e.Status == 400 && e.Type == api.TypeParse:
	case e.Status == 400 && e.Type == api.TypeValidation:
		for _, fe := range e.Errors {
			if fe.Field != "file" {
				t.Fatalf("FormFile(%s): a ValidationError on %q, want on file", in, fe.Field)
			}
		}
	default:
		t.Fatalf("FormFile(%s) = %d %s, want 415 UnsupportedMediaType or 400 ParseError/ValidationError", in, e.Status, e.Type)
	}
}

// FuzzFormFileRaw checks the multipart reader on any body, Content-Type and
// Content-Encoding: never a panic, only the contract's 4xx errors, and a file
// it returns is the first part named "file" with a file name, as Go's own
// multipart reader reads the same body (the content and the name), never
// empty, its name without NUL.
func FuzzFormFileRaw(f *testing.F) {
	const b = "XyZ"
	ct := "multipart/form-data; boundary=" + b
	part := func(disposition, content string) string {
		return "--" + b + "\r\nContent-Disposition: " + disposition + "\r\n\r\n" + content + "\r\n"
	}
	end := "--" + b + "--\r\n"
	for _, s := range []struct{ body, ct, enc string }{
		{part(`form-data; name="file"; filename="a.png"`, "PNG") + end, ct, ""},
		{part(`form-data; name="note"`, "hi") + part(`form-data; name="file"; filename="a.txt"`, "x") + end, ct, ""},
		{part(`form-data; name="file"; filename="a.txt"`, "first") + part(`form-data; name="file"; filename="b.txt"`, "second") + end, ct, ""},
		{part(`form-data; name="file"`, "a plain value") + end, ct, ""},
		{part(`form-data; name="file"; filename="empty"`, "") + end, ct, ""},
		{part(`form-data; name="file"; filename="a\x00.png"`, "x") + end, ct, ""},
		{part(`form-data; name="file"; filename*=UTF-8''%E2%80%AEgnp.exe`, "x") + end, ct, ""},
		{part(`form-data; name="file"; filename="../../etc/passwd"`, "x") + end, ct, ""},
		{part(`form-data; name="file"; filename="`+strings.Repeat("é", 5000)+`"`, "x") + end, ct, ""},
		{part(`form-data; name="file"; filename="big"`, strings.Repeat("A", 20000)) + end, ct, ""},
		{part(`form-data; name="file"; filename="a.txt"`, "truncated"), ct, ""},
		{"--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n", ct, ""},
		{"no boundary here", ct, ""},
		{"", ct, ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "multipart/form-data", ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "multipart/form-data; boundary=", ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "multipart/form-data; boundary=\"" + b + "\"", ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "multipart/form-data; boundary=" + strings.Repeat("b", 71), ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "multipart/mixed; boundary=" + b, ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "application/json", ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, "", ""},
		{part(`form-data; name="file"; filename="a"`, "x") + end, ct, "gzip"},
		{part(`form-data; name="file"; filename="a"`, "x") + end, ct + "; charset=\"", ""},
		{"--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n" + strings.Repeat("X-H: v\r\n", 2000) + "\r\nx\r\n" + end, ct, ""},
		{"--" + b + "\nContent-Disposition: form-data; name=\"file\"; filename=\"lf\"\n\nx\n--" + b + "--\n", ct, ""},
	} {
		f.Add([]byte(s.body), s.ct, s.enc)
	}
	app := fiber.New()
	f.Fuzz(func(t *testing.T, body []byte, contentType, enc string) {
		in := "body " + quoteShort(body) + ", Content-Type " + quoteShort([]byte(contentType))
		name, content, err := formFile(app, body, contentType, enc)
		if err != nil {
			checkUploadError(t, in, err)
			return
		}
		if len(content) == 0 || strings.IndexByte(name, 0) >= 0 {
			t.Fatalf("FormFile(%s) accepted an empty file or a name with NUL: %q", in, name)
		}
		if enc != "" {
			t.Fatalf("FormFile(%s) accepted a body with Content-Encoding %q", in, enc)
		}
		wantName, want, ok := firstFilePart(body, contentType)
		if !ok || wantName != name || !bytes.Equal(want, content) {
			t.Fatalf("FormFile(%s) = %q, %q; Go's reader finds %q, %q (found: %v)", in, name, quoteShort(content), wantName, quoteShort(want), ok)
		}
	})
}

// firstFilePart reads body with Go's mime/multipart reader and returns the
// first part named "file" that has a file name.
func firstFilePart(body []byte, contentType string) (name string, content []byte, ok bool) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return "", nil, false
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	form, err := r.ReadForm(64 << 20)
	if err != nil {
		return "", nil, false
	}
	defer func() { _ = form.RemoveAll() }()
	files := form.File["file"]
	if len(files) == 0 {
		return "", nil, false
	}
	f, err := files[0].Open()
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	content, err = io.ReadAll(f)
	return files[0].Filename, content, err == nil
}

// FuzzFormFileRoundTrip checks that a well-formed upload, whatever the file's
// name, content and boundary, and whatever other parts come first, reads back
// as sent: the content byte for byte and the name as Go's reader reads it;
// an empty content or a name with NUL is a ValidationError on file.
func FuzzFormFileRoundTrip(f *testing.F) {
	for _, s := range []struct {
		boundary, filename, other string
		content                   []byte
	}{
		{"XyZ", "a.png", "", []byte("\x89PNG\r\n\x1a\n")},
		{"", "photo.jpg", "note", []byte{0xff, 0xd8, 0xff}},
		{"a", "", "", []byte("x")},
		{"--", "\x00", "", []byte("x")},
		{"b", "é\u202e.txt", "file", []byte("--b\r\n")},
		{strings.Repeat("z", 70), "a b \"quoted\" \\ name", "", []byte("\r\n--" + strings.Repeat("z", 70) + "--\r\n")},
		{"x", "a.txt", "", nil},
		{"x", "big", "", bytes.Repeat([]byte{0}, 100000)},
		{"x", strings.Repeat("n", 10000), "", []byte("x")},
	} {
		f.Add(s.boundary, s.filename, s.other, s.content)
	}
	app := fiber.New()
	f.Fuzz(func(t *testing.T, boundary, filename, other string, content []byte) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if boundary != "" && w.SetBoundary(boundary) != nil {
			t.Skip("not a valid boundary")
		}
		if bytes.Contains(content, []byte("--"+w.Boundary())) {
			t.Skip("the content holds the boundary: not a well-formed body")
		}
		if other != "" {
			if err := w.WriteField(other, "a value"); err != nil {
				t.Fatal(err)
			}
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", multipart.FileContentDisposition("file", filename))
		h.Set("Content-Type", "application/octet-stream")
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write(content)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		body := buf.Bytes()
		in := "file " + quoteShort([]byte(filename)) + " of " + quoteShort(content) + " (boundary " + quoteShort([]byte(boundary)) + ")"
		name, got, err := formFile(app, body, w.FormDataContentType(), "")
		wantName, _, ok := firstFilePart(body, w.FormDataContentType())
		if !ok {
			// Go's reader drops a part whose file name it reads as empty:
			// then no file was submitted.
			checkUploadError(t, in, err)
			return
		}
		switch {
		case len(content) == 0 || strings.IndexByte(wantName, 0) >= 0:
			if err == nil {
				t.Fatalf("FormFile(%s) accepted an empty file or a NUL in its name", in)
			}
			checkUploadError(t, in, err)
		case err != nil:
			t.Fatalf("FormFile(%s) refused a well-formed upload: %v", in, err)
		case name != wantName || !bytes.Equal(got, content):
			t.Fatalf("FormFile(%s) = %q, %s; want %q and the content sent", in, name, quoteShort(got), wantName)
		}
	})
}

// quoteShort quotes b for a failure message, cut after 200 bytes.
func quoteShort(b []byte) string {
	if len(b) > 200 {
		return strconv.Quote(string(b[:200])) + "...(" + strconv.Itoa(len(b)) + " bytes)"
	}
	return strconv.Quote(string(b))
}
