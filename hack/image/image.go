package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entrypoint is where the agent binary sits in the image.
const entrypoint = "/meshinsight-agent"

// OCI label and annotation keys (opencontainers/image-spec annotations.md).
const (
	labelVersion  = "org.opencontainers.image.version"
	labelSource   = "org.opencontainers.image.source"
	labelRevision = "org.opencontainers.image.revision"
	labelTitle    = "org.opencontainers.image.title"
	refName       = "org.opencontainers.image.ref.name"
	// containerdName names the image on `ctr import` and `docker load`.
	containerdName = "io.containerd.image.name"
)

// spec describes one build of the agent image.
type spec struct {
	// Binaries maps a platform ("linux/amd64") to its statically linked agent.
	Binaries map[string]string
	// Version is the tag and the org.opencontainers.image.version label.
	Version string
	// Revision is the git commit, Source the repository URL.
	Revision, Source string
	// Created stamps the config, history and file times, so that the same
	// binaries give the same digests.
	Created time.Time
}

// tagRE is the distribution spec's tag grammar.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// elfMachines are the platforms the agent is built for. It loads eBPF
// programs compiled for these two (bpf2go's bpfel objects), so nothing else.
var elfMachines = map[string]elf.Machine{
	"linux/amd64": elf.EM_X86_64,
	"linux/arm64": elf.EM_AARCH64,
}

// buildIndex builds the multi-platform image index of the agent.
func buildIndex(s spec) (v1.ImageIndex, error) {
	if !tagRE.MatchString(s.Version) {
		return nil, fmt.Errorf("version %q is not a valid image tag", s.Version)
	}
	if len(s.Binaries) == 0 {
		return nil, errors.New("no agent binaries given")
	}
	platforms := make([]string, 0, len(s.Binaries))
	for p := range s.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("parsing platform %q: %w", p, err)
		}
		img, err := buildImage(*platform, s.Binaries[p], s)
		if err != nil {
			return nil, fmt.Errorf("building the %s image: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: platform},
		})
	}
	// Registries show a multi-platform image by its index, not by the
	// configs of its images: ghcr.io links the package to its repository
	// through the source annotation here.
	annotated, ok := mutate.Annotations(idx, s.labels()).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the image index: not an index")
	}
	return annotated, nil
}

// labels are the config labels and index annotations.
func (s spec) labels() map[string]string {
	l := map[string]string{
		labelTitle:   "meshinsight-agent",
		labelVersion: s.Version,
		labelSource:  s.Source,
	}
	if s.Revision != "" {
		l[labelRevision] = s.Revision
	}
	return l
}

// buildImage builds the image of one platform: no base, one layer.
func buildImage(platform v1.Platform, binary string, s spec) (v1.Image, error) {
	if err := checkBinary(binary, platform); err != nil {
		return nil, err
	}
	layer, err := agentLayer(binary, s.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: s.Created}, CreatedBy: "hack/image: " + entrypoint + " and /tmp"},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the agent layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Created = v1.Time{Time: s.Created}
	cf.Config = v1.Config{
		Entrypoint: []string{entrypoint},
		WorkingDir: "/",
		// Root (uid 0), because the agent's work is root's: loading eBPF
		// programs and attaching tracepoints and perf sampling needs
		// CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8), reading
		// kernel symbol addresses CAP_SYSLOG, and reading the proxies'
		// /proc/PID/maps and binaries (owned by other users) for symbols
		// needs ptrace access to them. A non-root user
		// gets none of this without file capabilities, which an image with
		// no base can't usefully carry; the privileges are granted, and
		// audited, in the pod's securityContext.
		User:   "0",
		Labels: s.labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the image config: %w", err)
	}
	return img, nil
}

// checkBinary rejects what would not run in an image without a base: a binary
// for another machine, or one needing a dynamic loader (built with cgo).
func checkBinary(path string, platform v1.Platform) error {
	want, ok := elfMachines[platform.OS+"/"+platform.Architecture]
	if !ok {
		return fmt.Errorf("platform %s: the agent is built for linux/amd64 and linux/arm64 only", platform)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading agent binary %s: %w (build it with make build-agent-all)", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("agent binary %s is for %s, not %s: build it with GOARCH=%s", path, f.Machine, platform, platform.Architecture)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("agent binary %s is dynamically linked and the image has no libc: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// agentLayer is the image's only layer: the agent binary, and /tmp, where the
// agent makes its working directories (os.MkdirTemp) and which an image
// without a base would otherwise not have.
func agentLayer(binary string, created time.Time) (v1.Layer, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading agent binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	entries := []struct {
		hdr  tar.Header
		body []byte
	}{
		{tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, nil},
		{tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(entrypoint, "/"), Mode: 0o755, Size: int64(len(bin))}, bin},
	}
	for _, e := range entries {
		e.hdr.ModTime, e.hdr.Format = created, tar.FormatPAX
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", e.hdr.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("writing layer entry %s: %w", e.hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing the layer: %w", err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	return layer, nil
}

// writeLayout writes idx as an OCI image layout in dir, tagged tag and named
// repo:tag, replacing an earlier layout there. It refuses to clear a
// directory that holds anything but a layout.
func writeLayout(dir string, idx v1.ImageIndex, repo, tag string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", dir, err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("%s is not empty and not an OCI layout: choose another -o", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the previous layout: %w", err)
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	err = p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		refName:        tag,
		containerdName: repo + ":" + tag,
	}))
	if err != nil {
		return fmt.Errorf("writing the image to %s: %w", dir, err)
	}
	return nil
}

// writeTar archives the layout in dir as file (what `docker load`, `podman
// load` and skopeo's oci-archive: read), with fixed times and owners.
func writeTar(dir, file string, created time.Time) (err error) {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("creating %s: %w", file, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing %s: %w", file, cerr)
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = created, 0, 0, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return fmt.Errorf("archiving %s into %s: %w", dir, file, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", file, err)
	}
	return nil
}

// pushRef resolves where to push: a repository gets the version as its tag;
// a reference with a tag is used as it is.
func pushRef(ref, version string) (name.Tag, error) {
	if repo, err := name.NewRepository(ref); err == nil {
		return repo.Tag(version), nil
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("-push %q: want a repository (ghcr.io/meshinsight/meshinsight-agent) or repository:tag: %w", ref, err)
	}
	return tag, nil
}

// push uploads idx and its images to ref, with the credentials of
// `docker login` (~/.docker/config.json) or of a credential helper.
func push(ctx context.Context, idx v1.ImageIndex, ref name.Tag) error {
	err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}
