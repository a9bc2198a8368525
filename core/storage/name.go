package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"
)

// Limits on names, chosen to fit every file system (255 bytes per segment) and
// S3 (1024 bytes per key).
const (
	maxNameLen    = 1024 // whole stored name, in bytes
	maxSegmentLen = 255  // one segment of a stored name
	maxDirLen     = 512  // the directory part given to Save or SafeName
	maxStemLen    = 100  // the client's file name, without extension, once sanitized
	maxExtLen     = 10   // the extension, without its dot
	randomLen     = 16   // random bytes in a stored name (32 hex digits)
)

// SafeName returns a fresh unique name for a file the client calls filename,
// stored under the application's directory dir ("" for the root):
// dir + "/" + 32 random hex digits + "-" + the sanitized filename, such as
// "avatars/3f9c0a...-photo.png".
//
// dir is trusted to be chosen by the application, and checked strictly: it
// must be empty or slash-separated segments of ASCII letters, digits, '.',
// '_' and '-', none empty, none starting with '.', so "..", absolute paths,
// backslashes and NUL bytes give [ErrInvalidName].
//
// filename may come from a client: any directories in it (slash or backslash)
// are stripped, as are leading dots; characters other than ASCII letters,
// digits, '.', '_' and '-' become '_'; the stem is cut to 100 bytes and the
// extension (lowercased) to 10. A NUL byte gives [ErrInvalidName]. An empty
// result becomes "file".
func SafeName(dir, filename string) (string, error) {
	if err := checkDir(dir); err != nil {
		return "", err
	}
	if strings.IndexByte(filename, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL byte in file name", ErrInvalidName)
	}
	var random [randomLen]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("storage: random name: %w", err)
	}
	base := hex.EncodeToString(random[:]) + "-" + cleanFilename(filename)
	if dir == "" {
		return base, nil
	}
	return dir + "/" + base, nil
}

// splitName splits the name given to Save into its directory, checked by
// SafeName, and its last segment, the client's file name.
func splitName(name string) (dir, filename string, err error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", "", fmt.Errorf("%w: NUL byte in %q", ErrInvalidName, name)
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return "", "", fmt.Errorf("%w: absolute path %q", ErrInvalidName, name)
	}
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name, nil
	}
	return name[:i], name[i+1:], nil
}

// checkDir validates the application-chosen directory part of a name.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	if len(dir) > maxDirLen {
		return fmt.Errorf("%w: directory longer than %d bytes", ErrInvalidName, maxDirLen)
	}
	for seg := range strings.SplitSeq(dir, "/") {
		if seg == "" || seg[0] == '.' || len(seg) > maxSegmentLen {
			return fmt.Errorf("%w: directory %q: empty, hidden, '..' or too long segment", ErrInvalidName, dir)
		}
		for i := 0; i < len(seg); i++ {
			if !safeByte(seg[i]) {
				return fmt.Errorf("%w: directory %q: character %q not allowed", ErrInvalidName, dir, seg[i])
			}
		}
	}
	return nil
}

// CheckName validates a stored name before Open, Delete, Exists, Size or URL
// use it, returning an error wrapping [ErrInvalidName] when it is unsafe: empty,
// longer than 1024 bytes, not UTF-8, absolute, with a backslash, a control
// byte, or an empty, hidden ('.' first, so also "..") or over-long segment.
// Names Save returns always pass; names stored by other tools (a migrated
// Django media folder with non-ASCII letters, say) pass as long as they are
// safe.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidName)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalidName, maxNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: name is not UTF-8", ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("%w: character %q in %q", ErrInvalidName, c, name)
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg[0] == '.' || len(seg) > maxSegmentLen {
			return fmt.Errorf("%w: %q has an empty, absolute, hidden, '..' or too long segment", ErrInvalidName, name)
		}
	}
	return nil
}

// cleanFilename makes a client's file name safe: see SafeName.
func cleanFilename(filename string) string {
	if i := strings.LastIndexAny(filename, `/\`); i >= 0 {
		filename = filename[i+1:]
	}
	stem, ext := filename, ""
	if i := strings.LastIndexByte(filename, '.'); i > 0 {
		stem, ext = filename[:i], strings.ToLower(sanitize(filename[i+1:], false))
	}
	if len(ext) > maxExtLen {
		ext = ext[:maxExtLen]
	}
	stem = strings.Trim(sanitize(stem, true), "._-")
	if len(stem) > maxStemLen {
		stem = strings.TrimRight(stem[:maxStemLen], "._-")
	}
	if stem == "" {
		stem = "file"
	}
	if ext == "" {
		return stem
	}
	return stem + "." + ext
}

// sanitize replaces each run of unsafe characters with one '_' (keepDots) or
// drops them (for extensions, which keep only letters and digits).
func sanitize(s string, keepDots bool) string {
	var b strings.Builder
	b.Grow(len(s))
	lastUnderscore := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
			b.WriteByte(c)
			lastUnderscore = false
		case keepDots && safeByte(c):
			b.WriteByte(c)
			lastUnderscore = c == '_'
		case keepDots && !lastUnderscore:
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func safeByte(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' }

// contentType returns opts' content type, else one guessed from name's extension.
func contentType(name string, opts SaveOptions) string {
	if opts.ContentType != "" {
		return opts.ContentType
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		if t := mime.TypeByExtension(name[i:]); t != "" {
			return t
		}
	}
	return "application/octet-stream"
}
