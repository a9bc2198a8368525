package storage_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
)

// noise returns a w×h image of pseudo-random pixels (which compress badly, so
// files are large and every byte matters).
func noise(w, h int, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	return img
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, noise(w, h, 1)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, noise(w, h, 2), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes returns a valid lossless WebP (RIFF "WEBP" with one "VP8L"
// chunk) of w×h pixels all of color c, built by hand since Go has no WebP
// encoder. The VP8L bitstream, least significant bit first, is:
//
//	0x2f                         signature byte
//	14 bits width-1, 14 bits height-1, 1 bit alpha used, 3 bits version 0
//	1 bit 0                      no transform
//	1 bit 0                      no color cache
//	1 bit 0                      no meta prefix codes
//	5 × simple prefix code       green, red, blue, alpha, distance:
//	    1 bit 1 (simple), 1 bit 0 (one symbol), 1 bit 1 (8-bit symbol), 8 bits symbol
//
// A prefix code with one symbol takes zero bits per use, so the pixels
// themselves take no bits: the file stays tiny whatever its size, yet the
// decoder walks every pixel.
func webpBytes(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(1, 1) // alpha is used
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no color cache
	bw.write(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(uint32(sym), 8)
	}
	payload := append([]byte{0x2f}, bw.bytes()...)
	chunkLen := len(payload)
	if chunkLen%2 == 1 {
		payload = append(payload, 0) // RIFF chunks are padded to even length
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(payload)))
	b.WriteString("WEBPVP8L")
	_ = binary.Write(&b, binary.LittleEndian, uint32(chunkLen))
	b.Write(payload)
	return b.Bytes()
}

type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (bw *bitWriter) write(v uint32, n uint) {
	bw.acc |= uint64(v) << bw.nbits
	bw.nbits += n
	for bw.nbits >= 8 {
		bw.buf = append(bw.buf, byte(bw.acc))
		bw.acc >>= 8
		bw.nbits -= 8
	}
}

func (bw *bitWriter) bytes() []byte {
	if bw.nbits > 0 {
		return append(bw.buf, byte(bw.acc))
	}
	return bw.buf
}
