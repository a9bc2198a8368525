package api

import (
	"fmt"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Messages of file upload errors, in Django's words.
const (
	msgNoFile    = "No file was submitted."
	msgEmptyFile = "The submitted file is empty."
)

// FormFile returns the file part named field of a multipart/form-data request.
// Errors are in the API contract: 415 UnsupportedMediaType when the request is
// not multipart/form-data or has any Content-Encoding (fasthttp would inflate
// a gzip body in memory without bound); 400 ParseError when the multipart body
// is malformed (no or bad boundary, truncated); 400 ValidationError on field
// when no file part has that name ("No file was submitted.", also for a plain
// form value of that name), the file is empty or its name holds a NUL. Bodies above
// MAX_UPLOAD_SIZE never reach here: the server refuses them with 413.
//
// The returned header's Open gives the file's content; the form is released
// when the request ends. The server streams request bodies (see BodyLimit):
// FormFile parses the multipart stream here, writing file parts above 8 KB to
// temporary files, so an upload is never held whole in memory.
func FormFile(c *fiber.Ctx, field string) (*multipart.FileHeader, error) {
	contentType := c.Get(fiber.HeaderContentType)
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != fiber.MIMEMultipartForm {
		return nil, UnsupportedMediaType(contentType)
	}
	if ce := c.Get(fiber.HeaderContentEncoding); ce != "" {
		return nil, newError(fiber.StatusUnsupportedMediaType, TypeUnsupportedMedia,
			fmt.Sprintf("Unsupported content encoding %q in request.", ce))
	}
	if params["boundary"] == "" {
		return nil, Parse("Multipart form parse error - the Content-Type has no boundary.")
	}
	form, err := c.MultipartForm()
	if err != nil {
		return nil, Parse("Multipart form parse error - the body is not a valid multipart/form-data body.").
			WithCause(fmt.Errorf("api: multipart form: %w", err))
	}
	files := form.File[field]
	if len(files) == 0 || files[0] == nil {
		return nil, Validation(FieldErr(field, msgNoFile))
	}
	fh := files[0]
	if strings.IndexByte(fh.Filename, 0) >= 0 {
		return nil, Validation(FieldErr(field, MsgNullCharacters))
	}
	if fh.Size == 0 {
		return nil, Validation(FieldErr(field, msgEmptyFile))
	}
	return fh, nil
}
