package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"runtime"

	"golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"
)

// ImageKind is an image format accepted for uploads.
type ImageKind int

// The accepted image formats.
const (
	// UnknownImage is anything else.
	UnknownImage ImageKind = iota
	// JPEG is a JPEG/JFIF/Exif image.
	JPEG
	// PNG is a PNG image.
	PNG
	// WebP is a WebP image, lossy or lossless, still (not animated).
	WebP
)

// String returns the format's name: "jpeg", "png", "webp" or "unknown".
func (k ImageKind) String() string {
	switch k {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	case WebP:
		return "webp"
	}
	return "unknown"
}

// ContentType returns the format's MIME type, for [SaveOptions].ContentType.
func (k ImageKind) ContentType() string {
	switch k {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case WebP:
		return "image/webp"
	}
	return "application/octet-stream"
}

// Ext returns the format's usual file extension with its dot (".jpg",
// ".png", ".webp"), so a stored name can follow the content rather than the
// client's name; "" for UnknownImage.
func (k ImageKind) Ext() string {
	switch k {
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	case WebP:
		return ".webp"
	}
	return ""
}

// decodeBufSize is the read buffer of decoders: large reads, few system calls.
const decodeBufSize = 64 << 10

// sniffLen is how many bytes identify every accepted format.
const sniffLen = 12

// sniffKind identifies a format from the first bytes of a file.
func sniffKind(b []byte) ImageKind {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG
	case len(b) >= 8 && bytes.Equal(b[:8], []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return WebP
	}
	return UnknownImage
}

// SniffImage identifies the format of the image r holds from its first bytes
// (its magic number, never a name or a declared content type). It returns the
// format and a reader that yields all of r's bytes, those read included. It
// returns an error wrapping [ErrNotImage] when the bytes are no JPEG, PNG or
// WebP. Sniffing proves nothing about the rest of the file: see
// [ImageValidator] for that.
func SniffImage(r io.Reader) (ImageKind, io.Reader, error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return UnknownImage, nil, fmt.Errorf("storage: sniff image: %w", err)
	}
	head = head[:n]
	rest := io.MultiReader(bytes.NewReader(head), r)
	kind := sniffKind(head)
	if kind == UnknownImage {
		return UnknownImage, rest, fmt.Errorf("storage: sniff image: %w", ErrNotImage)
	}
	return kind, rest, nil
}

// ImageLimits bound what an [ImageValidator] accepts and how much it uses.
type ImageLimits struct {
	// MaxBytes is the largest upload accepted (MAX_UPLOAD_SIZE); zero means
	// 5 MB (5 << 20 bytes).
	MaxBytes int64
	// MaxPixels is the largest width × height accepted, which bounds the
	// memory of a decode (4 to 8 bytes a pixel); zero means 40 million.
	MaxPixels int64
	// MaxConcurrentDecodes bounds how many images decode at once; zero
	// means GOMAXPROCS (decoding is CPU-bound, more would not be faster).
	MaxConcurrentDecodes int
	// DecodeMemory bounds the memory that decodes in progress may use
	// together, estimated before decoding from the dimensions and color
	// model (1 to 8 bytes a pixel, five times that for a progressive JPEG,
	// whose decoder keeps every coefficient). Decodes wait for their share;
	// an image whose own estimate is over DecodeMemory is refused with
	// ErrInvalidImage, so a small file that inflates to gigabytes (a
	// decompression bomb) is never decoded. Zero means 256 MiB.
	DecodeMemory int64
	// TempDir is where uploads are spooled; empty means the system's.
	TempDir string
}

// ImageValidator checks uploaded images: format by magic number, size,
// dimensions, and that the whole image decodes (which a truncated or corrupt
// file does not). It is safe for concurrent use; share one per process so its
// decode limit holds.
type ImageValidator struct {
	limits ImageLimits
	decode chan struct{}       // one token per running decode
	memory *semaphore.Weighted // estimated bytes of running decodes
}

