package storage

import (
	"fmt"
	"io"
	"os"
)

// sizedBody is an upload body whose length is known and which can be rewound
// (for retries and request signing), without holding it in memory.
type sizedBody struct {
	io.ReadSeeker
	size  int64 // bytes from start to the end
	start int64 // offset of the first byte to send
	temp  *os.File
}

// close removes the spool file, if one was made.
func (b *sizedBody) close() {
	if b.temp != nil {
		_ = b.temp.Close()
		_ = os.Remove(b.temp.Name())
	}
}

// rewind moves back to the first byte to send.
func (b *sizedBody) rewind() error {
	_, err := b.Seek(b.start, io.SeekStart)
	return err
}

// newSizedBody uses r directly when it can seek (an *os.File, an [*Image], a
// multipart file), measuring what is left of it; otherwise it streams r into a
// temporary file in tempDir ("" for the system's) with a fixed-size buffer.
func newSizedBody(r io.Reader, tempDir string) (*sizedBody, error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			var end int64
			end, err = rs.Seek(0, io.SeekEnd)
			if err == nil {
				_, err = rs.Seek(start, io.SeekStart)
			}
			if err == nil {
				return &sizedBody{ReadSeeker: rs, size: end - start, start: start}, nil
			}
		}
		// A reader that claims to seek but cannot (a pipe as *os.File):
		// spool it like any stream.
	}
	f, err := os.CreateTemp(tempDir, "manouche-spool-*")
	if err != nil {
		return nil, fmt.Errorf("storage: spool upload: %w", err)
	}
	b := &sizedBody{ReadSeeker: f, temp: f}
	n, err := io.Copy(f, r)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		b.close()
		return nil, fmt.Errorf("storage: spool upload: %w", err)
	}
	b.size = n
	return b, nil
}
