// Command nodeimage builds the single-layer container images of the real-node
// test environment from files of this machine, without a registry or
// Docker, and writes each as a docker-archive tarball for
// `ctr images import`:
//
//	nodeimage -tag localhost/meshinsight-testenv/pause:1 -o pause.tar \
//	  -entrypoint /pause -add bin/pause:/pause
//	nodeimage -tag HUB/proxyv2:TAG -o proxyv2.tar -entrypoint /usr/local/bin/pilot-agent \
//	  -add bin/pilot-agent:/usr/local/bin/pilot-agent -add /usr/sbin/haproxy -libs
//
// -add SRC[:DST] copies a file (following symlinks) or a directory tree;
// with -libs, the shared libraries and the ELF interpreter of every added
// dynamically linked file come along (as ldd resolves them here).
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nodeimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fset := flag.NewFlagSet("nodeimage", flag.ContinueOnError)
	var adds, dirs multi
	tag := fset.String("tag", "", "image reference, e.g. localhost/meshinsight-testenv/pause:1")
	out := fset.String("o", "", "docker-archive tarball to write")
	entrypoint := fset.String("entrypoint", "", "entrypoint (space-separated argv)")
	libs := fset.Bool("libs", false, "also add the shared libraries of added ELF files")
	fset.Var(&adds, "add", "SRC[:DST]: a file or directory tree to add (repeated)")
	fset.Var(&dirs, "dir", "an empty directory to create (repeated)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *tag == "" || *out == "" {
		return errors.New("-tag and -o are required")
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return fmt.Errorf("-tag %q: %w", *tag, err)
	}
	l := &layer{files: map[string]string{}, dirs: map[string]bool{}}
	for _, d := range append(dirs, "/tmp", "/etc", "/proc", "/sys", "/dev", "/run") {
		l.dir(d)
	}
	for _, a := range adds {
		src, dst, ok := strings.Cut(a, ":")
		if !ok {
			dst = src
		}
		if err := l.add(src, dst); err != nil {
			return err
		}
	}
	if *libs {
		if err := l.addLibraries(); err != nil {
			return err
		}
	}
	data, err := l.tar()
	if err != nil {
		return err
	}
	lay, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return fmt.Errorf("building the layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, lay)
	if err != nil {
		return fmt.Errorf("building the image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = v1.Config{Env: []string{"PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Entrypoint: strings.Fields(*entrypoint)}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("setting the image config: %w", err)
	}
	if err := tarball.WriteToFile(*out, ref, img); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	fmt.Printf("%s: %s (%d files)\n", *out, ref, len(l.files))
	return nil
}

// layer collects image paths and the host files that fill them.
type layer struct {
	files map[string]string // image path → host path
	dirs  map[string]bool
}

func (l *layer) dir(p string) {
	for p = path.Clean("/" + p); p != "/"; p = path.Dir(p) {
		l.dirs[p] = true
	}
}

func (l *layer) add(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("-add %s: %w", src, err)
	}
	if !st.IsDir() {
		l.files[path.Clean("/"+dst)] = src
		l.dir(path.Dir("/" + dst))
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := path.Join("/", dst, filepath.ToSlash(rel))
		if d.IsDir() {
			l.dir(target)
			return nil
		}
		l.files[target] = p
		l.dir(path.Dir(target))
		return nil
	})
}

var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)`)

// addLibraries adds what ldd lists for every dynamically linked ELF file,
// at the paths the dynamic loader will look for them.
func (l *layer) addLibraries() error {
	var elfs []string
	for _, host := range l.files {
		if dynamic(host) {
			elfs = append(elfs, host)
		}
	}
	sort.Strings(elfs)
	for _, f := range elfs {
		out, err := exec.Command("ldd", f).Output()
		if err != nil {
			return fmt.Errorf("ldd %s: %w", f, err)
		}
		for _, m := range lddLine.FindAllStringSubmatch(string(out), -1) {
			l.files[m[1]] = m[1]
			l.dir(path.Dir(m[1]))
		}
	}
	return nil
}

// dynamic reports whether f is an ELF file with an interpreter or needed
// libraries.
func dynamic(f string) bool {
	e, err := elf.Open(f)
	if err != nil {
		return false
	}
	defer e.Close()
	libs, _ := e.ImportedLibraries()
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return len(libs) > 0
}

// tar writes the layer: directories, then files (following host symlinks,
// keeping the host file's mode), in a stable order.
func (l *layer) tar() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := make([]string, 0, len(l.dirs))
	for d := range l.dirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: mode}); err != nil {
			return nil, err
		}
	}
	paths := make([]string, 0, len(l.files))
	for p := range l.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := os.ReadFile(l.files[p])
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", l.files[p], err)
		}
		st, err := os.Stat(l.files[p])
		if err != nil {
			return nil, err
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(p, "/"), Mode: int64(st.Mode().Perm()), Size: int64(len(data))}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