// NewImageValidator returns a validator with limits, zero fields defaulted.
func NewImageValidator(limits ImageLimits) *ImageValidator {
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = 5 << 20
	}
	if limits.MaxPixels <= 0 {
		limits.MaxPixels = 40_000_000
	}
	if limits.MaxConcurrentDecodes <= 0 {
		limits.MaxConcurrentDecodes = runtime.GOMAXPROCS(0)
	}
	if limits.DecodeMemory <= 0 {
		limits.DecodeMemory = 256 << 20
	}
	return &ImageValidator{
		limits: limits,
		decode: make(chan struct{}, limits.MaxConcurrentDecodes),
		memory: semaphore.NewWeighted(limits.DecodeMemory),
	}
}

// Image is an uploaded image that passed validation, spooled to a temporary
// file. It reads from its first byte and can seek, so [Storage.Save] sends it
// without copying it again. Close removes the file.
type Image struct {
	// Kind is the format found in the bytes.
	Kind ImageKind
	// Width and Height are the image's dimensions in pixels.
	Width, Height int
	// Size is the file's length in bytes.
	Size int64

	file *os.File
}

// Read implements io.Reader.
func (im *Image) Read(p []byte) (int, error) { return im.file.Read(p) }

// Seek implements io.Seeker.
func (im *Image) Seek(offset int64, whence int) (int64, error) { return im.file.Seek(offset, whence) }

// ReadAt implements io.ReaderAt.
func (im *Image) ReadAt(p []byte, off int64) (int, error) { return im.file.ReadAt(p, off) }

// Close removes the spooled file.
func (im *Image) Close() error {
	err := im.file.Close()
	if rmErr := os.Remove(im.file.Name()); err == nil {
		err = rmErr
	}
	return err
}

// Validate reads the upload r to a temporary file and checks it is a whole
// JPEG, PNG or WebP image within the limits. Errors wrap [ErrNotImage] (the
// bytes are no accepted format: a text file named .png), [ErrInvalidImage]
// (truncated, corrupt, zero or too many pixels), [ErrTooLarge] (more than
// MaxBytes), or are r's own read error or ctx's. Memory stays bounded: the
// file is copied with a small buffer, and at most MaxConcurrentDecodes images
// are decoded at once. On success the caller owns the [*Image] and closes it.
func (v *ImageValidator) Validate(ctx context.Context, r io.Reader) (*Image, error) {
	kind, rest, err := SniffImage(r)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(v.limits.TempDir, "manouche-image-*")
	if err != nil {
		return nil, fmt.Errorf("storage: image: spool: %w", err)
	}
	im := &Image{Kind: kind, file: f}
	if err := v.check(ctx, im, rest); err != nil {
		_ = im.Close()
		return nil, err
	}
	return im, nil
}

