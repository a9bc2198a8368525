package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"manouche/settings"
)

// FileSettings is the file backend's settings section.
type FileSettings struct {
	// Path is the folder the .eml files are written to (EMAIL_FILE_PATH).
	Path string `setting:"EMAIL_FILE_PATH"`
}

// Validate implements settings.Validator.
func (s *FileSettings) Validate(*settings.Settings) []string {
	if strings.TrimSpace(s.Path) == "" {
		return []string{"EMAIL_FILE_PATH is required with the file mail backend: set the folder the .eml files go to"}
	}
	return nil
}

func init() {
	Register("file", Module[FileSettings]{
		Settings: FileSettings{Path: "sent-emails"},
		Open: func(_ context.Context, s *FileSettings, _ *settings.Settings) (Backend, error) {
			return NewFile(s.Path)
		},
	})
}

// File writes each message to its own .eml file in a folder, like Django's
// file backend; mail clients open .eml files directly.
type File struct {
	dir string
}

// NewFile returns a File backend writing into dir, creating it if needed.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, fmt.Errorf("mail: file backend: no folder set (EMAIL_FILE_PATH)")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mail: file backend: %w", err)
	}
	return &File{dir: dir}, nil
}

// Send writes msg to DIR/<time>-<random>.eml.
func (f *File) Send(ctx context.Context, msg *Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: file: %w", err)
	}
	if err := msg.Validate(); err != nil {
		return err
	}
	b, err := msg.Bytes()
	if err != nil {
		return err
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := filepath.Join(f.dir, time.Now().UTC().Format("20060102-150405.000000000")+"-"+hex.EncodeToString(r[:])+".eml")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("mail: file: write: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("mail: file: %w", err)
	}
	return nil
}

var _ Backend = (*File)(nil)
