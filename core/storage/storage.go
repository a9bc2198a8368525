// Package storage keeps uploaded media files: on a local folder in development
// (MEDIA_ROOT, served under MEDIA_URL) or in an S3 bucket in production, where
// the dyno's disk does not persist (STORAGE_BACKEND=s3, or the seed's
// ENABLE_MEDIA_UPLOAD_TO_S3=true). Backends register in [Backends].
//
// Both backends implement the one small [Storage] interface. Save streams its
// input (constant memory, spooling to a temporary file when the length is not
// known), never overwrites another upload, and never leaves a half-written file:
// the local backend writes a hidden temporary file and links it into place, the
// S3 backend sends one PutObject, which S3 applies whole or not at all.
//
// Names: Save takes "dir/filename", where dir is chosen by the application
// (checked strictly, see [SafeName]) and filename may come from a client
// (sanitized, directories stripped). It returns the name actually stored, such
// as "avatars/3f9c0a...-photo.png", which is what the application keeps in its
// database and later passes to Open, Delete, Exists, Size and URL.
//
// Errors wrap sentinels the API layer maps to statuses: [ErrInvalidName] (400),
// [ErrNotFound] (404), [ErrUnavailable] (503); image validation adds
// [ErrNotImage] and [ErrInvalidImage] (400) and [ErrTooLarge] (413).
package storage

import (
	"context"
	"errors"
	"io"

	"manouche/core/outage"
	"manouche/settings"
)

// Storage stores and serves media files. Implementations are safe for
// concurrent use.
type Storage interface {
	// Save stores the content of r under a unique safe name derived from name
	// ("dir/filename") and returns that name. It never overwrites another
	// file and leaves nothing behind when it fails.
	Save(ctx context.Context, name string, r io.Reader, opts SaveOptions) (stored string, err error)
	// Open returns the content of the stored file name; the caller closes it.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes the stored file name; deleting a missing file is not an error.
	Delete(ctx context.Context, name string) error
	// Exists reports whether the stored file name exists.
	Exists(ctx context.Context, name string) (bool, error)
	// Size returns the size in bytes of the stored file name.
	Size(ctx context.Context, name string) (int64, error)
	// URL returns the address at which clients download the stored file name.
	URL(ctx context.Context, name string) (string, error)
}

// Pinger is implemented by backends that can check they are reachable and
// usable; readiness probes call it through [Ping].
type Pinger interface {
	// Ping returns nil when the backend can serve requests.
	Ping(ctx context.Context) error
}

// Ping checks s when it implements [Pinger] and returns nil otherwise.
func Ping(ctx context.Context, s Storage) error {
	if p, ok := s.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// SaveOptions describe how Save stores a file.
type SaveOptions struct {
	// ContentType is stored with the object (S3 serves it as Content-Type).
	// Empty means guessed from the name's extension, else
	// application/octet-stream. For images, pass [ImageKind.ContentType].
	ContentType string
	// CacheControl overrides the backend's default Cache-Control header for
	// this object (S3 only; the local backend's server decides its headers).
	CacheControl string
}

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrInvalidName means a name is unsafe or malformed: path traversal
	// (".."), an absolute path, a NUL or control byte, a hidden segment, or
	// too long. The API layer answers 400.
	ErrInvalidName = errors.New("storage: invalid file name")
	// ErrNotFound means no stored file has that name. The API layer answers 404.
	ErrNotFound = errors.New("storage: file not found")
	// ErrUnavailable means the backend cannot be reached or answered with a
	// server error (S3 down, timeouts, 5xx, retries exhausted). Nothing was
	// stored. The API layer answers 503.
	// It says so to api.IsUnavailable (an Unavailable method), so a handler
	// that returns it, wrapped or not, answers 503 without mapping it.
	ErrUnavailable error = outage.Error("storage: backend unavailable")
	// ErrTooLarge means an upload is larger than allowed. The API layer
	// answers 413.
	ErrTooLarge = errors.New("storage: file too large")
	// ErrNotImage means an upload's bytes are not a JPEG, PNG or WebP image,
	// whatever its name or declared content type. The API layer answers 400.
	ErrNotImage = errors.New("storage: not a JPEG, PNG or WebP image")
	// ErrInvalidImage means an upload starts like an accepted image but is
	// truncated, corrupt, has too many pixels, or would need more memory to
	// decode than allowed. The API layer answers 400.
	ErrInvalidImage = errors.New("storage: invalid image")
)

// Backends is the registry of media storage backends, by name:
// STORAGE_BACKEND names the one a project uses (ENABLE_MEDIA_UPLOAD_TO_S3=true
// selects s3). Each backend registers itself from an init function in its
// own file (local.go, s3.go) or package, with its settings section and
// validation: adding one is a file (or a package and its import) that calls
// [Register].
var Backends = settings.NewRegistry[Storage]("storage", "STORAGE_BACKEND")

// Module describes a storage backend whose settings section is the struct S;
// a pointer to S may implement settings.Validator and settings.Resolver.
type Module[S any] = settings.Module[Storage, S]

// Register adds the storage backend name; call it from an init function. It
// panics if the name is taken or a setting of the section belongs to
// something else.
func Register[S any](name string, m Module[S]) { settings.Register(Backends, name, m) }

// Open returns the backend STORAGE_BACKEND names, built from its section of
// st. The caller closes it with [Close].
func Open(ctx context.Context, st *settings.Settings) (Storage, error) {
	return Backends.Open(ctx, st)
}

// Close releases what s holds (the local backend's directory handle) when it
// implements io.Closer, and returns nil otherwise.
func Close(s Storage) error {
	if c, ok := s.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