// check spools rest into im's file and validates it.
func (v *ImageValidator) check(ctx context.Context, im *Image, rest io.Reader) error {
	n, err := io.Copy(im.file, ctxReader{ctx, io.LimitReader(rest, v.limits.MaxBytes+1)})
	if err != nil {
		return fmt.Errorf("storage: image: read upload: %w", err)
	}
	if n > v.limits.MaxBytes {
		return fmt.Errorf("storage: image: %w: over %d bytes", ErrTooLarge, v.limits.MaxBytes)
	}
	im.Size = n

	// The header: dimensions, before spending memory on pixels.
	cfg, err := decodeConfig(im.Kind, bufio.NewReaderSize(io.NewSectionReader(im.file, 0, n), decodeBufSize))
	if err != nil {
		return fmt.Errorf("storage: image: %w: %s header: %w", ErrInvalidImage, im.Kind, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("storage: image: %w: %dx%d pixels", ErrInvalidImage, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > v.limits.MaxPixels {
		return fmt.Errorf("storage: image: %w: %dx%d is over %d pixels", ErrInvalidImage, cfg.Width, cfg.Height, v.limits.MaxPixels)
	}
	im.Width, im.Height = cfg.Width, cfg.Height
	need := decodeEstimate(im.Kind, cfg, im.Kind == JPEG && jpegProgressive(im.file, n))
	if need > v.limits.DecodeMemory {
		return fmt.Errorf("storage: image: %w: %dx%d would need about %d MiB to decode, over the %d MiB allowed",
			ErrInvalidImage, cfg.Width, cfg.Height, need>>20, v.limits.DecodeMemory>>20)
	}

	// The container must be whole: a WebP's RIFF header gives its length.
	if im.Kind == WebP {
		if err := checkRIFFLength(im.file, n); err != nil {
			return fmt.Errorf("storage: image: %w: %w", ErrInvalidImage, err)
		}
	}

	// The whole image must decode: Go's decoders reject a JPEG without its
	// end marker, a PNG without IEND or with short pixel data, a WebP with a
	// short chunk.
	if err := v.memory.Acquire(ctx, need); err != nil {
		return fmt.Errorf("storage: image: %w", err)
	}
	defer v.memory.Release(need)
	select {
	case v.decode <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("storage: image: %w", ctx.Err())
	}
	err = decodeAll(im.Kind, bufio.NewReaderSize(io.NewSectionReader(im.file, 0, n), decodeBufSize))
	<-v.decode
	if err != nil {
		return fmt.Errorf("storage: image: %w: %s data: %w", ErrInvalidImage, im.Kind, err)
	}
	if _, err := im.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("storage: image: rewind: %w", err)
	}
	return nil
}

// decodeEstimate is an upper bound of the bytes decoding an image allocates.
func decodeEstimate(kind ImageKind, cfg image.Config, progressive bool) int64 {
	var perPixel int64
	switch cfg.ColorModel {
	case color.GrayModel, color.AlphaModel:
		perPixel = 1
	case color.Gray16Model, color.Alpha16Model:
		perPixel = 2
	case color.YCbCrModel:
		perPixel = 3 // 4:4:4 at most
	case color.NYCbCrAModel, color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		perPixel = 4
	default:
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			perPixel = 1
		} else {
			perPixel = 8 // 64-bit colors, or unknown: the most
		}
	}
	if progressive {
		perPixel *= 5 // plus an int32 coefficient per sample
	}
	return int64(cfg.Width) * int64(cfg.Height) * perPixel
}

// jpegProgressive reports whether the JPEG of n bytes in r is progressive
// (its frame header is SOF2), walking the marker segments before the first
// scan.
func jpegProgressive(r io.ReaderAt, n int64) bool {
	var seg [4]byte
	for off := int64(2); off+4 <= n; {
		if _, err := r.ReadAt(seg[:], off); err != nil || seg[0] != 0xFF {
			return false
		}
		switch marker := seg[1]; {
		case marker == 0xFF: // fill byte
			off++
			continue
		case marker == 0xC2:
			return true
		case marker == 0xC0 || marker == 0xC1 || marker == 0xDA || marker == 0xD9:
			return false // baseline or extended frame, or a scan already
		}
		off += 2 + int64(binary.BigEndian.Uint16(seg[2:4]))
	}
	return false
}

func decodeConfig(kind ImageKind, r io.Reader) (image.Config, error) {
	switch kind {
	case JPEG:
		return jpeg.DecodeConfig(r)
	case PNG:
		return png.DecodeConfig(r)
	case WebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, ErrNotImage
}

func decodeAll(kind ImageKind, r io.Reader) (err error) {
	defer func() {
		// The decoders are meant not to panic on bad input; should one
		// ever do, a hostile upload must still be a 400, not a crash.
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	switch kind {
	case JPEG:
		_, err = jpeg.Decode(r)
	case PNG:
		_, err = png.Decode(r)
	case WebP:
		_, err = webp.Decode(r)
	default:
		err = ErrNotImage
	}
	return err
}

// checkRIFFLength checks that a RIFF file of n bytes is as long as its header
// says (a byte of padding or trailing bytes are tolerated, a missing one is not).
func checkRIFFLength(f io.ReaderAt, n int64) error {
	var head [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return fmt.Errorf("RIFF header: %w", err)
	}
	want := int64(binary.LittleEndian.Uint32(head[4:8])) + 8
	if n < want {
		return fmt.Errorf("truncated: RIFF header says %d bytes, file has %d", want, n)
	}
	return nil
}
