package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"manouche/core/storage"
)

func TestSniffImage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content []byte
		want    storage.ImageKind
	}{
		{"png", pngBytes(t, 4, 4), storage.PNG},
		{"jpeg", jpegBytes(t, 4, 4), storage.JPEG},
		{"webp", webpBytes(4, 4, color.NRGBA{1, 2, 3, 255}), storage.WebP},
		{"text named .png", []byte("this is not an image, whatever its name says"), storage.UnknownImage},
		{"empty", nil, storage.UnknownImage},
		{"two bytes of jpeg", []byte{0xFF, 0xD8}, storage.UnknownImage},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), storage.UnknownImage},
		{"riff but wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), storage.UnknownImage},
		{"html", []byte("<html><script>alert(1)</script></html>"), storage.UnknownImage},
	}
	for _, c := range cases {
		kind, rest, err := storage.SniffImage(bytes.NewReader(c.content))
		if kind != c.want {
			t.Errorf("%s: kind %v, want %v", c.name, kind, c.want)
		}
		if c.want == storage.UnknownImage {
			if !errors.Is(err, storage.ErrNotImage) {
				t.Errorf("%s: err %v, want ErrNotImage", c.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		// The sniffed bytes are given back.
		if all, _ := io.ReadAll(rest); !bytes.Equal(all, c.content) {
			t.Errorf("%s: rest gives %d bytes, want all %d", c.name, len(all), len(c.content))
		}
	}
}

func TestValidateImage(t *testing.T) {
	t.Parallel()
	png := pngBytes(t, 64, 48)
	jpg := jpegBytes(t, 64, 48)
	webp := webpBytes(300, 200, color.NRGBA{10, 20, 30, 255})
	type validateCase struct {
		name    string
		content []byte
		limits  storage.ImageLimits
		kind    storage.ImageKind
		w, h    int
		wantErr error
		wantMsg string // a part of the error's message, when set
	}
	cases := []validateCase{
		{name: "png", content: png, kind: storage.PNG, w: 64, h: 48},
		{name: "jpeg", content: jpg, kind: storage.JPEG, w: 64, h: 48},
		{name: "webp", content: webp, kind: storage.WebP, w: 300, h: 200},
		{name: "text named .png", content: []byte("hello, I am text.\n"), wantErr: storage.ErrNotImage},
		{name: "empty", content: nil, wantErr: storage.ErrNotImage},
		{name: "png signature only", content: png[:8], wantErr: storage.ErrInvalidImage},
		{name: "jpeg header only", content: jpg[:20], wantErr: storage.ErrInvalidImage},
		{name: "webp header only", content: webp[:12], wantErr: storage.ErrInvalidImage},
		{name: "png with garbage pixels", content: corrupt(png, len(png)/2), wantErr: storage.ErrInvalidImage},
		{name: "too many bytes", content: png, limits: storage.ImageLimits{MaxBytes: int64(len(png) - 1)}, wantErr: storage.ErrTooLarge},
		{name: "exactly max bytes", content: png, limits: storage.ImageLimits{MaxBytes: int64(len(png))}, kind: storage.PNG, w: 64, h: 48},
		{name: "too many pixels", content: webp, limits: storage.ImageLimits{MaxPixels: 300*200 - 1}, wantErr: storage.ErrInvalidImage, wantMsg: "pixels"},
		{name: "webp bomb", content: webpBytes(16384, 16384, color.NRGBA{}), wantErr: storage.ErrInvalidImage, wantMsg: "pixels"},
		// 64×48 NRGBA needs 12288 bytes; YCbCr 9216, five times that when progressive.
		{name: "png over decode memory", content: png, limits: storage.ImageLimits{DecodeMemory: 12287}, wantErr: storage.ErrInvalidImage, wantMsg: "to decode"},
		{name: "png within decode memory", content: png, limits: storage.ImageLimits{DecodeMemory: 12288}, kind: storage.PNG, w: 64, h: 48},
		{name: "baseline jpeg within decode memory", content: jpg, limits: storage.ImageLimits{DecodeMemory: 20000}, kind: storage.JPEG, w: 64, h: 48},
		{name: "progressive jpeg over decode memory", content: progressive(t, jpg), limits: storage.ImageLimits{DecodeMemory: 20000}, wantErr: storage.ErrInvalidImage, wantMsg: "to decode"},
	}
	// Every truncation of each format is refused, including losing only the
	// last byte (JPEG's end marker, PNG's IEND checksum, a WebP chunk byte).
	for _, f := range []struct {
		name    string
		content []byte
	}{{"png", png}, {"jpeg", jpg}, {"webp", webp}} {
		for _, cut := range []int{1, 2, 3, 12, len(f.content) / 3, len(f.content) / 2, len(f.content) - 14} {
			cases = append(cases, validateCase{name: f.name + " truncated by " + strconv.Itoa(cut), content: f.content[:len(f.content)-cut], wantErr: storage.ErrInvalidImage})
		}
	}
	tmp := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			limits := c.limits
			limits.TempDir = tmp
			v := storage.NewImageValidator(limits)
			im, err := v.Validate(context.Background(), bytes.NewReader(c.content))
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !strings.Contains(fmt.Sprint(err), c.wantMsg) {
					t.Fatalf("Validate: %v, want %v (%q)", err, c.wantErr, c.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			defer func() { _ = im.Close() }()
			if im.Kind != c.kind || im.Width != c.w || im.Height != c.h || im.Size != int64(len(c.content)) {
				t.Fatalf("got %v %dx%d %d bytes, want %v %dx%d %d bytes", im.Kind, im.Width, im.Height, im.Size, c.kind, c.w, c.h, len(c.content))
			}
			if all, _ := io.ReadAll(im); !bytes.Equal(all, c.content) {
				t.Fatalf("the image reads %d bytes, want the %d uploaded", len(all), len(c.content))
			}
		})
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("spool files left after Close and after failures: %v", left)
	}
}

// A validated image goes to either backend without a second copy and reads
// back the same; the content type follows the bytes.
func TestValidateThenSave(t *testing.T) {
	t.Parallel()
	jpg := jpegBytes(t, 40, 30)
	v := storage.NewImageValidator(storage.ImageLimits{})
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			im, err := v.Validate(context.Background(), bytes.NewReader(jpg))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = im.Close() }()
			// The client called it .png; the stored name follows the content.
			clientName := "holiday.png"
			name := "avatars/" + strings.TrimSuffix(clientName, ".png") + im.Kind.Ext()
			stored, err := b.st.Save(context.Background(), name, im, storage.SaveOptions{ContentType: im.Kind.ContentType()})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(stored, "-holiday.jpg") {
				t.Errorf("stored as %q", stored)
			}
			if got := readAll(t, b.st, stored); !bytes.Equal(got, jpg) {
				t.Errorf("read back %d bytes, want %d", len(got), len(jpg))
			}
		})
	}
}

func TestValidateStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v := storage.NewImageValidator(storage.ImageLimits{TempDir: t.TempDir()})
	if _, err := v.Validate(ctx, bytes.NewReader(pngBytes(t, 8, 8))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Validate with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestImageKind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		k               storage.ImageKind
		str, ctype, ext string
	}{
		{storage.JPEG, "jpeg", "image/jpeg", ".jpg"},
		{storage.PNG, "png", "image/png", ".png"},
		{storage.WebP, "webp", "image/webp", ".webp"},
		{storage.UnknownImage, "unknown", "application/octet-stream", ""},
	} {
		if c.k.String() != c.str || c.k.ContentType() != c.ctype || c.k.Ext() != c.ext {
			t.Errorf("%d: %q %q %q", c.k, c.k.String(), c.k.ContentType(), c.k.Ext())
		}
	}
}

// progressive returns a copy of a baseline JPEG whose frame header says
// progressive (SOF2): enough for the memory estimate, not a decodable image.
func progressive(t *testing.T, jpg []byte) []byte {
	t.Helper()
	c := bytes.Clone(jpg)
	i := bytes.Index(c, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 marker in the test JPEG")
	}
	c[i+1] = 0xC2
	return c
}

// corrupt returns a copy of b with 64 bytes from off overwritten.
func corrupt(b []byte, off int) []byte {
	c := bytes.Clone(b)
	for i := off; i < off+64 && i < len(c); i++ {
		c[i] ^= 0x5a
	}
	return c
}
