package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeAgent writes a small ELF executable header for machine, with a
// PT_INTERP program header when dynamic: enough for checkBinary, and its
// bytes are what the layer must carry.
func fakeAgent(t *testing.T, machine elf.Machine, dynamic bool) string {
	t.Helper()
	h := elf.Header64{
		Type:    uint16(elf.ET_EXEC),
		Machine: uint16(machine),
		Version: uint32(elf.EV_CURRENT),
		Ehsize:  64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var progs []elf.Prog64
	if dynamic {
		progs = append(progs, elf.Prog64{Type: uint32(elf.PT_INTERP)})
		h.Phoff, h.Phentsize, h.Phnum = 64, 56, 1
	}
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	if err := binary.Write(&buf, binary.LittleEndian, progs); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("meshinsight-agent for " + machine.String())
	path := filepath.Join(t.TempDir(), "meshinsight-agent")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func testSpec(t *testing.T) spec {
	return spec{
		Binaries: map[string]string{
			"linux/amd64": fakeAgent(t, elf.EM_X86_64, false),
			"linux/arm64": fakeAgent(t, elf.EM_AARCH64, false),
		},
		Version:  "v0.3.0",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Source:   source,
		Created:  time.Unix(0, 0).UTC(),
	}
}

// checkIndex checks everything the agent's pod relies on in idx, built from s.
func checkIndex(t *testing.T, idx v1.ImageIndex, s spec) {
	t.Helper()
	if err := validate.Index(idx); err != nil {
		t.Fatalf("invalid index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", im.MediaType, types.OCIImageIndex)
	}
	if got := im.Annotations[labelSource]; got != source {
		t.Errorf("index annotation %s = %q, want %q", labelSource, got, source)
	}
	seen := map[string]bool{}
	for _, desc := range im.Manifests {
		if desc.Platform == nil {
			t.Fatalf("manifest %s has no platform", desc.Digest)
		}
		p := desc.Platform.String()
		seen[p] = true
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if cf.OS+"/"+cf.Architecture != p {
			t.Errorf("%s: config platform %s/%s", p, cf.OS, cf.Architecture)
		}
		if got := strings.Join(cf.Config.Entrypoint, " "); got != "/meshinsight-agent" {
			t.Errorf("%s: entrypoint %q, want /meshinsight-agent", p, got)
		}
		if cf.Config.User != "0" {
			t.Errorf("%s: user %q, want 0", p, cf.Config.User)
		}
		for k, want := range map[string]string{labelVersion: s.Version, labelSource: s.Source, labelRevision: s.Revision} {
			if got := cf.Config.Labels[k]; got != want {
				t.Errorf("%s: label %s = %q, want %q", p, k, got, want)
			}
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(layers) != 1 {
			t.Fatalf("%s: %d layers, want 1", p, len(layers))
		}
		want, err := os.ReadFile(s.Binaries[p])
		if err != nil {
			t.Fatal(err)
		}
		files := layerFiles(t, layers[0])
		agent, ok := files["/meshinsight-agent"]
		switch {
		case !ok:
			t.Errorf("%s: layer has no /meshinsight-agent; has %v", p, keys(files))
		case agent.hdr.Typeflag != tar.TypeReg || agent.hdr.Mode&0o7777 != 0o755:
			t.Errorf("%s: /meshinsight-agent type %c mode %o, want a regular file with mode 755", p, agent.hdr.Typeflag, agent.hdr.Mode)
		case !bytes.Equal(agent.body, want):
			t.Errorf("%s: /meshinsight-agent differs from %s", p, s.Binaries[p])
		}
		if tmp, ok := files["/tmp"]; !ok || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode&0o7777 != 0o1777 {
			t.Errorf("%s: want /tmp as a directory with mode 1777, got %+v", p, tmp.hdr)
		}
	}
	for p := range s.Binaries {
		if !seen[p] {
			t.Errorf("index has no %s image; has %v", p, keys(seen))
		}
	}
	if len(im.Manifests) != len(s.Binaries) {
		t.Errorf("index has %d manifests, want %d", len(im.Manifests), len(s.Binaries))
	}
}

type file struct {
	hdr  tar.Header
	body []byte
}

// layerFiles reads a layer's entries by absolute path.
func layerFiles(t *testing.T, l v1.Layer) map[string]file {
	t.Helper()
	mt, err := l.MediaType()
	if err != nil || mt != types.OCILayer {
		t.Errorf("layer media type %s (%v), want %s", mt, err, types.OCILayer)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return tarFiles(t, rc, func(name string) string { return "/" + strings.Trim(strings.TrimPrefix(name, "./"), "/") })
}

// tarFiles reads the entries of the tar stream r by key(their name); a later
// entry replaces an earlier one of the same key.
func tarFiles(t *testing.T, r io.Reader, key func(name string) string) map[string]file {
	t.Helper()
	files := map[string]file{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[key(hdr.Name)] = file{*hdr, body}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestLayoutRoundTrip(t *testing.T) {
	s := testSpec(t)
	idx, err := buildIndex(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	if err := writeLayout(dir, idx, "ghcr.io/meshinsight/meshinsight-agent", s.Version); err != nil {
		t.Fatal(err)
	}
	// Writing again replaces the layout rather than adding to it.
	if err := writeLayout(dir, idx, "ghcr.io/meshinsight/meshinsight-agent", s.Version); err != nil {
		t.Fatal(err)
	}

	outer, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	om, err := outer.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(om.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(om.Manifests))
	}
	desc := om.Manifests[0]
	if got := desc.Annotations[refName]; got != s.Version {
		t.Errorf("index.json %s = %q, want %q", refName, got, s.Version)
	}
	if got, want := desc.Annotations[containerdName], "ghcr.io/meshinsight/meshinsight-agent:v0.3.0"; got != want {
		t.Errorf("index.json %s = %q, want %q", containerdName, got, want)
	}
	want, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != want {
		t.Errorf("index.json points at %s, want the built index %s", desc.Digest, want)
	}
	read, err := outer.ImageIndex(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, read, s)
}

func TestReproducible(t *testing.T) {
	s := testSpec(t)
	a, err := buildIndex(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildIndex(s)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("two builds of the same binaries: %s and %s", da, db)
	}
}

func TestPushToRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/meshinsight/meshinsight-agent"

	s := testSpec(t)
	idx, err := buildIndex(s)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := pushRef(repo, s.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := push(context.Background(), idx, ref); err != nil {
		t.Fatal(err)
	}

	tag, err := name.NewTag(repo + ":v0.3.0")
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(tag)
	if err != nil {
		t.Fatalf("pulling %s: %v", tag, err)
	}
	want, _ := idx.Digest()
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("pulled index %s, pushed %s", got, want)
	}
	checkIndex(t, pulled, s)
	// What a node pulls: the image of its platform, by the tag.
	img, err := remote.Image(tag, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
	if err != nil {
		t.Fatal(err)
	}
	if cf, err := img.ConfigFile(); err != nil || cf.Architecture != "arm64" {
		t.Errorf("linux/arm64 pull: architecture %v (%v)", cf.Architecture, err)
	}
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	s := testSpec(t)
	tmp := t.TempDir()
	args := []string{
		"-binary", "linux/amd64=" + s.Binaries["linux/amd64"],
		"-binary", "linux/arm64=" + s.Binaries["linux/arm64"],
		"-version", s.Version, "-revision", s.Revision,
		"-o", filepath.Join(tmp, "image"),
		"-tar", filepath.Join(tmp, "image.tar"),
		"-push", host + "/agent:custom",
	}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wrote ghcr.io/meshinsight/meshinsight-agent:v0.3.0@sha256:", "image.tar", "pushed " + host + "/agent:custom@sha256:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	// The archive holds the layout.
	f, err := os.Open(filepath.Join(tmp, "image.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := tarFiles(t, f, func(name string) string { return name })
	for _, n := range []string{"oci-layout", "index.json", "blobs/sha256/"} {
		if _, ok := entries[n]; !ok {
			t.Errorf("archive lacks %s", n)
		}
	}
	custom, err := name.NewTag(host + "/agent:custom")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Index(custom); err != nil {
		t.Errorf("pulling the pushed tag: %v", err)
	}
}

func TestErrors(t *testing.T) {
	amd64 := fakeAgent(t, elf.EM_X86_64, false)
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"wrong machine", []string{"-binary", "linux/arm64=" + amd64}, "not linux/arm64"},
		{"dynamic", []string{"-binary", "linux/amd64=" + fakeAgent(t, elf.EM_X86_64, true)}, "CGO_ENABLED=0"},
		{"missing", []string{"-binary", "linux/amd64=" + filepath.Join(t.TempDir(), "none")}, "make build-agent-all"},
		{"other platform", []string{"-binary", "linux/s390x=" + amd64}, "linux/amd64 and linux/arm64 only"},
		{"bad tag", []string{"-binary", "linux/amd64=" + amd64, "-version", "v1+build"}, "not a valid image tag"},
		{"bad binary flag", []string{"-binary", amd64}, "PLATFORM=PATH"},
		{"digest push", []string{"-binary", "linux/amd64=" + amd64, "-push", "ghcr.io/x/y@sha256:" + strings.Repeat("0", 64)}, "repository:tag"},
		{"directory in use", []string{"-binary", "linux/amd64=" + amd64, "-o", notEmpty}, "not an OCI layout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-version", "v0.3.0", "-o", filepath.Join(t.TempDir(), "image")}, tt.args...)
			err := run(context.Background(), args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(notEmpty, "keep")); err != nil {
		t.Errorf("a directory that is not a layout was cleared: %v", err)
	}
}
