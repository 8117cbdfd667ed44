// Package inputfile reads the files a user names on the command line (call
// graphs, profiles, speed-ups, traces) and standard input, each with a size
// limit, so that a wrong path fails fast with a clear error instead of
// exhausting memory or hanging: a device (/dev/zero, /dev/stdin), a FIFO or
// a socket is refused before it is opened, and no read goes past the limit
// however large the file is or grows while it is read.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrTooLarge is wrapped by the errors about input over its limit.
var ErrTooLarge = errors.New("input too large")

// ErrNotRegular is wrapped by the errors about paths that are not regular
// files.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the regular file at path, failing when it holds more than
// limit bytes; what labels errors ("call graph", "profile" …).
func ReadFile(path, what string, limit int64) ([]byte, error) {
	// Stat before opening: opening a FIFO blocks until something writes.
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if err := regular(path, what, info); err != nil {
		return nil, err
	}
	if info.Size() > limit {
		return nil, tooLarge(path, what, limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	} else if err := regular(path, what, info); err != nil {
		return nil, err // replaced since the first look
	}
	return readLimited(f, path, what, limit)
}

// Read reads r (standard input) to its end, failing once more than limit
// bytes arrive; name labels errors ("<stdin>").
func Read(r io.Reader, name, what string, limit int64) ([]byte, error) {
	return readLimited(r, name, what, limit)
}

// Regular reports, for a file found while walking a directory, whether it
// is a regular file (symbolic links followed); others are skipped.
func Regular(path string, d fs.DirEntry) bool {
	if d.Type().IsRegular() {
		return true
	}
	if d.Type()&fs.ModeSymlink == 0 {
		return false
	}
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

func readLimited(r io.Reader, name, what string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %q: %w", what, name, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(name, what, limit)
	}
	return data, nil
}

func regular(path, what string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	kind := "special file"
	switch m := info.Mode(); {
	case m.IsDir():
		kind = "directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "named pipe"
	case m&fs.ModeSocket != 0:
		kind = "socket"
	case m&fs.ModeDevice != 0 || m&fs.ModeCharDevice != 0:
		kind = "device"
	}
	return fmt.Errorf("%s %q is a %s, %w: give the path of a file", what, path, kind, ErrNotRegular)
}

func tooLarge(name, what string, limit int64) error {
	size := fmt.Sprintf("%d bytes", limit)
	if limit >= 1<<20 {
		size = fmt.Sprintf("%d MiB", limit>>20)
	}
	return fmt.Errorf("%s %q holds more than %s, the most a %s may have (%w): is it the right file?", what, name, size, what, ErrTooLarge)
}
