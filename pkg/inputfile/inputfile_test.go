package inputfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Issue #13 item 9: devices and FIFOs are refused before they are opened
// (opening a FIFO blocks, /dev/zero never ends), and no file is read past
// its limit.
func TestReadFileRefusesWhatIsNoFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{"/dev/zero": "device", fifo: "named pipe", dir: "directory"} {
		_, err := ReadFile(path, "call graph", 1<<20)
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), `call graph "`+path+`" is a `+kind) {
			t.Errorf("%s: err = %v", path, err)
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4<<20 + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadFile(path, "profile", 4<<20)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 4 MiB") {
		t.Errorf("err = %v", err)
	}
	if err := os.Truncate(path, 10); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(path, "profile", 4<<20); err != nil || len(b) != 10 {
		t.Errorf("small file: %d bytes, %v", len(b), err)
	}
}

// endless is a reader that never ends, like a pipe from /dev/zero.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	e.read += int64(len(p))
	return len(p), nil
}

func TestReadStopsAtTheLimit(t *testing.T) {
	r := &endless{}
	_, err := Read(r, "<stdin>", "call graph", 1<<20)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if r.read > 2<<20 {
		t.Errorf("read %d bytes for a limit of 1 MiB", r.read)
	}
	if b, err := Read(strings.NewReader("abc"), "<stdin>", "call graph", 1<<20); err != nil || string(b) != "abc" {
		t.Errorf("%q, %v", b, err)
	}
	_, err = Read(io.MultiReader(strings.NewReader("x"), errReader{}), "<stdin>", "call graph", 10)
	if err == nil || !strings.Contains(err.Error(), `reading call graph "<stdin>": boom`) {
		t.Errorf("err = %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }
